//! The real `sscardctl` binary against sscardd on a private bus, over the
//! bench's gen3 and gen2 cards and PSAM: every command, its output, and its
//! exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bench::{Bench, Slot};
use support::client::*;

/// What one run of sscardctl did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `sscardctl --bus <rig's bus> ARGS…`, with `stdin` on its standard input.
fn ctl(rig: &Rig, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscardctl"))
        .args(["--bus", &rig.bus.address()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sscardctl");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("sscardctl output");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs and expects exit code 0.
fn ok(rig: &Rig, args: &[&str], stdin: &str) -> String {
    let run = ctl(rig, args, stdin);
    assert_eq!(run.code, 0, "sscardctl {args:?}: {run:?}");
    run.stdout
}

fn json(rig: &Rig, args: &[&str], stdin: &str) -> Value {
    let out = ok(rig, &[&["--json"], args].concat(), stdin);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("sscardctl --json {args:?}: {e}: {out}"))
}

/// Runs and expects the daemon's error `name` with its exit code.
fn fails(rig: &Rig, args: &[&str], stdin: &str, name: &str, code: i32) -> Run {
    let run = ctl(rig, args, stdin);
    assert_eq!(run.code, code, "sscardctl {args:?} should fail with {name}: {run:?}");
    assert!(run.stderr.starts_with(&format!("sscardctl: {name}: ")), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    run
}

fn examples(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(file)
}

fn holder_record() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(examples("holder.json")).expect("examples/holder.json");
    match serde_json::from_str(&text).expect("holder.json is JSON") {
        Value::Object(map) => map,
        other => panic!("holder.json is not an object: {other}"),
    }
}

/// A rig like `Rig::new(3, true)`, with sscardd configured with a terminal
/// device number.
async fn gen3_rig_with_terminal_device(config_dir: &Path) -> Rig {
    let config = config_dir.join("sscardd.toml");
    std::fs::write(&config, "terminal_device = \"COUNTER07\"\n").expect("config");
    let mut rig = Rig::empty(2, &["--config", &config.to_string_lossy()]).await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &[]).await;
    rig
}

#[tokio::test]
async fn gen3_counter_workflow() {
    let config_dir = tempfile::tempdir().expect("temp dir");
    let rig = gen3_rig_with_terminal_device(config_dir.path()).await;
    let card_reader = rig.bench.reader_name(Slot::Card);
    let sam_reader = rig.bench.reader_name(Slot::Sam);

    // readers: both, with their kinds, as JSON and as a table.
    let readers = json(&rig, &["readers"], "");
    let list = readers["readers"].as_array().expect("readers array");
    let by_name = |name: &str| list.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name}: {readers}"));
    assert_eq!(by_name(&card_reader)["card_kind"], "ssse");
    assert_eq!(by_name(&card_reader)["profile"], "ssse-gen3");
    assert_eq!(by_name(&card_reader)["card_present"], true);
    assert_eq!(by_name(&sam_reader)["card_kind"], "psam");
    assert_eq!(readers["sam_reader"], by_name(&sam_reader)["path"]);
    let table = ok(&rig, &["readers"], "");
    let line = |name: &str| table.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name}: {table}"));
    assert!(line(&card_reader).contains(" ssse ") && line(&card_reader).contains("ssse-gen3"), "{table}");
    assert!(line(&sam_reader).contains(" psam "), "{table}");
    assert!(table.starts_with("PATH "), "{table}");

    // The blank card.
    let blank = json(&rig, &["read"], "");
    assert_eq!(blank["state"], "blank");
    assert!(blank.get("ssn").is_none(), "{blank}");

    // Personalise from the example record and photo.
    let photo = examples("photo.jpg");
    let jpeg = std::fs::read(&photo).expect("examples/photo.jpg");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]) && jpeg.len() <= 2048);
    let written =
        ok(&rig, &["write", &examples("holder.json").to_string_lossy(), "--photo", &photo.to_string_lossy()], "");
    let digest = written
        .split_whitespace()
        .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
        .unwrap_or_else(|| panic!("no digest: {written}"));
    assert!(written.lines().any(|l| l.starts_with("digest") && l.ends_with(digest)), "{written}");
    assert!(written.lines().any(|l| l.starts_with("apdus")), "{written}");

    // read --json: the record, and no photo unless asked.
    let info = json(&rig, &["read"], "");
    for (key, value) in holder_record() {
        assert_eq!(info[&key], value, "{key}: {info}");
    }
    assert_eq!(info["state"], "inactive");
    assert_eq!(json(&rig, &["read", "--authenticate"], "")["authentic"], true);
    assert!(info.get("photo").is_none() && info.get("photo_len").is_none(), "{info}");

    // read --format bas: the legacy line, exactly.
    let record = holder_record();
    let field = |key: &str| record[key].as_str().expect(key).to_owned();
    let card_id = info["card_id"].as_str().expect("card_id");
    assert_eq!(card_id.len(), 32);
    let terminal_number = info["terminal_number"].as_str().expect("terminal_number");
    assert!(terminal_number.len() == 12 && terminal_number.chars().all(|c| c.is_ascii_digit()), "{info}");
    let expected = format!(
        "{}|{}|{}|{card_id}|{}|{}|{}|{}|{}|{terminal_number}|COUNTER07|\n",
        &card_id[..6],
        field("ssn"),
        field("card_number"),
        field("name"),
        info["atr_historical"].as_str().expect("atr_historical"),
        field("spec_version"),
        field("issue_date").replace('-', ""),
        field("expiry_date").replace('-', ""),
    );
    assert_eq!(ok(&rig, &["read", "--format", "bas"], ""), expected);

    // read --photo FILE: the same bytes; the table says where they went.
    let photo_back = config_dir.path().join("back.jpg");
    let table = ok(&rig, &["read", "--photo", &photo_back.to_string_lossy()], "");
    assert_eq!(std::fs::read(&photo_back).expect("photo written"), jpeg);
    assert!(table.lines().any(|l| l.starts_with("photo") && l.contains(&format!("{} bytes", jpeg.len()))), "{table}");
    assert!(table.lines().any(|l| l.starts_with("name") && l.contains(field("name").as_str())), "{table}");
    assert!(!table.contains("FFD8"), "the photo is never printed: {table}");
    let with_photo = json(&rig, &["read", "--photo", &photo_back.to_string_lossy()], "");
    assert_eq!(with_photo["photo_len"], jpeg.len());
    assert!(with_photo.get("photo").is_none());

    // Activation, with the PINs on stdin.
    let activated = ok(&rig, &["activate", "--ssn", SSN, "--pin-stdin"], &format!("{INITIAL_PIN}\n{NEW_PIN}\n"));
    assert!(activated.contains("state active"), "{activated}");
    assert_eq!(json(&rig, &["read"], "")["state"], "active");

    // The PIN: right, wrong, and its status.
    let right = ok(&rig, &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"));
    assert!(right.contains("3 tries left"), "{right}");
    let wrong = ctl(&rig, &["pin", "verify", "--pin-stdin"], "135790\n");
    assert_eq!(wrong.code, 11, "{wrong:?}");
    assert!(wrong.stderr.contains("wrong PIN, 2 tries left"), "{wrong:?}");
    let status = json(&rig, &["pin", "status"], "");
    assert_eq!(status, serde_json::json!({ "tries_left": 2, "blocked": false }));
    let wrong_json = ctl(&rig, &["--json", "pin", "verify", "--pin-stdin"], "135790\n");
    assert_eq!(wrong_json.code, 11, "{wrong_json:?}");
    let answer: Value = serde_json::from_str(&wrong_json.stdout).expect("JSON");
    assert_eq!(answer, serde_json::json!({ "ok": false, "tries_left": 1 }));
    // One try left: refused without --allow-last-try, before any VERIFY.
    fails(&rig, &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"), "LastTry", 10);
    ok(&rig, &["pin", "verify", "--allow-last-try", "--pin-stdin"], &format!("{NEW_PIN}\n"));
    assert_eq!(json(&rig, &["pin", "status"], "")["tries_left"], 3);
    // --reader by object path, before or after the command.
    let path = by_name(&card_reader)["path"].as_str().expect("path").to_owned();
    assert_eq!(json(&rig, &["--reader", &path, "pin", "status"], "")["tries_left"], 3);
    assert_eq!(json(&rig, &["pin", "status", "--reader", &card_reader], "")["blocked"], false);
    fails(&rig, &["--reader", &sam_reader, "pin", "status"], "", "NotSupported", 7);

    // A second activation of a gen3 card.
    fails(&rig, &["activate", "--ssn", SSN, "--pin-stdin"], "802413\n246801\n", "AlreadyActive", 13);
}

#[tokio::test]
async fn errors_have_their_exit_codes() {
    let mut rig = Rig::new(3, true).await;
    let logged_before = rig.logged(Slot::Card).len();

    // Local errors come before any D-Bus call: nothing reaches the card.
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"ssn": "11010519491231002X", "nation": "5"}"#).expect("bad.json");
    let run = ctl(&rig, &["write", &bad.to_string_lossy()], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("nation must be a number"), "{run:?}");
    std::fs::write(&bad, r#"{"sex": 2}"#).expect("bad.json");
    let run = ctl(&rig, &["write", &bad.to_string_lossy()], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("sex must be a string"), "{run:?}");
    std::fs::write(&bad, "{\"ssn\": ").expect("bad.json");
    let run = ctl(&rig, &["write", &bad.to_string_lossy()], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not valid JSON"), "{run:?}");
    let missing = dir.path().join("missing.jpg");
    let run =
        ctl(&rig, &["write", &examples("holder.json").to_string_lossy(), "--photo", &missing.to_string_lossy()], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("missing.jpg") && run.stderr.contains("cannot read the photo"), "{run:?}");
    let run = ctl(&rig, &["--reader", "No Such Reader", "read"], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("no reader \"No Such Reader\""), "{run:?}");
    assert_eq!(rig.logged(Slot::Card).len(), logged_before, "a local error sent APDUs");

    // A PIN on the command line is refused by the parser: usage error 2.
    for args in [&["pin", "verify", "123456"][..], &["activate", "--ssn", SSN, "123456", "802413"]] {
        let run = ctl(&rig, args, "");
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("unexpected argument '123456'"), "{args:?}: {run:?}");
    }
    assert_eq!(rig.logged(Slot::Card).len(), logged_before, "a refused command line sent APDUs");

    // The daemon's refusals.
    let run = fails(&rig, &["pin", "change", "--pin-stdin"], "123456\n111111\n", "InvalidArgument", 8);
    assert!(run.stderr.contains("new_pin"), "{run:?}");
    // A blank card has no SSN to match.
    fails(&rig, &["activate", "--ssn", SSN, "--pin-stdin"], "123456\n802413\n", "HolderMismatch", 12);
    // Another SSN than the card's.
    let holder = examples("holder.json");
    ok(&rig, &["write", &holder.to_string_lossy()], "");
    let run = fails(
        &rig,
        &["activate", "--ssn", "110105194912310011", "--pin-stdin"],
        "123456\n802413\n",
        "HolderMismatch",
        12,
    );
    assert!(!run.stderr.contains("123456") && !run.stderr.contains("802413"), "a PIN in a message: {run:?}");
    // The card's PIN was not touched.
    assert_eq!(json(&rig, &["pin", "status"], "")["tries_left"], 3);

    // No daemon on the bus: 69.
    rig.daemon.stop();
    let run = ctl(&rig, &["readers"], "");
    assert_eq!(run.code, 69, "{run:?}");
    assert!(run.stderr.contains("org.sscard.Daemon is not on the"), "{run:?}");
}

#[tokio::test]
async fn no_card_is_exit_3() {
    let rig = Rig::empty(2, &[]).await;
    rig.reader_path(Slot::Card).await;
    let run = fails(&rig, &["read"], "", "NoCard", 3);
    assert!(run.stderr.contains("FindCard"), "{run:?}");
    let card_reader = rig.bench.reader_name(Slot::Card);
    fails(&rig, &["--reader", &card_reader, "read"], "", "NoCard", 3);
    fails(&rig, &["pin", "status", "--reader", &card_reader], "", "NoCard", 3);
    // The readers are there all the same, without cards.
    let readers = json(&rig, &["readers"], "");
    let list = readers["readers"].as_array().expect("readers");
    assert_eq!(list.len(), 2, "{readers}");
    assert!(list.iter().all(|r| r["card_present"] == false && r["card_kind"] == "none"), "{readers}");
    assert_eq!(readers["sam_reader"], "/");
}

/// Every Reader1 method sscardctl calls allows interactive authorization,
/// so polkit may ask the operator through an agent: the flag is on each
/// call as the bus carries it.
#[tokio::test]
async fn reader_calls_allow_interactive_authorization() {
    use futures_util::StreamExt;
    use zbus::message::{Flags, Type};

    let rig = Rig::new(3, true).await;
    let watcher = connect(&rig.bus).await;
    let rule = zbus::MatchRule::builder()
        .msg_type(Type::MethodCall)
        .interface("org.sscard.Reader1")
        .build()
        .expect("match rule");
    let mut calls = zbus::MessageStream::from(&watcher);
    zbus::fdo::MonitoringProxy::new(&watcher)
        .await
        .expect("monitoring proxy")
        .become_monitor(&[rule], 0)
        .await
        .expect("BecomeMonitor");

    ok(&rig, &["read"], "");
    ok(&rig, &["write", &examples("holder.json").to_string_lossy()], "");
    ok(&rig, &["activate", "--ssn", SSN, "--pin-stdin"], &format!("{INITIAL_PIN}\n{NEW_PIN}\n"));
    ok(&rig, &["pin", "status"], "");
    ok(&rig, &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"));
    ok(&rig, &["pin", "change", "--pin-stdin"], &format!("{NEW_PIN}\n246801\n"));
    ok(&rig, &["pin", "reload", "--pin-stdin"], &format!("{NEW_PIN}\n"));
    ok(&rig, &["pin", "unblock"], "");

    let methods = [
        "ReadCard",
        "WriteHolderRecord",
        "Activate",
        "GetPinStatus",
        "VerifyPin",
        "ChangePin",
        "ReloadPin",
        "UnblockPin",
    ];
    let mut seen = Vec::new();
    while seen.len() < methods.len() {
        let next = tokio::time::timeout(Duration::from_secs(10), calls.next()).await;
        let Ok(Some(Ok(message))) = next else { panic!("the monitor saw only {seen:?}") };
        let header = message.header();
        if header.message_type() != Type::MethodCall {
            continue;
        }
        let member = header.member().map(|m| m.to_string()).unwrap_or_default();
        assert!(
            header.primary().flags().contains(Flags::ALLOW_INTERACTIVE_AUTH),
            "{member} was sent without ALLOW_INTERACTIVE_AUTH"
        );
        seen.push(member);
    }
    assert_eq!(seen, methods);
}

/// A running `sscardctl monitor`, its stdout read line by line.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Kept open, so that a late message on stderr does not fail.
    _stderr: BufReader<std::process::ChildStderr>,
}

impl Monitor {
    fn start(rig: &Rig, json: bool) -> Monitor {
        let mut args = vec!["--bus".to_owned(), rig.bus.address()];
        if json {
            args.push("--json".to_owned());
        }
        args.push("monitor".to_owned());
        let mut child = Command::new(env!("CARGO_BIN_EXE_sscardctl"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sscardctl monitor");
        // It says on stderr when its subscriptions are in place.
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut ready = String::new();
        stderr.read_line(&mut ready).expect("monitor's first line");
        assert!(ready.contains("watching org.sscard.Daemon"), "{ready}");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Monitor { child, lines, _stderr: stderr }
    }

    /// The lines printed until one satisfies `done`, within 10 s.
    fn until(&self, what: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let last = done(&line);
                    seen.push(line);
                    if last {
                        return seen;
                    }
                }
                Err(_) => panic!("monitor never printed {what}; it printed: {seen:#?}"),
            }
        }
    }

    /// SIGTERM by PID; answers the exit code.
    fn stop(mut self) -> Option<i32> {
        // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().ok().and_then(|s| s.code())
    }
}

