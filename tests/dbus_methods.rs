//! Every Manager1 and Reader1 method against gen2 and gen3 cards, through
//! sscardd on a private bus: with the project's own zbus proxies, and with
//! busctl, a client no one here wrote. Results are checked field by field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use serde_json::Value as Json;
use support::bench::Slot;
use support::client::*;

const PHOTO_LEN: usize = 1500;

fn profile(generation: u8) -> &'static str {
    if generation == 3 { "ssse-gen3" } else { "ssse-gen2" }
}

/// The card-info keys and values after personalising with `holder_dict`.
fn expected_holder(generation: u8) -> Vec<(&'static str, String)> {
    vec![
        ("card_type", "3".into()),
        ("spec_version", if generation == 3 { "3.00" } else { "2.00" }.into()),
        ("issuer", "SZ-CARD-CTR".into()),
        ("issue_date", "2026-11-25".into()),
        ("expiry_date", "2036-11-25".into()),
        ("card_number", "X00000019".into()),
        ("ssn", SSN.into()),
        ("name", "阿卜杜热合曼·买买提艾力·克里木江".into()),
        ("sex", "2".into()),
        ("birthplace", "653101".into()),
        ("birth_date", "1949-12-31".into()),
    ]
}

async fn every_method(generation: u8) {
    let rig = Rig::new(generation, true).await;
    let card_path = rig.reader_path(Slot::Card).await;
    let sam_path = rig.reader_path(Slot::Sam).await;
    let reader = rig.reader(Slot::Card).await;

    // Manager1.
    let manager = rig.manager().await;
    let readers = manager.list_readers().await.expect("ListReaders");
    assert_eq!(readers.len(), 2, "{readers:?}");
    assert!(readers.contains(&(card_path.clone(), rig.bench.reader_name(Slot::Card))));
    assert!(readers.contains(&(sam_path.clone(), rig.bench.reader_name(Slot::Sam))));
    assert_eq!(manager.find_card().await.expect("FindCard"), card_path);
    assert_eq!(manager.version().await.expect("Version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(manager.sam_reader().await.expect("SamReader"), sam_path);
    let mut profiles = manager.profiles().await.expect("Profiles");
    profiles.sort();
    assert_eq!(profiles, ["ssse-gen2", "ssse-gen3"]);

    // Reader1 properties.
    assert_eq!(reader.name().await.expect("Name"), rig.bench.reader_name(Slot::Card));
    assert!(reader.card_present().await.expect("CardPresent"));
    assert!(!reader.atr().await.expect("Atr").is_empty());
    assert_eq!(reader.card_kind().await.expect("CardKind"), "ssse");
    assert_eq!(reader.profile().await.expect("Profile"), profile(generation));
    assert!(!reader.busy().await.expect("Busy"));

    // A blank card: only the identifier, and the state.
    let blank = reader.read_card(no_opts()).await.expect("ReadCard");
    let card_id = text(&blank, "card_id").expect("card_id");
    assert_eq!(card_id.len(), 32);
    assert!(card_id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()), "{card_id}");
    assert_eq!(text(&blank, "region").as_deref(), Some("110100"));
    assert_eq!(text(&blank, "state").as_deref(), Some("blank"));
    assert_eq!(text(&blank, "profile").as_deref(), Some(profile(generation)));
    assert_eq!(text(&blank, "terminal_number").as_deref(), Some("440300000001"));
    assert_eq!(uint(&blank, "pin_tries_left"), Some(3));
    for unwritten in ["ssn", "name", "sex", "nation", "card_number", "issue_date", "photo", "authentic"] {
        assert!(!blank.contains_key(unwritten), "a blank card reports {unwritten}");
    }
    let historical = text(&blank, "atr_historical").expect("atr_historical");
    let atr = reader.atr().await.expect("Atr");
    // The historical bytes end the ATR, before TCK on T=1.
    let atr_hex = hex::encode_upper(&atr);
    assert!(
        atr_hex.ends_with(&historical) || atr_hex[..atr_hex.len() - 2].ends_with(&historical),
        "{historical} vs {atr_hex}"
    );

    // Personalise: the digest is the model's, the APDU count what both
    // simulators logged during the call.
    let before = rig.logged(Slot::Card).len() + rig.logged(Slot::Sam).len();
    let written = reader.write_holder_record(holder_dict(generation, Some(PHOTO_LEN)), no_opts()).await.expect("Write");
    let sent = rig.logged(Slot::Card).len() + rig.logged(Slot::Sam).len() - before;
    let expected_digest = support::terminal::holder_record(generation, PHOTO_LEN).digest_hex();
    assert_eq!(text(&written, "digest"), Some(expected_digest));
    assert_eq!(uint(&written, "apdus"), Some(sent as u32));
    assert_eq!(written.len(), 2);

    // Read it back, every field, with the photo and INTERNAL AUTHENTICATE.
    let info = reader.read_card(opts(&[("photo", true), ("authenticate", true)])).await.expect("ReadCard");
    for (key, value) in expected_holder(generation) {
        assert_eq!(text(&info, key).as_deref(), Some(value.as_str()), "{key}");
    }
    assert_eq!(byte(&info, "nation"), Some(5));
    assert_eq!(text(&info, "card_id"), Some(card_id.clone()));
    assert_eq!(bytes(&info, "photo"), Some(jpeg(PHOTO_LEN)));
    assert_eq!(boolean(&info, "authentic"), Some(true));
    let state = if generation == 3 { "inactive" } else { "unknown" };
    assert_eq!(text(&info, "state").as_deref(), Some(state));

    // PIN status, and VERIFY: wrong, then right.
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    assert_eq!(reader.verify_pin("654321", no_opts()).await.expect("VerifyPin"), (false, 2));
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (2, false));
    assert_eq!(reader.verify_pin(INITIAL_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));

    // Activate: the new PIN works, the initial one no longer does.
    let activated = reader.activate(SSN, INITIAL_PIN, NEW_PIN, no_opts()).await.expect("Activate");
    assert_eq!(text(&activated, "state").as_deref(), Some("active"));
    assert_eq!(text(&activated, "ssn").as_deref(), Some(SSN));
    assert_eq!(uint(&activated, "pin_tries_left"), Some(3));
    assert_eq!(reader.verify_pin(NEW_PIN, no_opts()).await.expect("VerifyPin"), (true, 3));
    let after = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&after, "state").as_deref(), Some(if generation == 3 { "active" } else { "unknown" }));

    // ChangePin, then ReloadPin (operator) and UnblockPin.
    reader.change_pin(NEW_PIN, "274816", no_opts()).await.expect("ChangePin");
    assert_eq!(reader.verify_pin("274816", no_opts()).await.expect("VerifyPin"), (true, 3));
    reader.reload_pin("385927", no_opts()).await.expect("ReloadPin");
    assert_eq!(reader.verify_pin("385927", no_opts()).await.expect("VerifyPin"), (true, 3));
    assert_eq!(reader.verify_pin("000000", no_opts()).await.expect("VerifyPin"), (false, 2));
    reader.unblock_pin(no_opts()).await.expect("UnblockPin");
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("GetPinStatus"), (3, false));
    assert!(!reader.busy().await.expect("Busy"));
}

