//! The demo: a counter's whole workflow through the daemon. A private bench
//! (pcscd + vpcd, a PSAM and a blank gen3 card from the simulator), a
//! private D-Bus bus, `sscardd` on it, and then the operator's client,
//! the real `sscardctl` binary, for every step: list the readers, read the
//! blank card, personalise it, read it back (table, legacy line, photo),
//! activate it with the holder's new PIN, and check the PIN.
//!
//! Run it with `scripts/demo`. Any step that fails ends it with exit code 1.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use support::bench::{Bench, Slot};
use support::daemon::{PrivateBus, Sscardd};

const SSN: &str = "11010519491231002X";
const INITIAL_PIN: &str = "123456";
const NEW_PIN: &str = "802413";
const TERMINAL_DEVICE: &str = "SSCARDDEMO01";

/// `sscardctl`, beside the example's directory (`target/debug/`).
fn ctl_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let path = exe.parent().and_then(Path::parent).map(|dir| dir.join("sscardctl")).ok_or("no target directory")?;
    if path.is_file() { Ok(path) } else { Err(format!("{} is not built (cargo build --bins)", path.display())) }
}

fn source(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(file)
}

/// The counter's terminal: runs `sscardctl` on the private bus and shows
/// each step.
struct Counter {
    ctl: PathBuf,
    bus: String,
    step: usize,
}

impl Counter {
    /// `sscardctl --bus … ARGS`, quietly; (exit code, stdout, stderr).
    fn run_quiet(&self, args: &[&str], stdin: &str) -> Result<(i32, String, String), String> {
        let mut child = Command::new(&self.ctl)
            .args(["--bus", &self.bus])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.ctl.display()))?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).map_err(|e| format!("sscardctl's stdin: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("sscardctl: {e}"))?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// One step: its title, the command line, and what it printed. A
    /// non-zero exit ends the demo.
    fn step(&mut self, title: &str, args: &[&str], stdin: &str) -> Result<String, String> {
        self.step += 1;
        println!("\n== {}. {title}", self.step);
        let shown_stdin =
            if stdin.is_empty() { String::new() } else { format!("printf '{}' | ", stdin.escape_debug()) };
        println!("$ {shown_stdin}sscardctl {}", args.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" "));
        let (code, stdout, stderr) = self.run_quiet(args, stdin)?;
        for line in stdout.lines().chain(stderr.lines()) {
            println!("  {line}");
        }
        if code != 0 {
            return Err(format!("step {} ({title}) failed: sscardctl exited with {code}", self.step));
        }
        Ok(stdout)
    }

    /// Waits until the daemon has classified the card and the PSAM.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (code, stdout, stderr) = self.run_quiet(&["--json", "readers"], "")?;
            let ready = code == 0
                && serde_json::from_str::<serde_json::Value>(&stdout).is_ok_and(|v| {
                    let kinds: Vec<&str> =
                        v["readers"].as_array().into_iter().flatten().filter_map(|r| r["card_kind"].as_str()).collect();
                    kinds.contains(&"ssse") && kinds.contains(&"psam") && v["sam_reader"] != "/"
                });
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the daemon never showed the card and the PSAM: {stdout}{stderr}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A word of a shown command line: the source tree's files by their
/// relative path, quoted where the shell needs it.
fn shell_word(word: &str) -> String {
    let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    let word = word.strip_prefix(&root).unwrap_or(word);
    if word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c)) {
        word.to_owned()
    } else {
        format!("'{word}'")
    }
}

fn demo() -> Result<(), String> {
    let ctl = ctl_binary()?;
    println!("sscard demo: a counter's workflow through sscardd, driven by sscardctl");
    let mut bench = Bench::start();
    println!("bench: private pcscd with the vpcd driver, socket {}", bench.socket().display());
    bench.insert(Slot::Sam, "psam", &[]);
    println!("bench: a PSAM in {:?}", bench.reader_name(Slot::Sam));
    bench.insert(Slot::Card, "card", &["--gen", "3"]);
    println!("bench: a blank gen3 card in {:?} (card id only, initial PIN, LCS 04)", bench.reader_name(Slot::Card));
    let bus = PrivateBus::start(bench.dir(), None);
    let config = bench.dir().join("sscardd.toml");
    std::fs::write(&config, format!("terminal_device = \"{TERMINAL_DEVICE}\"\n"))
        .map_err(|e| format!("config: {e}"))?;
    let config_arg = config.to_string_lossy().into_owned();
    let _daemon = Sscardd::start(&bench, &bus, &["--config", &config_arg]);
    println!("bus: private D-Bus at {}", bus.address());
    println!("daemon: sscardd --bus {} --authorization none --config {config_arg}", bus.address());
    println!("every command below runs as: {} --bus {} …", ctl.display(), bus.address());

    let mut counter = Counter { ctl, bus: bus.address(), step: 0 };
    counter.wait_ready()?;
    let holder = source("examples/holder.json");
    let photo = source("examples/photo.jpg");
    let photo_back = bench.dir().join("photo-read.jpg");
    let (holder_arg, photo_arg) = (holder.to_string_lossy(), photo.to_string_lossy());
    let photo_back_arg = photo_back.to_string_lossy().into_owned();

    counter.step("the readers the daemon sees", &["readers"], "")?;
    counter.step("read the blank card", &["read"], "")?;
    counter.step(
        "personalise: the holder's record and photo, written through the PSAM and read back",
        &["write", &holder_arg, "--photo", &photo_arg],
        "",
    )?;
    counter.step("read the card back, with its photo", &["read", "--photo", &photo_back_arg], "")?;
    let (original, read_back) = (std::fs::read(&photo), std::fs::read(&photo_back));
    match (original, read_back) {
        (Ok(a), Ok(b)) if a == b => {
            println!("  the photo read back is identical to examples/photo.jpg ({} bytes)", a.len())
        }
        _ => return Err("the photo read back differs from examples/photo.jpg".to_owned()),
    }
    counter.step("the legacy iReadCardBas line", &["read", "--format", "bas"], "")?;
    counter.step(
        "the holder activates the card: initial PIN, then the new PIN (from stdin here; a prompt without echo otherwise)",
        &["activate", "--ssn", SSN, "--pin-stdin"],
        &format!("{INITIAL_PIN}\n{NEW_PIN}\n"),
    )?;
    counter.step("the PIN's state", &["pin", "status"], "")?;
    counter.step("the holder checks the new PIN", &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"))?;
    println!("\ndemo finished: the blank card is personalised, read back and activated, all through sscardd");
    Ok(())
}

fn main() -> ExitCode {
    match demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
