//! Cards pulled out mid-call: inserting a card image with the simulator's
//! `--remove-after`, and checking the bench after the removal; what a
//! pulled card may hold, on the bench and in process alike.

use std::path::Path;
use std::time::Duration;

use sscard_client::Dict;
use sscard_model::Ssn;
use sscard_sim::{CardImage, UserCard};

use super::bench::Slot;
use super::client::{Rig, holder_dict, string_value, text};

pub const SERIAL: &str = "0102030405060708";

/// Inserts the card of `image` (a fresh blank one when the file is
/// missing), pulled out at its `remove_after`-th APDU if given.
pub async fn insert(rig: &mut Rig, generation: u8, image: &Path, remove_after: Option<usize>) {
    let image_arg = image.to_string_lossy().into_owned();
    let n = remove_after.map(|n| n.to_string()).unwrap_or_default();
    let mut args = vec!["--image", image_arg.as_str(), "--serial", SERIAL];
    if remove_after.is_some() {
        args.extend(["--remove-after", n.as_str()]);
    }
    let _ = std::fs::remove_file(rig.card_log(Slot::Card));
    rig.insert_card(Slot::Card, generation, &args).await;
}

/// The card's APDUs so far.
pub fn count(rig: &Rig) -> usize {
    rig.logged(Slot::Card).len()
}

pub fn load(path: &Path) -> CardImage {
    let image = CardImage::load(path).unwrap_or_else(|e| panic!("torn image: {e}"));
    UserCard::from_image(image.clone()).unwrap_or_else(|e| panic!("inconsistent image: {e}"));
    image
}

/// Stops the card of an uninterrupted run, saving its image.
pub async fn take_out(rig: &mut Rig) {
    rig.bench.remove(Slot::Card);
    rig.wait_kind(Slot::Card, "none").await;
}

/// After the call that lost its card: the simulator ended by itself, the
/// daemon saw the removal, and still answers.
pub async fn after_removal(rig: &mut Rig, what: &str) {
    assert_eq!(rig.bench.wait_exit(Slot::Card, Duration::from_secs(10)), Some(0), "{what}: simulator exit");
    rig.wait_kind(Slot::Card, "none").await;
    assert!(rig.daemon.running(), "{what}: the daemon died");
    let manager = rig.manager().await;
    assert_eq!(manager.list_readers().await.expect("ListReaders").len(), 2, "{what}");
}

/// Every record of `now` equals the one in `old` or in `new`.
pub fn old_or_new(now: &CardImage, old: &CardImage, new: &CardImage, what: &str) {
    for (file, now_map, old_map, new_map) in
        [("EF05", &now.ef05, &old.ef05, &new.ef05), ("EF06", &now.ef06, &old.ef06, &new.ef06)]
    {
        let tags: std::collections::BTreeSet<_> = now_map.keys().chain(old_map.keys()).chain(new_map.keys()).collect();
        for tag in tags {
            let v = now_map.get(tag);
            assert!(v == old_map.get(tag) || v == new_map.get(tag), "{what}: {file}/{tag} is neither old nor new");
        }
    }
    // gen2 writes the photo in 255-byte UPDATE BINARY chunks (T=0 takes no
    // longer command), each atomic: a pulled card holds the new chunks up
    // to some boundary and the old ones after it. gen3 writes it in one.
    let chunk = if now.generation == 2 { 255 } else { now.photo.0.len().max(1) };
    let len = now.photo.0.len().max(old.photo.0.len()).max(new.photo.0.len());
    let byte = |img: &CardImage, i: usize| img.photo.0.get(i).copied().unwrap_or(0);
    let torn = (0..=len.div_ceil(chunk)).all(|k| {
        let cut = (k * chunk).min(len);
        (0..len).any(|i| byte(now, i) != if i < cut { byte(new, i) } else { byte(old, i) })
    });
    assert!(!torn, "{what}: EF08 is not new up to a chunk boundary and old after it");
}

// A card left half-personalised: record A (`holder_dict`), then record B.

/// Record B's holder: male, born 1985-06-15, a name with no extension.
pub const NAME_B: &str = "李四";
pub const BIRTH_DATE_B: &str = "1985-06-15";

pub fn ssn_b() -> String {
    let digits = "44030519850615013";
    format!("{digits}{}", Ssn::check_character(digits).expect("17 digits"))
}

/// Record B: every key of `holder_dict` (record A), with another holder.
pub fn record_b(generation: u8) -> Dict {
    let mut d = holder_dict(generation, None);
    for (k, v) in [("ssn", ssn_b().as_str()), ("name", NAME_B), ("sex", "1"), ("birth_date", BIRTH_DATE_B)] {
        d.insert(k.to_owned(), string_value(v));
    }
    d
}

/// The `inconsistent` lines of a card-info dictionary; `None` without the key.
pub fn inconsistent(info: &Dict) -> Option<Vec<String>> {
    let value = info.get("inconsistent")?;
    Some(Vec::<String>::try_from(value.try_clone().expect("clone")).expect("inconsistent is as"))
}

/// The card-info keys of the holder.
pub fn holder(info: &Dict) -> [Option<String>; 4] {
    ["ssn", "name", "sex", "birth_date"].map(|k| text(info, k))
}

/// The 1-based index, among the card's APDUs, of the UPDATE RECORD of `tag`.
pub fn update_record_index(log: &[String], tag: u8) -> usize {
    let head = format!("00DC{tag:02X}30");
    let at = log.iter().position(|apdu| apdu.starts_with(&head));
    at.unwrap_or_else(|| panic!("no UPDATE RECORD of tag {tag:02X} in {log:#?}")) + 1
}
