//! The shipped profiles load; a broken one is refused at load time with
//! the file, line and column, never at first use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use sscard_ops::Engine;

fn shipped() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/apdu-scripts"))
}

/// A copy of the shipped profiles to break.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for profile in ["ssse-gen2", "ssse-gen3"] {
        let to = dir.path().join(profile);
        fs::create_dir_all(&to).expect("mkdir");
        for entry in fs::read_dir(shipped().join(profile)).expect("read profile") {
            let path = entry.expect("entry").path();
            fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    dir
}

fn load_error(dir: &Path) -> String {
    match Engine::load(dir) {
        Ok(_) => panic!("a broken profile loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_shipped_profiles_load() {
    let engine = Engine::load(&shipped()).expect("shipped profiles");
    let names: Vec<&str> = engine.profiles().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ssse-gen2", "ssse-gen3"]);
}

#[test]
fn a_typo_in_a_script_is_refused_with_its_position() {
    let dir = copy();
    let file = dir.path().join("ssse-gen3/verify.apdu");
    fs::write(&file, "secret pin\ncard: 00 20 00 00 [${pni}]\n").expect("write");
    let err = load_error(dir.path());
    assert!(err.ends_with("ssse-gen3/verify.apdu:2:22: expected an input, a profile constant or an earlier capture, found undefined name \"pni\""), "{err}");
}

#[test]
fn a_missing_script_is_refused() {
    let dir = copy();
    fs::remove_file(dir.path().join("ssse-gen2/unblock-pin.apdu")).expect("rm");
    let err = load_error(dir.path());
    assert!(err.contains("missing script unblock-pin.apdu, which operation unblock_pin needs"), "{err}");
}

#[test]
fn an_input_the_operation_does_not_give_is_refused() {
    let dir = copy();
    fs::write(dir.path().join("ssse-gen2/verify.apdu"), "secret pin pin2\ncard: 00 20 00 00 [${pin} ${pin2}]\n")
        .expect("write");
    let err = load_error(dir.path());
    assert!(err.contains("input \"pin2\" is not one that operation verify_pin gives (it gives pin)"), "{err}");
}

#[test]
fn a_broken_manifest_is_refused() {
    let dir = copy();
    let manifest = dir.path().join("ssse-gen3/profile.toml");
    let text = fs::read_to_string(&manifest).expect("read");
    fs::write(&manifest, text.replace("\"63Cx\" = \"wrong-pin\"", "\"63Cx\" = \"wrong-pn\"")).expect("write");
    let err = load_error(dir.path());
    assert!(err.contains("profile.toml: status.63Cx: unknown outcome \"wrong-pn\""), "{err}");
}

#[test]
fn two_profiles_that_recognise_the_same_cards_are_refused() {
    let dir = copy();
    let manifest = dir.path().join("ssse-gen2/profile.toml");
    let text = fs::read_to_string(&manifest).expect("read");
    let text =
        text.replace("algorithm = \"01\"", "algorithm = \"03\"").replace("life_cycle = false", "life_cycle = true");
    fs::write(&manifest, text.replace("spec_version = \"2.00\"", "spec_version = \"3.00\"")).expect("write");
    let err = load_error(dir.path());
    assert!(err.contains("recognise the same cards"), "{err}");
}

#[test]
fn an_include_cycle_is_refused() {
    let dir = copy();
    fs::write(dir.path().join("ssse-gen3/card-id.apdu"), "include read-card\n").expect("write");
    let err = load_error(dir.path());
    assert!(err.contains("no include cycle"), "{err}");
}

#[test]
fn a_profile_missing_a_capture_the_operations_read_is_refused_with_its_position() {
    let dir = copy();
    let identify = dir.path().join("ssse-gen3/identify.apdu");
    let text = fs::read_to_string(&identify).expect("read");
    assert!(text.contains("=> fci"), "the shipped script captures the FCI");
    fs::write(&identify, text.replace("=> fci", "")).expect("write");
    let e = load_error(dir.path());
    // The SELECT is the script's last (and only) step, on line 5.
    assert!(e.contains("ssse-gen3/identify.apdu:5:1"), "{e}");
    assert!(e.contains("reads \"fci\"") && e.contains("=> fci"), "{e}");
}

#[test]
fn an_unknown_spec_version_is_refused() {
    let dir = copy();
    let manifest = dir.path().join("ssse-gen3/profile.toml");
    let text = fs::read_to_string(&manifest).expect("read");
    fs::write(&manifest, text.replace("spec_version = \"3.00\"", "spec_version = \"4.00\"")).expect("write");
    let e = load_error(dir.path());
    assert!(e.contains("profile.toml") && e.contains("identify.spec_version") && e.contains("3.00 or 2.00"), "{e}");
}

#[test]
fn an_unknown_effect_is_refused_with_its_position() {
    let dir = copy();
    let verify = dir.path().join("ssse-gen2/verify.apdu");
    let text = fs::read_to_string(&verify).expect("read");
    fs::write(&verify, text.replace("effect spends-pin-try", "effect spends-a-try")).expect("write");
    let e = load_error(dir.path());
    assert!(e.contains("ssse-gen2/verify.apdu:2:8"), "{e}");
    assert!(e.contains("spends-a-try") && e.contains("spends-pin-try"), "{e}");
}

#[test]
fn an_hsm_script_that_does_not_yield_what_its_operation_hands_out_is_refused() {
    let dir = copy();
    let script = dir.path().join("ssse-gen2/hsm-read.apdu");
    let text = fs::read_to_string(&script).expect("read");
    assert!(text.contains("yield algorithm card_id key factor original"), "{text}");
    fs::write(
        &script,
        text.replace("yield algorithm card_id key factor original", "yield algorithm card_id key factor"),
    )
    .expect("write");
    let e = load_error(dir.path());
    assert!(e.contains("ssse-gen2/hsm-read.apdu:") && e.contains("never yields") && e.contains("\"original\""), "{e}");
}

#[test]
fn an_hsm_check_with_an_unknown_outcome_is_refused_with_its_position() {
    let dir = copy();
    let script = dir.path().join("ssse-gen3/hsm-unblock-pin.apdu");
    let text = fs::read_to_string(&script).expect("read");
    let line = text.lines().position(|l| l.starts_with("check ${apdu[0..5]}")).expect("the header check") + 1;
    fs::write(&script, text.replace("else not-issued", "else ignore")).expect("write");
    let e = load_error(dir.path());
    assert!(e.contains(&format!("ssse-gen3/hsm-unblock-pin.apdu:{line}:")) && e.contains("an outcome"), "{e}");
}

#[test]
fn the_short_apdu_stand_ins_replace_their_scripts_wherever_they_are_included() {
    let engine = Engine::load(&shipped()).expect("shipped profiles");
    let gen3 = engine.profiles().iter().find(|p| p.name == "ssse-gen3").expect("gen3");
    let step_count = |name: &str, extended: bool| gen3.script_for(name, extended).map(|s| s.steps().count());
    // read-card-photo includes photo-data: one step there, two (the first
    // chunk and the loop's) in the stand-in.
    let with = step_count("read-card-photo", true).unwrap();
    let without = step_count("read-card-photo", false).unwrap();
    assert_eq!(without, with + 1, "read-card-photo with photo-data-short");
    assert_eq!(step_count("read-card", false), step_count("read-card", true));
    // gen2 takes only short APDUs anyway: no stand-ins.
    let gen2 = engine.profiles().iter().find(|p| p.name == "ssse-gen2").expect("gen2");
    assert!(gen2.short_scripts.is_empty());
}

#[test]
fn a_stand_in_that_differs_from_its_script_is_refused() {
    // Other inputs than the script it stands in for.
    let dir = copy();
    fs::write(
        dir.path().join("ssse-gen3/write-photo-short.apdu"),
        "input photo_file ef05_01\ncard: 00 D6 88 00 [${photo_file}]\n",
    )
    .expect("write");
    let err = load_error(dir.path());
    assert!(err.contains("short-apdus.write-photo: write-photo-short.apdu takes [ef05_01, photo_file], not the same inputs as write-photo.apdu ([photo_file])"), "{err}");
    // A capture the script makes and the stand-in does not.
    let dir = copy();
    fs::write(dir.path().join("ssse-gen3/photo-data-short.apdu"), "card: 00 B0 88 00 FF => photo\n").expect("write");
    let err = load_error(dir.path());
    assert!(err.contains("short-apdus.photo-data: photo-data-short.apdu never captures \"photo_file\""), "{err}");
    // A stand-in that is not there.
    let dir = copy();
    fs::remove_file(dir.path().join("ssse-gen3/photo-data-short.apdu")).expect("rm");
    let err = load_error(dir.path());
    assert!(err.contains("short-apdus.photo-data: no script photo-data-short.apdu"), "{err}");
}
