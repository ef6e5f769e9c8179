//! sscard-bridge's HSM functions (`docs/unified-interface.md` sections 7
//! and 8) as a page without a PSAM uses them: the national dialect's
//! `…_HSM_Step…` functions and the JSON-RPC session methods, driven by
//! Python's `websockets` (tests/python/hsm_client.py) one request at a
//! time, since each step needs the back end's answer to the last. The
//! simulator's test back end (`sscard_sim::hsm`) plays the encryption
//! machine. Sessions stay with the connection that began them and end with
//! it; the bridge's log at trace level holds no back-end value and no PIN.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sscard_client::{Dict, HsmSession1Proxy};
use sscard_sim::crypto::Algorithm;
use sscard_sim::hsm;
use support::bench::Slot;
use support::bridge::Bridge;
use support::client::*;

const REGION: &str = "440305";
const SERIAL: &str = "0102030405060708";
const CARD_ID: &str = "440305D1560000050102030405060708";
const CARD_INFO: &str = "440305D1560000050102030405060708|X00000019|";
const NEW_PIN: &str = "580264";
const PYTHON: &str = "/usr/bin/python3";

/// One WebSocket connection, one request at a time.
struct Page {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Page {
    fn open(bridge: &Bridge) -> Page {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/hsm_client.py");
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg(bridge.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Page { child, stdin, stdout }
    }

    fn call(&mut self, request: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("open");
        writeln!(stdin, "{request}").expect("send");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// A national function's `pOutInfo`, which must have succeeded.
    fn ok(&mut self, request: Value) -> String {
        let answer = self.call(request);
        assert_eq!(answer["success"], "1", "{answer}");
        answer["pOutInfo"].as_str().expect("pOutInfo").to_owned()
    }

    fn close(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("client");
        assert!(status.success(), "client: {status}");
    }
}

fn back_end(line: &str, first: Option<&str>) -> String {
    hsm::answer(line, first, None).unwrap_or_else(|e| panic!("back end: {e}"))
}

async fn rig(generation: u8) -> Rig {
    let mut rig = Rig::empty(2, &[]).await;
    rig.insert_card(Slot::Card, generation, &["--region", REGION, "--serial", SERIAL]).await;
    // Personalized through an HSM session on the bus: there is no PSAM.
    let reader = rig.reader(Slot::Card).await;
    let (path, first) = reader.begin_hsm("write", no_opts()).await.expect("BeginHsm write");
    let f: [u8; 8] = bytes(&first, "factor").unwrap().try_into().unwrap();
    let alg = Algorithm::from_code(bytes(&first, "algorithm").unwrap()[0]).unwrap();
    let original = bytes(&first, "original").unwrap();
    let mut args = Dict::new();
    args.insert("cryptogram".into(), bytes_value(&hsm::cryptogram(alg, None, 0x04, &f, &original)));
    args.insert("original".into(), bytes_value(&original));
    let mut record = holder_dict(generation, Some(600));
    record.insert("name".into(), string_value("张三"));
    args.insert("record".into(), zbus::OwnedVariant::try_from(zbus::Variant::from(record)).unwrap());
    let session = HsmSession1Proxy::builder(&rig.conn).path(path).build().await.unwrap();
    session.continue_(args).await.expect("write");
    rig
}

async fn national_dialect(generation: u8) {
    let rig = rig(generation).await;
    let dir = tempfile::tempdir().expect("dir");
    let bridge = Bridge::start(&rig.bus.address(), dir.path(), "trace", &[]);
    let mut page = Page::open(&bridge);
    let mut secrets = Vec::new();

    // A Step2 without its Step1: -14.
    let answer = page.call(json!({"function": "iReadCardBas_HSM_Step2", "pKey": "00|"}));
    assert_eq!(answer["success"], "-14", "{answer}");

    // Read basic information.
    let step1 = page.ok(json!({"function": "iReadCardBas_HSM_Step1", "iType": 3}));
    assert!(step1.starts_with(&format!("{REGION}|")) && step1.contains(CARD_ID), "{step1}");
    let key = back_end(&step1, None);
    secrets.push(key.split('|').next().unwrap()[..16].to_owned());
    let bas = page.ok(json!({"function": "iReadCardBas_HSM_Step2", "pkey": key}));
    let fields: Vec<&str> = bas.strip_suffix('|').unwrap().split('|').collect();
    assert_eq!(fields.len(), 11, "{bas}");
    assert_eq!((fields[0], fields[1], fields[3], fields[4], fields[9]), (REGION, SSN, CARD_ID, "张三", "000000000000"));

    // Generic read of EF06 and the photo.
    let step1 = page.ok(json!({"function": "iReadCard_HSM_Step1", "iType": 1, "pCardInfo": CARD_INFO,
        "pFileAddr": "SSSEEF06|08|09|$SSSEEF08|$"}));
    let read = page.ok(json!({"function": "iReadCard_HSM_Step2", "pKey": back_end(&step1, None)}));
    assert_eq!(read, format!("SSSEEF06|{SSN}|张三|$SSSEEF08|{}|$", hex::encode_upper(jpeg(600))));

    // Generic write, then read back.
    let step1 = page.ok(json!({"function": "iWriteCard_HSM_Step1", "iType": 1, "pCardInfo": CARD_INFO,
        "pFileAddr": "SSSEEF05|04|05|06|$"}));
    let written = page.ok(json!({"function": "iWriteCard_HSM_Step2", "pKey": back_end(&step1, None),
        "pWriteData": "SSSEEF05|RSJ-440305|20270301|20370301|$"}));
    assert_eq!(written, "");
    let step1 = page.ok(json!({"function": "iReadCard_HSM_Step1", "iType": 1, "pCardInfo": CARD_INFO,
        "pFileAddr": "SSSEEF05|04|05|06|$"}));
    let read = page.ok(json!({"function": "iReadCard_HSM_Step2", "pKey": back_end(&step1, None)}));
    assert_eq!(read, "SSSEEF05|RSJ-440305|20270301|20370301|$");

    // Reload (the new PIN in the request), then verify it.
    let step1 = page.ok(json!({"function": "iReloadPIN_HSM_Step1", "iType": 1, "pCardInfo": CARD_INFO}));
    let step2 = page.ok(json!({"function": "iReloadPIN_HSM_Step2", "pKey": "", "newPin": NEW_PIN}));
    let apdu = back_end(&step2, Some(&step1));
    secrets.push(apdu[apdu.len() - 8..].to_owned());
    assert_eq!(page.ok(json!({"function": "iReloadPIN_HSM_Step3", "pKey": apdu})), "");
    let reader = rig.reader(Slot::Card).await;
    assert_eq!(reader.verify_pin(NEW_PIN, no_opts()).await.expect("verify"), (true, 3));

    // Unblock a blocked PIN.
    for _ in 0..3 {
        let _ = reader.verify_pin("999999", opts(&[("allow_last_try", true)])).await.expect("verify");
    }
    let step1 = page.ok(json!({"function": "iUnblockPIN_HSM_Step1", "iType": 1, "pCardInfo": CARD_INFO}));
    let step2 = page.ok(json!({"function": "iUnblockPIN_HSM_Step2", "pKey": ""}));
    assert_eq!(page.ok(json!({"function": "iUnblockPIN_HSM_Step3", "pKey": back_end(&step2, Some(&step1))})), "");
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("status"), (3, false));
    page.close();

    let log = support::without_timestamps(&bridge.log_text());
    assert!(log.contains("TRACE"), "not a trace log");
    for secret in &secrets {
        assert!(!log.to_uppercase().contains(secret.as_str()), "{secret} in the bridge's log");
    }
    assert!(!log.contains(NEW_PIN), "the PIN in the bridge's log");
}

#[tokio::test]
async fn national_dialect_hsm_on_gen3_without_a_psam() {
    national_dialect(3).await;
}

#[tokio::test]
async fn national_dialect_hsm_on_gen2_without_a_psam() {
    national_dialect(2).await;
}

fn b64(v: &Value) -> Vec<u8> {
    BASE64.decode(v.as_str().unwrap_or_else(|| panic!("base64: {v}"))).expect("base64")
}

#[tokio::test]
async fn json_rpc_sessions_belong_to_their_connection_and_end_with_it() {
    let rig = rig(3).await;
    let dir = tempfile::tempdir().expect("dir");
    let bridge = Bridge::start(&rig.bus.address(), dir.path(), "trace", &[]);
    let mut owner = Page::open(&bridge);
    let mut stranger = Page::open(&bridge);

    let begun = owner.call(json!({"jsonrpc": "2.0", "id": 1, "method": "BeginHsm",
        "params": {"operation": "read"}}));
    let session = begun["result"]["session"].as_str().unwrap_or_else(|| panic!("{begun}")).to_owned();
    let output = &begun["result"]["output"];
    assert_eq!(output["done"], false);
    let alg = Algorithm::from_code(b64(&output["algorithm"])[0]).unwrap();
    let f: [u8; 8] = b64(&output["factor"]).try_into().unwrap();
    let original = b64(&output["original"]);
    let cryptogram = hsm::cryptogram(alg, None, 0x0A, &f, &original);
    let step = json!({"jsonrpc": "2.0", "id": 2, "method": "HsmContinue", "params": {"session": session,
        "args": {"cryptogram": BASE64.encode(&cryptogram), "original": BASE64.encode(&original)}}});

    // Another connection may not step it.
    let refused = stranger.call(step.clone());
    assert_eq!(refused["error"]["data"]["name"], "NotAuthorized", "{refused}");
    let info = owner.call(step);
    assert_eq!(info["result"]["done"], true, "{info}");
    assert_eq!(info["result"]["ssn"], SSN);

    // A second BeginHsm on the connection abandons its open session (it
    // would otherwise wait behind it on the reader until the idle limit).
    let first = owner.call(json!({"jsonrpc": "2.0", "id": 10, "method": "BeginHsm",
        "params": {"operation": "read"}}));
    let first = first["result"]["session"].as_str().unwrap_or_else(|| panic!("{first}")).to_owned();
    let started = Instant::now();
    let second = owner.call(json!({"jsonrpc": "2.0", "id": 11, "method": "BeginHsm",
        "params": {"operation": "read"}}));
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?} behind its own session", started.elapsed());
    let second = second["result"]["session"].as_str().unwrap_or_else(|| panic!("{second}")).to_owned();
    let stale = owner.call(json!({"jsonrpc": "2.0", "id": 12, "method": "HsmAbort", "params": {"session": first}}));
    assert_eq!(stale["error"]["data"]["name"], "NotAuthorized", "{stale}");

    // A step whose args cannot be read ends its session: the reader is
    // free at once, and the session is gone.
    let bad = owner.call(json!({"jsonrpc": "2.0", "id": 13, "method": "HsmContinue",
        "params": {"session": second, "args": {"cryptogram": "not base64!"}}}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let started = Instant::now();
    rig.reader(Slot::Card).await.get_pin_status(no_opts()).await.expect("the reader is free again");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let gone = owner.call(json!({"jsonrpc": "2.0", "id": 14, "method": "HsmAbort", "params": {"session": second}}));
    assert_eq!(gone["error"]["data"]["name"], "NotAuthorized", "{gone}");

    // A session whose connection closes ends at once.
    let begun = owner.call(json!({"jsonrpc": "2.0", "id": 3, "method": "BeginHsm",
        "params": {"operation": "read_basic"}}));
    assert!(begun["result"]["session"].is_string(), "{begun}");
    owner.close();
    let started = Instant::now();
    let reader = rig.reader(Slot::Card).await;
    reader.get_pin_status(no_opts()).await.expect("the reader is free again");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    stranger.close();
}