#[tokio::test]
async fn monitor_prints_card_events() {
    let mut rig = Rig::empty(2, &[]).await;
    let path = rig.reader_path(Slot::Card).await.to_string();
    let name = rig.bench.reader_name(Slot::Card);
    let text = Monitor::start(&rig, false);
    let json_lines = Monitor::start(&rig, true);

    rig.insert_card(Slot::Card, 3, &[]).await;
    let inserted = text.until("CardInserted", |l| l.contains(" CardInserted "));
    let line = inserted.last().expect("a line");
    assert!(line.contains(&path) && line.contains(&name) && line.contains(" atr 3B"), "{line}");
    // Each line starts with a timestamp.
    let stamp = line.split_whitespace().next().expect("timestamp");
    assert!(stamp.len() == 24 && stamp.ends_with('Z') && stamp.contains('T'), "{line}");
    // The properties changed before the signal, since it comes after the
    // card has been classified.
    assert!(inserted.iter().any(|l| l.contains("PropertiesChanged") && l.contains("CardKind=ssse")), "{inserted:#?}");

    rig.bench.remove(Slot::Card);
    let removed = text.until("CardRemoved", |l| l.contains(" CardRemoved "));
    assert!(removed.last().is_some_and(|l| l.contains(&path)), "{removed:#?}");

    let events = json_lines.until("CardRemoved as JSON", |l| l.contains("\"CardRemoved\""));
    let parsed: Vec<Value> =
        events.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}"))).collect();
    let inserted = parsed.iter().find(|e| e["event"] == "CardInserted").expect("CardInserted as JSON");
    assert_eq!(inserted["path"], path.as_str());
    assert_eq!(inserted["reader"], name.as_str());
    assert!(inserted["atr"].as_str().is_some_and(|a| a.starts_with("3B")), "{inserted}");
    assert!(parsed.iter().all(|e| e["time"].is_string()), "{parsed:#?}");

    // The daemon leaving the bus is an event too.
    rig.daemon.stop();
    text.until("DaemonStopped", |l| l.contains(" DaemonStopped"));

    assert_eq!(text.stop(), Some(0), "monitor ends cleanly on SIGTERM");
    assert_eq!(json_lines.stop(), Some(0));
}