#[tokio::test]
async fn every_method_on_gen3() {
    every_method(3).await;
}

#[tokio::test]
async fn every_method_on_gen2() {
    every_method(2).await;
}

/// `busctl --json=short call …`'s answer: the reply's arguments.
fn busctl_call(rig: &Rig, path: &str, interface: &str, method: &str, args: &[&str]) -> Vec<Json> {
    let mut all = vec!["--json=short", "call", "org.sscard.Daemon", path, interface, method];
    all.extend_from_slice(args);
    let (ok, out, err) = rig.bus.busctl(&all);
    assert!(ok, "busctl {method}: {err}");
    if out.trim().is_empty() {
        return Vec::new();
    }
    let reply: Json = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("busctl {method}: {e}: {out}"));
    reply["data"].as_array().cloned().unwrap_or_default()
}

/// The error busctl prints for a failed call.
fn busctl_error(rig: &Rig, path: &str, method: &str, args: &[&str]) -> String {
    let mut all = vec!["call", "org.sscard.Daemon", path, "org.sscard.Reader1", method];
    all.extend_from_slice(args);
    let (ok, _, err) = rig.bus.busctl(&all);
    assert!(!ok, "busctl {method} succeeded");
    err
}

fn dict_text<'a>(dict: &'a Json, key: &str) -> Option<&'a str> {
    dict[key]["data"].as_str()
}

