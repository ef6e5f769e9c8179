use super::*;

#[test]
fn save_then_load_round_trips_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.json");
    let mut ef05 = BTreeMap::new();
    ef05.insert("07".to_owned(), HexBytes(b"X00000019".to_vec()));
    let image = CardImage {
        generation: 3,
        ef05,
        ef06: BTreeMap::new(),
        photo: HexBytes(vec![0xFF, 0xD8]),
        pin: "123456".into(),
        initial_pin: "123456".into(),
        pin_max_tries: 3,
        pin_tries_left: 2,
        lcs: Some(4),
    };
    image.save_atomically(&path).unwrap();
    assert_eq!(CardImage::load(&path).unwrap(), image);
    assert!(!dir.path().join("card.json.tmp").exists());
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"07\": \"583030303030303139\""), "{text}");
}

#[test]
fn garbage_is_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    fs::write(&path, "{").unwrap();
    let err = CardImage::load(&path).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "{err}");
}