#[tokio::test]
async fn gen2_card() {
    let rig = Rig::new(2, true).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut record = holder_record();
    record.insert("spec_version".to_owned(), Value::from("2.00"));
    let file = dir.path().join("gen2.json");
    std::fs::write(&file, Value::Object(record.clone()).to_string()).expect("gen2.json");
    let written = json(&rig, &["write", &file.to_string_lossy()], "");
    assert_eq!(written["digest"].as_str().map(str::len), Some(64), "{written}");
    assert!(written["apdus"].as_u64().is_some_and(|n| n > 0), "{written}");

    let info = json(&rig, &["read"], "");
    for (key, value) in &record {
        assert_eq!(&info[key], value, "{key}: {info}");
    }
    assert_eq!(info["state"], "unknown");
    assert_eq!(info["profile"], "ssse-gen2");
    // Without a terminal device configured, the line's last field is empty.
    let bas = ok(&rig, &["read", "--format", "bas"], "");
    assert!(bas.contains("|2.00|20261125|20361125|") && bas.ends_with("||\n"), "{bas}");

    let activated = json(&rig, &["activate", "--ssn", SSN, "--pin-stdin"], &format!("{INITIAL_PIN}\n{NEW_PIN}\n"));
    assert_eq!(activated["state"], "active");
    // gen2 cannot tell: a second activation spends a try on the old
    // initial PIN and answers WrongPin.
    let run = fails(&rig, &["activate", "--ssn", SSN, "--pin-stdin"], "123456\n246801\n", "WrongPin", 11);
    assert!(run.stderr.contains('2'), "{run:?}");
    ok(&rig, &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"));
}

/// `sscardctl ARGS` on a terminal (util-linux `script` gives it a pty),
/// answering each prompt in turn once it shows; (exit code, transcript).
fn on_terminal(rig: &Rig, args: &[&str], answers: &[(&str, &str)]) -> (i32, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let command = std::iter::once(env!("CARGO_BIN_EXE_sscardctl").to_owned())
        .chain(["--bus".to_owned(), rig.bus.address()])
        .chain(args.iter().map(|a| (*a).to_owned()))
        .map(|a| quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux)");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, chunks) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut transcript = String::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    for (prompt, answer) in answers {
        // Wait for the prompt, then type the answer.
        while !transcript[seen..].contains(prompt) {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = chunks.recv_timeout(left).unwrap_or_else(|_| panic!("no prompt {prompt:?}: {transcript:?}"));
            transcript.push_str(&String::from_utf8_lossy(&chunk));
        }
        seen = transcript.rfind(prompt).expect("prompt") + prompt.len();
        // rpassword writes the prompt, then turns echo off: a person types
        // long after that, and so does this.
        std::thread::sleep(Duration::from_millis(400));
        stdin.write_all(format!("{answer}\r").as_bytes()).expect("type");
        stdin.flush().expect("flush");
    }
    while let Ok(chunk) = chunks.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        transcript.push_str(&String::from_utf8_lossy(&chunk));
    }
    let status = child.wait().expect("script's exit");
    drop(stdin);
    (status.code().expect("exit code"), transcript)
}