async fn through_busctl(generation: u8) {
    let rig = Rig::new(generation, true).await;
    let path = rig.reader_path(Slot::Card).await.to_string();
    const MANAGER: &str = "org.sscard.Manager1";

    let readers = busctl_call(&rig, "/org/sscard/Daemon", MANAGER, "ListReaders", &[]);
    let listed = readers[0].as_array().expect("a(os)");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|r| r[0] == path.as_str() && r[1] == rig.bench.reader_name(Slot::Card).as_str()));
    let found = busctl_call(&rig, "/org/sscard/Daemon", MANAGER, "FindCard", &[]);
    assert_eq!(found[0], path.as_str());
    let (ok, kind, _) = rig.bus.busctl(&["get-property", "org.sscard.Daemon", &path, "org.sscard.Reader1", "CardKind"]);
    assert!(ok);
    assert_eq!(kind.trim(), "s \"ssse\"");

    // Write three holder keys with busctl's own a{sv} syntax.
    let written = busctl_call(
        &rig,
        &path,
        "org.sscard.Reader1",
        "WriteHolderRecord",
        &[
            "a{sv}a{sv}",
            "4",
            "ssn",
            "s",
            SSN,
            "sex",
            "s",
            "2",
            "birth_date",
            "s",
            "1949-12-31",
            "nation",
            "y",
            "5",
            "0",
        ],
    );
    let digest = dict_text(&written[0], "digest").expect("digest");
    assert_eq!(digest.len(), 64);
    assert!(written[0]["apdus"]["data"].as_u64().is_some_and(|n| n > 5));

    let read = busctl_call(&rig, &path, "org.sscard.Reader1", "ReadCard", &["a{sv}", "0"]);
    let info = &read[0];
    assert_eq!(dict_text(info, "ssn"), Some(SSN));
    assert_eq!(dict_text(info, "sex"), Some("2"));
    assert_eq!(dict_text(info, "birth_date"), Some("1949-12-31"));
    assert_eq!(info["nation"]["type"], "y");
    assert_eq!(info["nation"]["data"], 5);
    assert_eq!(info["pin_tries_left"]["type"], "u");
    assert_eq!(info["pin_tries_left"]["data"], 3);
    assert_eq!(dict_text(info, "profile"), Some(profile(generation)));
    assert!(info.get("name").is_none(), "an unwritten name is left out: {info}");

    let status = busctl_call(&rig, &path, "org.sscard.Reader1", "GetPinStatus", &["a{sv}", "0"]);
    assert_eq!(status, [Json::from(3), Json::from(false)]);
    let verified = busctl_call(&rig, &path, "org.sscard.Reader1", "VerifyPin", &["sa{sv}", "111111", "0"]);
    assert_eq!(verified, [Json::from(false), Json::from(2)]);
    let verified = busctl_call(
        &rig,
        &path,
        "org.sscard.Reader1",
        "VerifyPin",
        &["sa{sv}", INITIAL_PIN, "1", "allow_last_try", "b", "false"],
    );
    assert_eq!(verified, [Json::from(true), Json::from(3)]);
    let activated =
        busctl_call(&rig, &path, "org.sscard.Reader1", "Activate", &["sssa{sv}", SSN, INITIAL_PIN, NEW_PIN, "0"]);
    assert_eq!(dict_text(&activated[0], "state"), Some("active"));
    busctl_call(&rig, &path, "org.sscard.Reader1", "ChangePin", &["ssa{sv}", NEW_PIN, "274816", "0"]);
    busctl_call(&rig, &path, "org.sscard.Reader1", "ReloadPin", &["sa{sv}", "385927", "0"]);
    busctl_call(&rig, &path, "org.sscard.Reader1", "UnblockPin", &["a{sv}", "0"]);
    let verified = busctl_call(&rig, &path, "org.sscard.Reader1", "VerifyPin", &["sa{sv}", "385927", "0"]);
    assert_eq!(verified, [Json::from(true), Json::from(3)]);

    // Errors reach busctl by name.
    let err = busctl_error(&rig, &path, "ReadCard", &["a{sv}", "1", "colour", "b", "true"]);
    assert!(err.contains("colour"), "{err}");
    let err = busctl_error(&rig, &path, "ChangePin", &["ssa{sv}", "000000", "482913", "0"]);
    assert!(err.to_lowercase().contains("wrong pin"), "{err}");
}

#[tokio::test]
async fn busctl_drives_gen3() {
    through_busctl(3).await;
}

#[tokio::test]
async fn busctl_drives_gen2() {
    through_busctl(2).await;
}
