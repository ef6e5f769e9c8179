//! The reference pages in a real browser: sscard-bridge on a free loopback
//! port, and Debian's chromium driven by Selenium
//! (tests/python/pages_driver.py) over one JSON line per command. Used by
//! tests/pages.rs and benches/pages.rs (included by path, beside
//! `support`).

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// The system's Python, where Debian's python3-selenium is installed
/// (scripts/setup).
pub const PYTHON: &str = "/usr/bin/python3";

pub use crate::bridge::Bridge;

/// Chromium through the driver script; every command answers or panics.
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// chromedriver's PID, as the driver reported it.
    pub chromedriver: u32,
    /// Where screenshots go: the test's directory, and
    /// `SSCARD_SCREENSHOTS` when set.
    shots: Vec<PathBuf>,
}

impl Browser {
    pub fn start(dir: &Path) -> Browser {
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).expect("profile dir");
        let script = crate::source_root().join("tests/python/pages_driver.py");
        let mut child = crate::bench::die_with_parent(&mut Command::new(PYTHON))
            .arg(script)
            .arg(&profile)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("driver.stderr")).expect("driver log"))
            .spawn()
            .expect("python3 pages_driver.py");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let shots_dir = dir.join("screenshots");
        std::fs::create_dir_all(&shots_dir).expect("screenshots dir");
        let mut shots = vec![shots_dir];
        if let Some(extra) = std::env::var_os("SSCARD_SCREENSHOTS").filter(|d| !d.is_empty()) {
            let extra = crate::source_root().join(extra);
            std::fs::create_dir_all(&extra).expect("SSCARD_SCREENSHOTS dir");
            shots.push(extra);
        }
        let mut browser = Browser { child, stdin, lines, chromedriver: 0, shots };
        let started = browser.answer().unwrap_or_else(|e| panic!("the browser did not start: {e}; {}", dir.display()));
        browser.chromedriver = started["chromedriver"].as_u64().and_then(|p| u32::try_from(p).ok()).expect("pid");
        browser
    }

    fn answer(&mut self) -> Result<Value, String> {
        let line = self.lines.next().ok_or("the driver ended")?.map_err(|e| e.to_string())?;
        let answer: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
        match answer.get("ok") {
            Some(ok) => Ok(ok.clone()),
            None => Err(answer["error"].as_str().unwrap_or(&line).to_owned()),
        }
    }

    pub fn try_command(&mut self, command: Value) -> Result<Value, String> {
        writeln!(self.stdin, "{command}").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        self.answer()
    }

    pub fn command(&mut self, command: Value) -> Value {
        self.try_command(command.clone()).unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    pub fn viewport(&mut self, width: u32, height: u32) {
        self.command(json!({"cmd": "viewport", "width": width, "height": height}));
    }

    pub fn open(&mut self, url: &str) {
        self.command(json!({"cmd": "open", "url": url}));
    }

    /// Waits until the expression is truthy; its value.
    pub fn wait(&mut self, script: &str, timeout_s: f64) -> Value {
        self.command(json!({"cmd": "wait", "script": script, "timeout": timeout_s}))
    }

    pub fn eval(&mut self, script: &str) -> Value {
        self.command(json!({"cmd": "eval", "script": script}))
    }

    pub fn text(&mut self, css: &str) -> String {
        let script = format!("document.querySelector({}).textContent", json!(css));
        self.eval(&script).as_str().unwrap_or_default().to_owned()
    }

    pub fn click(&mut self, css: &str) {
        self.command(json!({"cmd": "click", "css": css}));
    }

    /// Clicks the keys of the keypad `pad`, one by one.
    pub fn keys(&mut self, pad: &str, keys: &[&str]) {
        self.command(json!({"cmd": "keys", "pad": pad, "keys": keys}));
    }

    pub fn type_into(&mut self, css: &str, text: &str) {
        self.command(json!({"cmd": "type", "css": css, "text": text}));
    }

    /// The kiosk's step (body's data-step).
    pub fn wait_step(&mut self, step: u8, timeout_s: f64) {
        self.wait(&format!("document.body.dataset.step === '{step}'"), timeout_s);
    }

    /// A screenshot of the viewport as `NAME.png` in each screenshot
    /// directory; the first path.
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        let paths: Vec<PathBuf> = self.shots.iter().map(|d| d.join(format!("{name}.png"))).collect();
        let size = self.command(json!({"cmd": "screenshot", "paths": paths}));
        assert!(size.as_u64().is_some_and(|n| n > 1000), "{name}: {size}");
        paths[0].clone()
    }

    /// A screenshot into the test's own directory only.
    pub fn screenshot_here(&mut self, name: &str) -> PathBuf {
        let path = self.shots[0].join(format!("{name}.png"));
        self.command(json!({"cmd": "screenshot", "paths": [&path]}));
        path
    }

    pub fn layout(&mut self) -> Value {
        self.command(json!({"cmd": "layout"}))
    }

    /// The console's entries since the last call, as "LEVEL message".
    pub fn console(&mut self) -> Vec<String> {
        let entries = self.command(json!({"cmd": "console"}));
        entries.as_array().expect("entries").iter().map(|e| e.as_str().unwrap_or_default().to_owned()).collect()
    }

    /// Ends the driver, which kills chromedriver and its chromium by PID;
    /// checks that none of them is left.
    pub fn quit(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"cmd": "quit"}));
        let _ = self.stdin.flush();
        let killed = self.answer().expect("the driver's last answer");
        let status = self.child.wait().expect("driver");
        assert!(status.success(), "the driver failed: {status}");
        let killed: Vec<u64> = killed["killed"].as_array().expect("killed").iter().filter_map(Value::as_u64).collect();
        assert!(killed.contains(&u64::from(self.chromedriver)), "chromedriver was not among {killed:?}");
        assert!(killed.len() > 1, "no chromium process under chromedriver: {killed:?}");
        for pid in killed {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie of another parent about to be reaped.
            let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
            assert!(stat.is_empty() || state == "Z", "process {pid} is still running: {stat}");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SIGTERM: the driver kills chromedriver and chromium first.
            crate::bench::terminate(&mut self.child);
        }
    }
}

/// Every form in which a secret could leak into a log: as it is, its ASCII
/// in hex, its bytes listed, and for digits their BCD.
pub fn forms(secret: &str) -> Vec<String> {
    let ascii_hex = hex::encode(secret.as_bytes());
    let mut out = vec![secret.to_owned(), ascii_hex.clone(), ascii_hex.to_uppercase()];
    out.push(format!("{:?}", secret.as_bytes()));
    if secret.bytes().all(|b| b.is_ascii_digit()) && secret.len().is_multiple_of(2) {
        let bcd: Vec<u8> = secret.as_bytes().chunks(2).map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0')).collect();
        out.push(format!("{bcd:?}"));
        out.push(format!("{bcd:02X?}"));
        out.push(hex::encode_upper(&bcd));
    }
    out
}

/// Asserts that no line of `log` (past its timestamp) holds a secret in
/// any of its forms.
pub fn assert_no_secrets(log: &str, secrets: &[&str]) {
    let mut all: Vec<String> = Vec::new();
    for secret in secrets {
        all.extend(forms(secret));
        if !secret.is_ascii() {
            all.push(hex::encode_upper(secret.as_bytes()));
            all.push(base64_of(secret.as_bytes()));
        } else {
            all.push(base64_of(secret.as_bytes()));
        }
    }
    assert!(log.contains("TRACE"), "not logging at trace level:\n{log}");
    for line in log.lines() {
        let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
        for secret in &all {
            assert!(!body.contains(secret.as_str()), "a log line holds {secret:?}: {line}");
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
