//! The Manager1 and Reader1 methods against gen2 and gen3 cards, through
//! sscardd on a private bus, with busctl: a client no one here wrote, on a
//! real bus. With the project's own proxies, every method is checked field
//! by field in process (`dbus_in_process_methods`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use serde_json::Value as Json;
use support::bench::Slot;
use support::client::*;

fn profile(generation: u8) -> &'static str {
    if generation == 3 { "ssse-gen3" } else { "ssse-gen2" }
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

// Bench only: busctl on a real bus.
#[tokio::test]
async fn busctl_drives_gen3() {
    through_busctl(3).await;
}

// Bench only: busctl on a real bus.
#[tokio::test]
async fn busctl_drives_gen2() {
    through_busctl(2).await;
}