#[tokio::test]
async fn pins_are_prompted_for_without_echo() {
    let rig = Rig::new(3, true).await;
    let (code, transcript) = on_terminal(&rig, &["pin", "verify"], &[("PIN: ", INITIAL_PIN)]);
    assert_eq!(code, 0, "{transcript}");
    assert!(transcript.contains("PIN correct"), "{transcript}");
    assert!(!transcript.contains(INITIAL_PIN), "the PIN was echoed: {transcript}");

    // A new PIN is asked for twice; two different entries send nothing.
    let logged = rig.logged(Slot::Card).len();
    let (code, transcript) = on_terminal(
        &rig,
        &["pin", "change"],
        &[("Old PIN: ", INITIAL_PIN), ("New PIN: ", NEW_PIN), ("New PIN again: ", "802414")],
    );
    assert_eq!(code, 1, "{transcript}");
    assert!(transcript.contains("the two entries of the new PIN differ"), "{transcript}");
    assert_eq!(rig.logged(Slot::Card).len(), logged, "a refused PIN entry sent APDUs");

    let (code, transcript) = on_terminal(
        &rig,
        &["pin", "change"],
        &[("Old PIN: ", INITIAL_PIN), ("New PIN: ", NEW_PIN), ("New PIN again: ", NEW_PIN)],
    );
    assert_eq!(code, 0, "{transcript}");
    assert!(transcript.contains("PIN changed"), "{transcript}");
    assert!(!transcript.contains(INITIAL_PIN) && !transcript.contains(NEW_PIN), "echoed: {transcript}");
    ok(&rig, &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"));
}

/// `sscardctl script FILE --reader <the card's reader> ARGS…` straight
/// through the bench's pcscd, without the daemon.
fn script(bench: &Bench, file: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sscardctl"))
        .arg("script")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .args(["--reader", &bench.reader_name(Slot::Card)])
        .args(args)
        .env("PCSCLITE_CSOCK_NAME", bench.socket())
        .stdin(Stdio::null())
        .output()
        .expect("run sscardctl script");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The command APDUs a card's `--log` holds.
fn commands(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(" > ").map(|(_, apdu)| apdu.replace(' ', "")))
        .collect()
}

#[test]
fn script_selects_the_application_first() {
    const READ_CARD: &str = "apdu-scripts/ssse-gen2/read-card.apdu";
    const SELECT: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";
    let mut bench = Bench::start();
    let log = bench.dir().join("card.log");
    let log_arg = log.to_string_lossy().into_owned();
    let fresh = ["--gen", "2", "--log", log_arg.as_str()];
    bench.insert(Slot::Card, "card", &fresh);

    // A freshly inserted card, without the SELECT: its first READ RECORD
    // is refused, so the flag is what made the difference.
    let run = script(&bench, READ_CARD, &["--no-select"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("card-id.apdu:2:1") && run.stderr.contains("6985"), "{run:?}");
    assert!(!run.stdout.contains("identify.apdu"), "{run:?}");
    assert!(commands(&log).iter().all(|c| !c.starts_with("00A404")), "a SELECT was sent: {:?}", commands(&log));

    // Another fresh card: the profile's identify script runs first, and
    // the trace shows its SELECT before any other step.
    bench.remove(Slot::Card);
    std::fs::remove_file(&log).expect("remove the card log");
    bench.insert(Slot::Card, "card", &fresh);
    let run = script(&bench, READ_CARD, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut lines = run.stdout.lines();
    assert!(lines.next().is_some_and(|l| l.starts_with("card: ")), "{run:?}");
    assert!(lines.next().is_some_and(|l| l.contains("identify.apdu:")), "{run:?}");
    let shown = lines.next().unwrap_or_default().replace([' ', '[', ']'], "");
    assert!(shown.starts_with(&format!("card>00A40400{}", &SELECT[10..])), "the SELECT is not first: {run:?}");
    assert!(run.stdout.contains("card-id.apdu:2") && run.stdout.contains("ok: "), "{run:?}");
    let sent = commands(&log);
    assert!(sent.first().is_some_and(|c| c.starts_with(SELECT)), "the card saw {sent:?}");

    // A script outside a profile directory has no identify script to run.
    let dir = tempfile::tempdir().expect("temp dir");
    let loose = dir.path().join("loose.apdu");
    std::fs::write(&loose, "card: 00 A4 04 00 [D15600000590] 00 -> 9000 | 6A82\n").expect("loose.apdu");
    let loose = loose.to_string_lossy().into_owned();
    let run = script(&bench, &loose, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not inside a profile directory") && run.stderr.contains("--no-select"), "{run:?}");
    let run = script(&bench, &loose, &["--no-select"]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// `sscardctl unified` with the library's encoding set by `encoding`.
fn unified(rig: &Rig, encoding: &str, args: &[&str], stdin: &str) -> (i32, Vec<u8>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscardctl"))
        .args(["--bus", &rig.bus.address(), "unified"])
        .args(args)
        .env("SSCARD_ENCODING", encoding)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sscardctl unified");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("output");
    let stdout = out.stdout;
    let first = stdout.iter().position(|b| *b == b'\n').expect("a first line");
    let code: i32 = String::from_utf8_lossy(&stdout[..first]).parse().expect("the return value");
    let mut info = stdout[first + 1..].to_vec();
    assert_eq!(info.pop(), Some(b'\n'), "pOutInfo ends the output with a line end");
    (code, info, out.status.code().expect("exit code"))
}

#[tokio::test]
async fn unified_functions_from_the_shell() {
    let rig = Rig::new(3, true).await;
    let record = holder_record();
    ok(&rig, &["write", &examples("holder.json").to_string_lossy()], "");
    let info = json(&rig, &["read"], "");
    let card_id = info["card_id"].as_str().expect("card_id").to_owned();
    let card_info = format!("{card_id}|X00000019|");

    // iReadCardBas, as a C caller gets it: GBK by default.
    let (code, bas, exit) = unified(&rig, "", &["iReadCardBas", "3"], "");
    assert_eq!((code, exit), (0, 0));
    let name = record["name"].as_str().expect("name");
    let (gbk_name, _, _) = encoding_rs::GBK.encode(name);
    assert!(bas.windows(gbk_name.len()).any(|w| w == &gbk_name[..]), "the name in GBK");
    let (code, bas, _) = unified(&rig, "UTF-8", &["iReadCardBas", "3"], "");
    let bas = String::from_utf8(bas).expect("UTF-8");
    assert_eq!(code, 0);
    assert_eq!(bas.split('|').count(), 12, "11 fields, each followed by |: {bas}");
    assert!(bas.starts_with(&format!("{}|11010519491231002X|X00000019|{card_id}|{name}|", &card_id[..6])), "{bas}");

    // iReadCard: the items asked for, in the order asked.
    let (code, out, _) =
        unified(&rig, "UTF-8", &["iReadCard", "3", "2", &card_info, "SSSEEF05|07|05|$SSSEEF06|08|0B|$"], "");
    assert_eq!(
        (code, String::from_utf8(out).expect("UTF-8").as_str()),
        (0, "SSSEEF05|X00000019|20261125|$SSSEEF06|11010519491231002X|05|$")
    );

    // Refusals: their codes and one-line messages, nothing sent.
    let before = rig.logged(Slot::Card).len();
    for (args, want, words) in [
        (vec!["iReadCardBas", "2"], -1, "卡类型不对"),
        (vec!["iReadCard", "3", "2", &card_info, "SSSEEF99|01|$"], -14, "SSSEEF99"),
        (vec!["iReadCard", "3", "2", &card_info, "SSSEEF06|08:1|$"], -14, "tag:recno"),
        (vec!["iReadCard", "3", "2", "1234|X00000019|", "SSSEEF05|07|$"], -20, "卡识别码格式错"),
        (vec!["iReadCardBas_HSM_Step2", "00|00|"], -14, "Step1"),
        (
            vec!["iWriteCard", "3", &card_info, "SSSEEF06|08|0A|0D|$", "SSSEEF06|11010519491231002X|2|19500101|$"],
            -23,
            "birth_date",
        ),
    ] {
        let (code, out, exit) = unified(&rig, "UTF-8", &args, "");
        let out = String::from_utf8(out).expect("UTF-8");
        assert_eq!((code, exit), (want, 1), "{args:?}: {out}");
        assert!(out.contains(words) && !out.contains('\n'), "{args:?}: {out}");
    }
    // The debit functions answer -13 and write nothing, as the library's do.
    let (code, out, _) = unified(&rig, "UTF-8", &["iDoDebit", "3"], "");
    assert_eq!((code, out.len()), (-13, 0));
    assert_eq!(rig.logged(Slot::Card).len(), before, "refused input sent APDUs");

    // A card that is not the one named: -22.
    let (code, _, _) =
        unified(&rig, "UTF-8", &["iReadCard", "3", "2", &format!("{card_id}|X00000020|"), "SSSEEF05|07|$"], "");
    assert_eq!(code, -22);

    // PINs from standard input: right, then wrong with the tries left.
    let (code, _, _) = unified(&rig, "UTF-8", &["--pin-stdin", "iVerifyPIN", "3"], "123456\n");
    assert_eq!(code, 0);
    let (code, out, _) = unified(&rig, "UTF-8", &["--pin-stdin", "iVerifyPIN", "3"], "654321\n");
    assert_eq!((code, String::from_utf8(out).expect("UTF-8").as_str()), (-51, "PIN校验失败，剩余次数2次"));
    let (code, _, _) = unified(&rig, "UTF-8", &["--pin-stdin", "iChangePIN", "3"], "123456\n135790\n246801\n");
    assert_eq!(code, -34, "two different new PINs");
}

/// `sscardctl unified` runs a whole HSM session from its Step1: each later
/// step's arguments come on standard input once the back end (here the
/// simulator's `sscard-sim hsm`) has answered the step before; a card
/// without a PSAM is read, and its PIN reloaded with the new PIN from
/// `--pin-stdin`.
#[tokio::test]
async fn unified_hsm_sessions_from_the_shell() {
    let rig = Rig::new(2, false).await;
    let back_end = |line: &str, first: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sscard-sim"));
        command.arg("hsm").arg(line);
        if let Some(first) = first {
            command.arg(first);
        }
        let out = command.output().expect("sscard-sim hsm");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let session = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sscardctl"))
            .args(["--bus", &rig.bus.address(), "unified"])
            .args(args)
            .env("SSCARD_ENCODING", "UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sscardctl unified");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        (child, stdin, stdout)
    };
    let answer = |stdout: &mut BufReader<std::process::ChildStdout>| {
        let (mut code, mut text) = (String::new(), String::new());
        stdout.read_line(&mut code).expect("code");
        stdout.read_line(&mut text).expect("pOutInfo");
        (code.trim().parse::<i32>().unwrap_or_else(|_| panic!("{code:?}")), text.trim_end_matches('\n').to_owned())
    };

    let (mut child, mut stdin, mut stdout) = session(&["iReadCardBas_HSM_Step1", "3"]);
    let (code, step1) = answer(&mut stdout);
    assert_eq!(code, 0, "{step1}");
    let card_id = step1.split('|').nth(3).expect("the card identifier").to_owned();
    writeln!(stdin, "{}", back_end(&step1, None)).expect("pKey");
    let (code, bas) = answer(&mut stdout);
    assert_eq!(code, 0, "{bas}");
    assert_eq!(bas.split('|').nth(3), Some(card_id.as_str()));
    assert_eq!(bas.split('|').nth(9), Some("000000000000"), "{bas}");
    drop(stdin);
    assert!(child.wait().expect("exit").success());

    let card_info = format!("{card_id}||");
    let (mut child, mut stdin, mut stdout) = session(&["--pin-stdin", "iReloadPIN_HSM_Step1", "1", &card_info]);
    let (code, step1) = answer(&mut stdout);
    assert_eq!(code, 0, "{step1}");
    writeln!(stdin, "\n{NEW_PIN}\n{NEW_PIN}").expect("an empty pKey, then the new PIN twice");
    let (code, step2) = answer(&mut stdout);
    assert_eq!(code, 0, "{step2}");
    writeln!(stdin, "{}", back_end(&step2, Some(&step1))).expect("the command with its MAC");
    assert_eq!(answer(&mut stdout), (0, String::new()));
    drop(stdin);
    assert!(child.wait().expect("exit").success());
    let out = ok(&rig, &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"));
    assert!(out.contains("PIN correct"), "{out}");
}
