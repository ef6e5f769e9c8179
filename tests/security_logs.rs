//! PIN hygiene and the audit trail, proven on a full workflow with the
//! daemon logging at `trace`: no PIN (in ASCII, hex or BCD, as text or as
//! bytes), no SSN and no name appears in any log line, and every call left
//! one complete audit event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use support::bench::Slot;
use support::client::*;

const INITIAL: &str = "472913";
const NEW: &str = "580264";
const CHANGED: &str = "639175";
const RELOADED: &str = "716482";
const WRONG: &str = "904317";
const NAME: &str = "阿卜杜热合曼·买买提艾力·克里木江";

/// Every form in which a secret could leak into a log.
fn forms(secret: &str) -> Vec<String> {
    let ascii_hex = hex::encode(secret.as_bytes());
    let mut out = vec![secret.to_owned(), ascii_hex.clone(), ascii_hex.to_uppercase()];
    // As byte lists, the way Debug prints a Vec<u8>.
    out.push(format!("{:?}", secret.as_bytes()));
    if secret.bytes().all(|b| b.is_ascii_digit()) {
        // BCD, two digits a byte (its hex text is the digits themselves).
        let bcd: Vec<u8> = secret.as_bytes().chunks(2).map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0')).collect();
        out.push(format!("{bcd:?}"));
        out.push(format!("{bcd:02X?}"));
    }
    out
}

#[tokio::test]
async fn no_pin_ssn_or_name_in_trace_logs_and_every_call_audited() {
    let mut rig = Rig::empty_logged(2, &["--config", &config_file()], "trace").await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &["--initial-pin", INITIAL]).await;
    let reader = rig.reader(Slot::Card).await;

    let mut calls: Vec<(&str, &str)> = Vec::new();
    reader.write_holder_record(holder_dict(3, Some(900)), no_opts()).await.expect("write");
    calls.push(("WriteHolderRecord", "success"));
    reader.read_card(opts(&[("photo", true), ("authenticate", true)])).await.expect("read");
    calls.push(("ReadCard", "success"));
    assert_eq!(reader.verify_pin(WRONG, no_opts()).await.expect("verify"), (false, 2));
    calls.push(("VerifyPin", "WrongPin"));
    reader.activate(SSN, INITIAL, NEW, no_opts()).await.expect("activate");
    calls.push(("Activate", "success"));
    assert_eq!(reader.verify_pin(NEW, no_opts()).await.expect("verify"), (true, 3));
    calls.push(("VerifyPin", "success"));
    reader.change_pin(NEW, CHANGED, no_opts()).await.expect("change");
    calls.push(("ChangePin", "success"));
    assert_eq!(error_name(reader.change_pin(WRONG, NEW, no_opts()).await), "WrongPin");
    calls.push(("ChangePin", "WrongPin"));
    reader.reload_pin(RELOADED, no_opts()).await.expect("reload");
    calls.push(("ReloadPin", "success"));
    reader.unblock_pin(no_opts()).await.expect("unblock");
    calls.push(("UnblockPin", "success"));
    assert_eq!(error_name(reader.change_pin(RELOADED, "111111", no_opts()).await), "InvalidArgument");
    calls.push(("ChangePin", "InvalidArgument"));
    reader.get_pin_status(no_opts()).await.expect("status");
    calls.push(("GetPinStatus", "success"));

    rig.daemon.stop();
    let log = rig.daemon.log_text();
    assert!(log.lines().count() > 100, "the trace log is suspiciously short");
    assert!(log.contains("TRACE"), "not logging at trace level");

    let mut secrets: Vec<String> = Vec::new();
    for pin in [INITIAL, NEW, CHANGED, RELOADED, WRONG] {
        secrets.extend(forms(pin));
    }
    let pins = secrets.clone();
    secrets.extend(forms(SSN));
    secrets.push(NAME.to_owned());
    let (gbk, _, _) = encoding_rs::GBK.encode(NAME);
    secrets.push(hex::encode_upper(&gbk[..8]));
    secrets.push(hex::encode(&gbk[..8]));
    for line in log.lines() {
        // The timestamp's digits could spell anything; it is not data.
        let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
        for secret in &secrets {
            assert!(!body.contains(secret.as_str()), "a log line holds {secret:?}: {line}");
        }
    }

    // The simulators' APDU logs (a test tool's, which show the card's data)
    // redact PIN data too: VERIFY, CHANGE and RELOAD PIN, and the PSAM's MAC
    // input of a RELOAD.
    for slot in [Slot::Card, Slot::Sam] {
        let sim_log = std::fs::read_to_string(rig.card_log(slot)).expect("simulator log");
        assert!(sim_log.contains("redacted"), "{slot:?}: nothing was redacted");
        for line in sim_log.lines() {
            let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
            for secret in &pins {
                assert!(!body.contains(secret.as_str()), "{slot:?} log holds {secret:?}: {line}");
            }
        }
    }
    // One audit event per call, in order, each complete.
    let audit: Vec<&str> = log.lines().filter(|l| l.contains("sscard::audit")).collect();
    assert_eq!(audit.len(), calls.len(), "{audit:#?}");
    let pid = std::process::id().to_string();
    for (line, (operation, outcome)) in audit.iter().zip(&calls) {
        let field = |name: &str| {
            line.split(&format!(" {name}=")).nth(1).map(|rest| {
                let value = rest.split(' ').next().unwrap_or_default();
                value.trim_matches('"').to_owned()
            })
        };
        assert_eq!(field("operation").as_deref(), Some(*operation), "{line}");
        assert_eq!(field("outcome").as_deref(), Some(*outcome), "{line}");
        assert_eq!(field("uid").as_deref(), Some("0"), "{line}");
        assert_eq!(field("pid").as_deref(), Some(pid.as_str()), "{line}");
        assert!(line.contains(&format!("reader=\"{}\"", rig.bench.reader_name(Slot::Card))), "{line}");
        let card = field("card").unwrap_or_default();
        assert_eq!(card.len(), 64, "{line}");
        assert!(card.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
        let apdus: u64 = field("apdus").and_then(|a| a.parse().ok()).unwrap_or(u64::MAX);
        if *outcome == "InvalidArgument" {
            assert_eq!(apdus, 0, "{line}");
        } else {
            assert!(apdus > 0 && apdus < 200, "{line}");
        }
        assert!(!line.contains("X00000019"), "the card number itself is in the audit trail: {line}");
    }
    // The card is named the same way throughout once it has its number.
    let hashes: std::collections::BTreeSet<String> = audit[1..]
        .iter()
        .filter_map(|l| l.split(" card=").nth(1).map(|r| r.split(' ').next().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
}

/// A configuration with an audit salt.
fn config_file() -> String {
    let path = std::env::temp_dir().join(format!("sscardd-logs-{}.toml", std::process::id()));
    std::fs::write(&path, "audit_salt = \"bench salt 1\"\nterminal_device = \"T0001\"\n").expect("config");
    path.to_string_lossy().into_owned()
}
