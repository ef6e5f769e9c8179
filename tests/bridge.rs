//! sscard-bridge as a page uses it: the bridge on a free loopback port over
//! sscardd on a private bus and the bench's cards, driven by Python's
//! `websockets` (tests/python/bridge_client.py), a client no one here wrote.
//! The national dialect, JSON-RPC and its notifications, the security rules
//! of `docs/unified-interface.md` section 8 (each refusal checked to reach
//! no card), and the log at trace level scanned for PINs, SSN and name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::bench::Slot;
use support::bridge::Bridge;
use support::client::*;

const REGION: &str = "440305";
const SERIAL: &str = "0102030405060708";
const CARD_ID: &str = "440305D1560000050102030405060708";
const CARD_INFO: &str = "440305D1560000050102030405060708|X00000019|";
const NAME: &str = "张三";
/// The system's Python, where Debian's python3-websockets is installed
/// (scripts/setup).
const PYTHON: &str = "/usr/bin/python3";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/bridge_client.py")
}

/// Runs the client with `args` and `input` on its standard input; its
/// output lines as JSON.
fn client(args: &[&str], input: &str) -> Vec<Value> {
    let mut child = Command::new(PYTHON)
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("client input");
    let out = child.wait_with_output().expect("client");
    assert!(out.status.success(), "client {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Sends `requests` on one connection; the answers in order.
fn calls(bridge: &Bridge, requests: &[Value]) -> Vec<Value> {
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let answers = client(&["calls", &bridge.url()], &input);
    assert_eq!(answers.len(), requests.len(), "{answers:?}");
    answers
}

fn assert_success(answer: &Value, function: &str) -> String {
    assert_eq!(answer["functionName"], function, "{answer}");
    assert_eq!(answer["success"], "1", "{answer}");
    answer["pOutInfo"].as_str().expect("pOutInfo").to_owned()
}

fn assert_failure(answer: &Value, code: &str) {
    assert_eq!(answer["success"], code, "{answer}");
    assert!(!answer["pOutInfo"].as_str().unwrap_or_default().is_empty(), "{answer}");
}

fn temp_dir() -> PathBuf {
    tempfile::tempdir().expect("dir").keep()
}

/// A bench with a PSAM (when asked) and a personalised card of
/// `generation` whose identifier is [`CARD_ID`] and PIN `pin`.
async fn rig(generation: u8, with_sam: bool, pin: &str, filter: &str) -> Rig {
    let mut rig = Rig::empty_logged(2, &[], filter).await;
    if with_sam {
        rig.insert_sam().await;
    }
    rig.insert_card(Slot::Card, generation, &["--region", REGION, "--serial", SERIAL, "--initial-pin", pin]).await;
    let mut record = holder_dict(generation, Some(600));
    record.insert("name".into(), string_value(NAME));
    let reader = rig.reader(Slot::Card).await;
    if with_sam || generation == 2 {
        reader.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord");
    }
    rig
}

fn expected_bas(generation: u8, terminal_number: &str) -> Vec<String> {
    let (atr, version) = if generation == 3 { ("80730000C0", "3.00") } else { ("00814E43238697159900BF7C7A", "2.00") };
    [REGION, SSN, "X00000019", CARD_ID, NAME, atr, version, "20261125", "20361125", terminal_number, ""]
        .map(str::to_owned)
        .to_vec()
}

fn bas_fields(out: &str) -> Vec<String> {
    let body = out.strip_suffix('|').unwrap_or_else(|| panic!("the last field ends with |: {out}"));
    body.split('|').map(str::to_owned).collect()
}

async fn national_dialect(generation: u8) {
    let rig = rig(generation, true, "472913", "debug").await;
    let mut bridge = Bridge::start(&rig.bus.address(), &temp_dir(), "debug", &[]);
    let answers = calls(
        &bridge,
        &[
            json!({"function": "iReadCardBas", "iType": 3}),
            // Numbers sent as strings are accepted.
            json!({"function": "iReadCardBas", "iType": "3"}),
            json!({"function": "iReadCard", "iType": "1", "iAuthType": "2", "pCardInfo": CARD_INFO,
                   "pFileAddr": "SSSEEF05|07|$SSSEEF06|08|09|$"}),
            json!({"function": "iWriteCard", "iType": 3, "pCardInfo": CARD_INFO, "pFileAddr": "SSSEEF05|07|$",
                   "pWriteData": "SSSEEF05|X00000020|$"}),
            json!({"function": "iReadCard", "iType": 3, "iAuthType": 1,
                   "pCardInfo": "440305D1560000050102030405060708|X00000020|", "pFileAddr": "SSSEEF05|07|$"}),
            // The old card number is no longer the card's: -22.
            json!({"function": "iReadCard", "iType": 3, "iAuthType": 1, "pCardInfo": CARD_INFO,
                   "pFileAddr": "SSSEEF05|07|$"}),
            // An HSM Step2 without its Step1 on this connection: -14.
            json!({"function": "iReadCardBas_HSM_Step2", "pkey": "00|00|"}),
            json!({"function": "iDoDebit"}),
            json!({"function": "iReadCardBas", "iType": 2}),
            json!({"function": "iVerifyPIN", "iType": "3", "pin": "472913"}),
            // No PIN in the request: the bridge's PIN source, here a
            // pinentry that cannot start (-11).
            json!({"function": "iVerifyPIN", "iType": 3}),
        ],
    );
    let terminal_number = "440300000001";
    for answer in &answers[..2] {
        let out = assert_success(answer, "iReadCardBas");
        assert_eq!(bas_fields(&out), expected_bas(generation, terminal_number), "{out}");
    }
    assert_eq!(assert_success(&answers[2], "iReadCard"), format!("SSSEEF05|X00000019|$SSSEEF06|{SSN}|{NAME}|$"));
    assert_eq!(assert_success(&answers[3], "iWriteCard"), "");
    assert_eq!(assert_success(&answers[4], "iReadCard"), "SSSEEF05|X00000020|$");
    assert_failure(&answers[5], "-22");
    assert_failure(&answers[6], "-14");
    assert_eq!(answers[6]["functionName"], "iReadCardBas_HSM_Step2");
    assert_failure(&answers[7], "-13");
    assert_failure(&answers[8], "-1");
    assert_eq!(assert_success(&answers[9], "iVerifyPIN"), "");
    assert_failure(&answers[10], "-11");
    bridge.stop();
}

#[tokio::test]
async fn national_dialect_on_gen3() {
    national_dialect(3).await;
}

#[tokio::test]
async fn national_dialect_on_gen2() {
    national_dialect(2).await;
}

/// A gen3 card with no PSAM: -2201 in the dialect, `NoSam` in JSON-RPC's
/// error.data; no APDU reaches the card.
#[tokio::test]
async fn gen3_without_psam_is_2201_and_nosam() {
    let rig = rig(3, false, "472913", "debug").await;
    let bridge = Bridge::start(&rig.bus.address(), &temp_dir(), "debug", &[]);
    let before = rig.logged(Slot::Card).len();
    let answers = calls(
        &bridge,
        &[
            json!({"function": "iReadCardBas", "iType": 3}),
            json!({"jsonrpc": "2.0", "id": 7, "method": "ReadCard", "params": {}}),
            json!({"jsonrpc": "2.0", "id": 8, "method": "NoSuchMethod"}),
        ],
    );
    assert_failure(&answers[0], "-2201");
    assert_eq!(answers[0]["pOutInfo"].as_str().map(|s| s.contains("无PSAM卡")), Some(true), "{}", answers[0]);
    assert_eq!(answers[1]["id"], 7);
    assert_eq!(answers[1]["error"]["code"], -32000, "{}", answers[1]);
    assert_eq!(answers[1]["error"]["data"]["name"], "NoSam", "{}", answers[1]);
    assert_eq!(answers[2]["error"]["code"], -32601, "{}", answers[2]);
    assert_eq!(rig.logged(Slot::Card).len(), before, "an APDU reached the card");
}

#[tokio::test]
async fn json_rpc_reads_and_notifies() {
    let mut rig = rig(3, true, "472913", "debug").await;
    let bridge = Bridge::start(&rig.bus.address(), &temp_dir(), "debug", &[]);
    let path = rig.reader_path(Slot::Card).await.to_string();
    let answers = calls(
        &bridge,
        &[
            json!({"jsonrpc": "2.0", "id": 1, "method": "ReadCard", "params": {"photo": true, "authenticate": true}}),
            json!({"jsonrpc": "2.0", "id": "two", "method": "GetPinStatus", "params": {"reader": path}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "VerifyPin", "params": {"pin": "000000"}}),
            json!({"jsonrpc": "2.0", "id": 4, "method": "ChangePin",
                   "params": {"oldPin": "472913", "newPin": "111111"}}),
            json!({"jsonrpc": "2.0", "id": 5, "method": "ListReaders"}),
            json!({"jsonrpc": "2.0", "id": 6, "method": "Activate",
                   "params": {"ssn": SSN, "initialPin": "472913", "newPin": "580264", "allowLastTry": true}}),
            json!({"jsonrpc": "2.0", "id": 7, "method": "ReloadPin", "params": {"newPin": "639175"}}),
            json!({"jsonrpc": "2.0", "id": 8, "method": "UnblockPin"}),
            json!({"jsonrpc": "2.0", "id": 9, "method": "WriteHolderRecord",
                   "params": {"record": {"card_number": "X00000020", "nation": 1, "photo": "/9j/2Q=="}}}),
            json!({"jsonrpc": "2.0", "id": 10, "method": "VerifyPin", "params": {"pin": "639175"}}),
            json!({"jsonrpc": "2.0", "id": 11, "method": "ReadCard", "params": {"photo": true}}),
        ],
    );
    assert_eq!(answers[5]["result"]["state"], "active", "{}", answers[5]);
    assert_eq!(answers[6], json!({"jsonrpc": "2.0", "id": 7, "result": null}));
    assert_eq!(answers[7], json!({"jsonrpc": "2.0", "id": 8, "result": null}));
    let written = &answers[8]["result"];
    assert_eq!(written["digest"].as_str().map(str::len), Some(64), "{}", answers[8]);
    assert!(written["apdus"].as_u64().is_some_and(|n| n > 0), "{written}");
    assert_eq!(answers[9]["result"], json!({"ok": true, "tries_left": 3}));
    assert_eq!(answers[10]["result"]["card_number"], "X00000020");
    assert_eq!(answers[10]["result"]["nation"], 1);
    assert_eq!(answers[10]["result"]["photo"], "/9j/2Q==");
    let card = &answers[0]["result"];
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(card["card_id"], CARD_ID, "{card}");
    assert_eq!(card["ssn"], SSN);
    assert_eq!(card["name"], NAME);
    assert_eq!(card["nation"], 5);
    assert_eq!(card["authentic"], true);
    // The legacy line, as iReadCardBas gives it.
    let line = card["basic_line"].as_str().expect("basic_line");
    assert_eq!(bas_fields(line), expected_bas(3, "440300000001"), "{line}");
    let photo = card["photo"].as_str().expect("photo as base64");
    assert_eq!(base64_len(photo), 600, "{photo}");
    assert_eq!(answers[1], json!({"jsonrpc": "2.0", "id": "two", "result": {"tries_left": 3, "blocked": false}}));
    assert_eq!(answers[2]["result"], json!({"ok": false, "tries_left": 2}));
    assert_eq!(answers[3]["error"]["data"]["name"], "InvalidArgument", "{}", answers[3]);
    let readers = answers[4]["result"].as_array().expect("readers");
    let card_reader = readers.iter().find(|r| r["path"] == path.as_str()).unwrap_or_else(|| panic!("{readers:?}"));
    assert_eq!(card_reader["card"], "ssse", "{readers:?}");
    assert!(readers.iter().any(|r| r["card"] == "psam"), "the PSAM's reader says psam: {readers:?}");

    // Notifications: the card leaves and comes back.
    let mut watch = Command::new(PYTHON)
        .arg(script())
        .args(["watch", &bridge.url(), "2", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    assert_eq!(next_json(&mut lines), json!({"ready": true}));
    // A signal forged by another client on the bus (here, the test's own
    // connection) is not the daemon's: it never reaches the page, so the
    // first notification is the real removal.
    let forged = "/org/sscard/Daemon/reader/forged";
    rig.conn.emit_signal(None::<()>, forged, "org.sscard.Reader1", "CardRemoved", &()).await.expect("forged signal");
    rig.bench.remove(Slot::Card);
    let removed = next_json(&mut lines);
    assert_eq!(removed, json!({"jsonrpc": "2.0", "method": "CardRemoved", "params": {"reader": path}}));
    rig.insert_card(Slot::Card, 3, &["--region", REGION, "--serial", SERIAL]).await;
    let inserted = next_json(&mut lines);
    assert_eq!(inserted["method"], "CardInserted", "{inserted}");
    assert_eq!(inserted["params"]["reader"], path.as_str());
    assert!(inserted["params"]["atr"].as_str().is_some_and(|a| a.starts_with("3B")), "{inserted}");
    assert!(watch.wait().expect("watch").success());
}

fn next_json(lines: &mut std::io::Lines<BufReader<ChildStdout>>) -> Value {
    let line = lines.next().expect("a line from the client").expect("read");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn base64_len(text: &str) -> usize {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
    text.len() / 4 * 3 - padding
}

/// The security rules: each refusal comes before any daemon call (no APDU
/// reaches the card), the socket is on loopback only, and the limits hold
/// while the bridge keeps serving.
#[tokio::test]
async fn security_refusals_and_limits() {
    let rig = rig(3, true, "472913", "debug").await;
    let dir = temp_dir();
    let config = dir.join("bridge.toml");
    std::fs::write(&config, "allowed_origins = [\"https://counter.example\"]\n").expect("config");
    let bridge = Bridge::start(&rig.bus.address(), &dir, "debug", &["--config", config.to_str().expect("path")]);
    let url = bridge.url();
    let read = format!("{}\n", json!({"function": "iReadCardBas", "iType": 3}));
    let before = rig.logged(Slot::Card).len();

    // A foreign page's Origin, and a DNS-rebinding Host: 403, no APDU.
    let evil = client(&["calls", &url, "--origin", "https://evil.example"], &read);
    assert_eq!(evil, [json!({"refused": 403})]);
    let rebinding = client(&["calls", &url, "--host", "evil.example"], &read);
    assert_eq!(rebinding, [json!({"refused": 403})]);
    let null = client(&["calls", &url, "--origin", "null"], &read);
    assert_eq!(null, [json!({"refused": 403})]);
    assert_eq!(rig.logged(Slot::Card).len(), before, "a refused request reached the card");

    // The bridge's own origin, a configured one, and none (a local program).
    let own = format!("http://localhost:{}", bridge.port);
    for origin in [own.as_str(), "https://counter.example"] {
        let answers = client(&["calls", &url, "--origin", origin], &read);
        assert_eq!(answers[0]["success"], "1", "{origin}: {answers:?}");
    }
    let local = client(&["calls", &url, "--host", "localhost"], &read);
    assert_eq!(local[0]["success"], "1", "{local:?}");

    // The index page at `/`, and a plain request with a foreign Host.
    let page = client(&["get", &url], "");
    assert_eq!(page[0]["status"], 200, "{page:?}");
    assert!(page[0]["body"].as_str().is_some_and(|b| b.contains("sscard-bridge")), "{page:?}");
    let rebinding = client(&["get", &url, "--host", "evil.example"], "");
    assert_eq!(rebinding[0]["status"], 403, "{rebinding:?}");

    // A page that leaves mid-call: its answer is dropped, others are served.
    let left = client(&["fire", &url], &read.repeat(3));
    assert_eq!(left, [json!({"sent": 3})]);

    // Listening on loopback only.
    let ss = Command::new("ss").args(["-Hltnp"]).output().expect("ss");
    let ss = String::from_utf8_lossy(&ss.stdout);
    let pid = format!("pid={},", bridge.child.id());
    let own_lines: Vec<&str> = ss.lines().filter(|l| l.contains(&pid)).collect();
    assert!(!own_lines.is_empty(), "the bridge is not in ss -ltnp:\n{ss}");
    for line in &own_lines {
        let local = line.split_whitespace().nth(3).expect("local address");
        assert!(local.starts_with("127.0.0.1:") || local.starts_with("[::1]:"), "{line}");
    }

    // A 10 MB message: the connection is closed (1009), others are served.
    let big = client(&["big", &url, &(10 * 1024 * 1024).to_string()], "");
    assert_eq!(big, [json!({"closed": 1009})]);
    let answers = client(&["calls", &url], &read);
    assert_eq!(answers[0]["success"], "1", "{answers:?}");

    // 1000 connections at once, the 1001st refused, all dropped: it still
    // serves, and its memory stays bounded.
    let rss_before = bridge.rss_kib();
    let flood = client(&["flood", &url, "1000"], "");
    assert_eq!(flood, [json!({"opened": 1000, "extra": 503})]);
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = bridge.rss_kib();
    println!("VmRSS before 1000 connections: {rss_before} KiB, after: {rss_after} KiB");
    assert!(rss_after < rss_before + 32 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB");
    let answers = client(&["calls", &url], &read);
    assert_eq!(answers[0]["success"], "1", "{answers:?}");
    let log = bridge.log_text();
    assert!(!log.contains("panicked") && !log.contains("ERROR"), "{log}");
}

/// An address other than 127.0.0.1 or ::1 is refused at start: exit 2,
/// naming the rule.
#[test]
fn non_loopback_listen_is_refused_at_start() {
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:12342"] {
        let out = Command::new(env!("CARGO_BIN_EXE_sscard-bridge"))
            .args(["--bus", "unix:path=/nonexistent", "--listen", listen])
            .output()
            .expect("sscard-bridge");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(stderr.contains("only on the loopback addresses 127.0.0.1 and ::1"), "{listen}: {stderr}");
    }
}

/// A connection idle longer than `idle_timeout_s` is closed.
#[test]
fn an_idle_connection_is_closed() {
    let dir = temp_dir();
    let bus = support::daemon::PrivateBus::start(&dir, None);
    let config = dir.join("bridge.toml");
    std::fs::write(&config, "idle_timeout_s = 1\n").expect("config");
    let bridge = Bridge::start(&bus.address(), &dir, "debug", &["--config", config.to_str().expect("path")]);
    let started = Instant::now();
    let out = client(&["watch", &bridge.url(), "1", "20"], "");
    assert_eq!(out, [json!({"ready": true}), json!({"closed": 1000})]);
    assert!(started.elapsed() < Duration::from_secs(15), "not closed when idle: {:?}", started.elapsed());
}

/// Every form in which a secret could leak into a log.
fn forms(secret: &str) -> Vec<String> {
    let ascii_hex = hex::encode(secret.as_bytes());
    let mut out = vec![secret.to_owned(), ascii_hex.clone(), ascii_hex.to_uppercase()];
    out.push(format!("{:?}", secret.as_bytes()));
    if secret.bytes().all(|b| b.is_ascii_digit()) {
        let bcd: Vec<u8> = secret.as_bytes().chunks(2).map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0')).collect();
        out.push(format!("{bcd:?}"));
        out.push(format!("{bcd:02X?}"));
    }
    out
}

#[tokio::test]
async fn no_pin_ssn_or_name_in_the_bridges_trace_log() {
    const INITIAL: &str = "472913";
    const NEW: &str = "580264";
    const WRONG: &str = "904317";
    const CHANGED: &str = "639175";
    let rig = rig(3, true, INITIAL, "info").await;
    let bridge = Bridge::start(&rig.bus.address(), &temp_dir(), "trace", &[]);
    let answers = calls(
        &bridge,
        &[
            json!({"function": "iReadCardBas", "iType": 3}),
            json!({"function": "iReadCard", "iType": 3, "iAuthType": 1, "pCardInfo": CARD_INFO,
                   "pFileAddr": "SSSEEF06|08|09|$"}),
            json!({"function": "iVerifyPIN", "iType": 3, "pin": WRONG}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "VerifyPin", "params": {"pin": INITIAL}}),
            json!({"function": "iChangePIN", "iType": 3, "oldPin": INITIAL, "newPin": NEW}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "ChangePin", "params": {"oldPin": NEW, "newPin": CHANGED}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "ReadCard", "params": {}}),
        ],
    );
    assert_success(&answers[0], "iReadCardBas");
    assert_success(&answers[1], "iReadCard");
    assert_failure(&answers[2], "-51");
    assert_eq!(answers[3]["result"]["ok"], true, "{}", answers[3]);
    assert_success(&answers[4], "iChangePIN");
    assert_eq!(answers[5]["result"], Value::Null, "{}", answers[5]);
    assert_eq!(answers[6]["result"]["ssn"], SSN);
    let mut bridge = bridge;
    bridge.stop();
    let log = bridge.log_text();

    let mut secrets: Vec<String> = Vec::new();
    for pin in [INITIAL, NEW, WRONG, CHANGED] {
        secrets.extend(forms(pin));
    }
    secrets.extend(forms(SSN));
    secrets.push(NAME.to_owned());
    secrets.push(hex::encode_upper(NAME.as_bytes()));
    assert!(log.contains("TRACE"), "not logging at trace level:\n{log}");
    for line in log.lines() {
        let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
        for secret in &secrets {
            assert!(!body.contains(secret.as_str()), "a log line holds {secret:?}: {line}");
        }
    }
}

/// A plain HTTP GET of `path` on the bridge (Python's http.client, the
/// path sent as it is), with `Host` naming `host` when given.
fn get(bridge: &Bridge, path: &str, host: Option<&str>) -> Value {
    let url = format!("ws://127.0.0.1:{}{path}", bridge.port);
    let mut args = vec!["get", url.as_str()];
    if let Some(host) = host {
        args.extend(["--host", host]);
    }
    let mut out = client(&args, "");
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

/// A bridge over a private bus with no daemon: pages need none.
fn page_bridge(dir: &Path, config: Option<&str>) -> (support::daemon::PrivateBus, Bridge) {
    let bus = support::daemon::PrivateBus::start(dir, None);
    let mut extra = Vec::new();
    let path = dir.join("bridge.toml");
    if let Some(text) = config {
        std::fs::write(&path, text).expect("config");
        extra = vec!["--config".to_owned(), path.to_string_lossy().into_owned()];
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let bridge = Bridge::start(&bus.address(), dir, "debug", &extra);
    (bus, bridge)
}

fn assert_page_headers(answer: &Value, port: u16) {
    let headers = &answer["headers"];
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' ws://127.0.0.1:{port} ws://localhost:{port}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    assert_eq!(headers["content-security-policy"], csp.as_str(), "{answer}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{answer}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{answer}");
    assert_eq!(headers["cache-control"], "no-store", "{answer}");
}

/// The built-in pages: each path with its type, its bytes from `pages/`,
/// the security headers; no inline script or style (the CSP forbids
/// them); anything else 404; a foreign `Host` 403 on pages too.
#[test]
fn the_reference_pages_are_served_with_their_types_and_headers() {
    let dir = temp_dir();
    let (_bus, bridge) = page_bridge(&dir, None);
    let pages = Path::new(env!("CARGO_MANIFEST_DIR")).join("pages");
    let html = "text/html; charset=utf-8";
    let js = "text/javascript; charset=utf-8";
    let css = "text/css; charset=utf-8";
    for (path, file, content_type) in [
        ("/", "index.html", html),
        ("/counter/", "counter/index.html", html),
        ("/counter/counter.js", "counter/counter.js", js),
        ("/counter/counter.css", "counter/counter.css", css),
        ("/kiosk/", "kiosk/index.html", html),
        ("/kiosk/kiosk.js", "kiosk/kiosk.js", js),
        ("/kiosk/kiosk.css", "kiosk/kiosk.css", css),
        ("/common/bridge.js", "common/bridge.js", js),
        ("/common/errors.js", "common/errors.js", js),
        ("/common/style.css", "common/style.css", css),
        ("/kiosk/?ssn=11010519491231002X&idle=5", "kiosk/index.html", html),
    ] {
        let answer = get(&bridge, path, None);
        assert_eq!(answer["status"], 200, "{path}: {answer}");
        assert_eq!(answer["headers"]["content-type"], content_type, "{path}");
        let expected = std::fs::read_to_string(pages.join(file)).expect("page");
        assert_eq!(answer["body"], expected.as_str(), "{path}");
        assert_page_headers(&answer, bridge.port);
        if content_type == html {
            let body = expected.to_ascii_lowercase();
            assert!(!body.contains("<style") && !body.contains(" style="), "{path}: inline style");
            for script in body.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap_or_default();
                assert!(tag.contains(" src=\""), "{path}: an inline script");
            }
            assert!(!body.contains("http://") && !body.contains("https://"), "{path}: a link outside the bridge");
        }
    }
    // The index links both pages.
    let index = get(&bridge, "/", None);
    let body = index["body"].as_str().expect("body");
    assert!(body.contains("href=\"/counter/\"") && body.contains("href=\"/kiosk/\""), "{body}");
    // /kiosk and /counter lead to their pages.
    let moved = get(&bridge, "/kiosk", None);
    assert_eq!((moved["status"].as_u64(), moved["headers"]["location"].as_str()), (Some(308), Some("/kiosk/")));
    for path in ["/nope", "/counter/nope.js", "/pages/index.html", "/kiosk/index.html", "/../Cargo.toml", "/index.htm"]
    {
        let answer = get(&bridge, path, None);
        assert_eq!(answer["status"], 404, "{path}: {answer}");
    }
    // The Host check comes first, for pages too.
    for path in ["/", "/kiosk/", "/common/bridge.js", "/nope"] {
        let answer = get(&bridge, path, Some("evil.example"));
        assert_eq!(answer["status"], 403, "{path}: {answer}");
        assert!(!answer["body"].as_str().unwrap_or_default().contains("<html"), "{path}: {answer}");
    }
    for host in ["localhost", "[::1]"] {
        assert_eq!(get(&bridge, "/kiosk/", Some(host))["status"], 200, "{host}");
    }
    // GET and HEAD only.
    let url = format!("ws://127.0.0.1:{}/kiosk/", bridge.port);
    let head = client(&["get", &url, "--method", "HEAD"], "");
    assert_eq!((head[0]["status"].as_u64(), head[0]["body"].as_str()), (Some(200), Some("")), "{head:?}");
    assert_eq!(head[0]["headers"]["cache-control"], "no-store", "{head:?}");
    let post = client(&["get", &url, "--method", "POST"], "");
    assert_eq!(post[0]["status"], 405, "{post:?}");
}

/// `pages_dir`: its files are served, with their types and the headers;
/// `..`, escapes, absolute paths and symlinks leaving it are not.
#[test]
fn pages_dir_is_served_and_traversal_is_refused() {
    let dir = temp_dir();
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("kiosk")).expect("site");
    std::fs::write(site.join("index.html"), "<!DOCTYPE html><title>our counter</title>").expect("index");
    std::fs::write(site.join("kiosk/index.html"), "<!DOCTYPE html><title>our kiosk</title>").expect("kiosk");
    std::fs::write(site.join("site.css"), "body{}").expect("css");
    std::fs::write(site.join("logo.png"), b"\x89PNG\r\n").expect("png");
    std::fs::write(dir.join("secret.txt"), "outside the pages").expect("secret");
    std::os::unix::fs::symlink(dir.join("secret.txt"), site.join("leak.txt")).expect("symlink");
    std::os::unix::fs::symlink(&dir, site.join("up")).expect("dir symlink");
    std::os::unix::fs::symlink(site.join("site.css"), site.join("alias.css")).expect("inner symlink");
    let (_bus, bridge) = page_bridge(&dir, Some("pages_dir = \"site\"\n"));
    for (path, content_type, body) in [
        ("/", "text/html; charset=utf-8", "<!DOCTYPE html><title>our counter</title>"),
        ("/kiosk/", "text/html; charset=utf-8", "<!DOCTYPE html><title>our kiosk</title>"),
        ("/site.css", "text/css; charset=utf-8", "body{}"),
        ("/alias.css", "text/css; charset=utf-8", "body{}"),
    ] {
        let answer = get(&bridge, path, None);
        assert_eq!(answer["status"], 200, "{path}: {answer}");
        assert_eq!(answer["headers"]["content-type"], content_type, "{path}");
        assert_eq!(answer["body"], body, "{path}");
        assert_page_headers(&answer, bridge.port);
    }
    assert_eq!(get(&bridge, "/logo.png", None)["headers"]["content-type"], "image/png");
    let secret = dir.join("secret.txt");
    let absolute = format!("/{}", secret.display());
    for path in [
        "/../secret.txt",
        "/kiosk/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/leak.txt",
        "/up/secret.txt",
        absolute.as_str(),
        "//etc/hostname",
        "/counter/",
        "/common/bridge.js",
        "/kiosk",
    ] {
        let answer = get(&bridge, path, None);
        let status = answer["status"].as_u64();
        assert!(status == Some(404) || (path == "/kiosk" && status == Some(308)), "{path}: {answer}");
        assert!(!answer["body"].as_str().unwrap_or_default().contains("outside the pages"), "{path}: {answer}");
    }
    assert_eq!(get(&bridge, "/site.css", Some("evil.example"))["status"], 403);
}

/// A `pages_dir` that is not an existing directory is refused at start:
/// exit 2, naming the key.
#[test]
fn a_bad_pages_dir_is_refused_at_start() {
    let dir = temp_dir();
    std::fs::write(dir.join("file"), "").expect("file");
    for value in ["nowhere", "file"] {
        let config = dir.join("bridge.toml");
        std::fs::write(&config, format!("pages_dir = \"{value}\"\n")).expect("config");
        let out = Command::new(env!("CARGO_BIN_EXE_sscard-bridge"))
            .args(["--bus", "unix:path=/nonexistent", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .output()
            .expect("sscard-bridge");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains("pages_dir"), "{value}: {stderr}");
    }
}
