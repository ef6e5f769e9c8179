//! The demo: a counter's whole workflow through the daemon. A private bench
//! (pcscd + vpcd, a PSAM and a blank gen3 card from the simulator), a
//! private D-Bus bus, `sscardd` on it, and then the operator's client,
//! the real `sscardctl` binary, for every step: list the readers, read the
//! blank card, personalise it, read it back (table, legacy line, photo),
//! activate it with the holder's new PIN, and check the PIN.
//!
//! With `--hsm` (`scripts/demo --hsm`) it is a counter without a PSAM: the
//! keys sit in its back end's encryption machine, which `sscard-sim hsm`
//! plays with the test keys. The counter falls back from `iReadCardBas`
//! (-2201) to the HSM functions of `sscardctl unified`, each session held
//! by the daemon between the steps: read the blank card, personalise it,
//! read it back, reload the PIN and check it, unblock it.
//!
//! With `--ifd` (either way) the bench's readers are on sscard-ifd, the
//! simulator's own pcscd driver, instead of vpcd: one reader whose second
//! slot holds the PSAM.
//!
//! Run it with `scripts/demo`. Any step that fails ends it with exit code 1.

use sscard_testkit as support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use support::bench::{Bench, IfdReader, IfdSlot, Slot};
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
            .env("SSCARD_ENCODING", "UTF-8")
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

/// A private bus and sscardd on it, with a configuration that names the
/// terminal device; the configuration's path.
fn start_daemon(bench: &Bench) -> Result<(PrivateBus, Sscardd, String), String> {
    let bus = PrivateBus::start(bench.dir(), None);
    let config = bench.dir().join("sscardd.toml");
    std::fs::write(&config, format!("terminal_device = \"{TERMINAL_DEVICE}\"\n"))
        .map_err(|e| format!("config: {e}"))?;
    let config_arg = config.to_string_lossy().into_owned();
    let daemon = Sscardd::start(bench, &bus, &["--config", &config_arg]);
    Ok((bus, daemon, config_arg))
}

/// The bench: vpcd's, or with `--ifd` one two-slot reader on sscard-ifd.
fn start_bench(ifd: bool) -> Bench {
    let bench = if ifd {
        Bench::start_ifd(&[IfdReader::new(&[IfdSlot::default(), IfdSlot::default()])])
    } else {
        Bench::start()
    };
    let driver = if ifd { "sscard-ifd" } else { "vpcd" };
    println!("bench: private pcscd with the {driver} driver, socket {}", bench.socket().display());
    bench
}

fn demo(ifd: bool) -> Result<(), String> {
    let ctl = ctl_binary()?;
    println!("sscard demo: a counter's workflow through sscardd, driven by sscardctl");
    let mut bench = start_bench(ifd);
    bench.insert(Slot::Sam, "psam", &[]);
    println!("bench: a PSAM in {:?}", bench.reader_name(Slot::Sam));
    bench.insert(Slot::Card, "card", &["--gen", "3"]);
    println!("bench: a blank gen3 card in {:?} (card id only, initial PIN, LCS 04)", bench.reader_name(Slot::Card));
    let (bus, _daemon, config_arg) = start_daemon(&bench)?;
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

/// `sscard-sim`, beside `sscardctl`.
fn sim_binary(ctl: &Path) -> PathBuf {
    ctl.with_file_name("sscard-sim")
}

/// The back end's answer to a step's output line: `sscard-sim hsm`.
fn back_end(sim: &Path, line: &str, first: &str) -> Result<String, String> {
    let out = Command::new(sim)
        .args(["hsm", line, first])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sim.display()))?;
    if !out.status.success() {
        return Err(format!("sscard-sim hsm: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Counter {
    /// One HSM session through `sscardctl unified`: its Step1, then each
    /// later step with the back end's answer to the step before (and
    /// `extra` after a TAB, a write's data; `pins` for a reload's Step2).
    /// Answers every step's output.
    fn hsm(
        &mut self,
        title: &str,
        function: &str,
        args: &[&str],
        extra: &str,
        pins: &[&str],
    ) -> Result<Vec<String>, String> {
        self.step += 1;
        println!("\n== {}. {title}", self.step);
        let pin_stdin = !pins.is_empty();
        let mut command = Command::new(&self.ctl);
        command.args(["--bus", &self.bus, "unified"]);
        if pin_stdin {
            command.arg("--pin-stdin");
        }
        command.arg(function).args(args).env("SSCARD_ENCODING", "UTF-8");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("sscardctl: {e}"))?;
        let mut input = child.stdin.take().ok_or("sscardctl's stdin")?;
        let mut output = BufReader::new(child.stdout.take().ok_or("sscardctl's stdout")?);
        let mut answer = |name: &str| -> Result<String, String> {
            let (mut code, mut text) = (String::new(), String::new());
            output.read_line(&mut code).map_err(|e| format!("sscardctl: {e}"))?;
            output.read_line(&mut text).map_err(|e| format!("sscardctl: {e}"))?;
            let (code, text) = (code.trim().to_owned(), text.trim_end_matches('\n').to_owned());
            println!("  {name} → {code}  {text}");
            if code == "0" {
                Ok(text)
            } else {
                Err(format!("step {} ({title}): {name} answered {code}: {text}", self.step))
            }
        };
        println!(
            "$ sscardctl unified {}{function} {}",
            if pin_stdin { "--pin-stdin " } else { "" },
            args.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ")
        );
        let first = answer(function)?;
        let mut outputs = vec![first.clone()];
        let later: &[&str] = if function.starts_with("iReloadPIN") || function.starts_with("iUnblockPIN") {
            &["Step2", "Step3"]
        } else {
            &["Step2"]
        };
        for (i, step) in later.iter().enumerate() {
            let last = outputs.last().cloned().unwrap_or_default();
            // A reload's or unblock's Step2 takes an empty pKey: no external authentication.
            let key = if later.len() == 2 && i == 0 {
                String::new()
            } else {
                back_end(&sim_binary(&self.ctl), &last, &first)?
            };
            let shown = if key.is_empty() { "(empty)".to_owned() } else { key.clone() };
            println!("  back end: $ sscard-sim hsm '{last}' → pKey {shown}");
            let mut line = key;
            if !extra.is_empty() {
                line.push('\t');
                line.push_str(extra);
            }
            writeln!(input, "{line}").map_err(|e| format!("sscardctl: {e}"))?;
            if i == 0 {
                for pin in pins {
                    writeln!(input, "{pin}").map_err(|e| format!("sscardctl: {e}"))?;
                }
            }
            input.flush().map_err(|e| format!("sscardctl: {e}"))?;
            outputs.push(answer(&function.replace("Step1", step))?);
        }
        drop(input);
        let _ = child.wait();
        Ok(outputs)
    }
}

/// The counter without a PSAM.
fn demo_hsm(ifd: bool) -> Result<(), String> {
    let ctl = ctl_binary()?;
    println!("sscard demo --hsm: a counter without a PSAM; the keys sit in its back end's encryption machine");
    let mut bench = start_bench(ifd);
    bench.insert(Slot::Card, "card", &["--gen", "3"]);
    println!("bench: a blank gen3 card in {:?}, and no PSAM", bench.reader_name(Slot::Card));
    let (bus, _daemon, config_arg) = start_daemon(&bench)?;
    println!("bus: private D-Bus at {}; sscardd --authorization none --config {config_arg}", bus.address());
    println!("the back end: sscard-sim hsm, with the test keys of docs/card-profile.md section 7");
    let mut counter = Counter { ctl, bus: bus.address(), step: 0 };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !counter.run_quiet(&["readers"], "")?.1.contains("ssse") {
        if Instant::now() > deadline {
            return Err("the daemon never showed the card".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    counter.step("the readers the daemon sees: a card, no PSAM", &["readers"], "")?;
    counter.step += 1;
    println!(
        "\n== {}. iReadCardBas needs the PSAM: -2201, so the counter falls back to the HSM functions",
        counter.step
    );
    println!("$ sscardctl unified iReadCardBas 3");
    let (_, out, _) = counter.run_quiet(&["unified", "iReadCardBas", "3"], "")?;
    for line in out.lines() {
        println!("  {line}");
    }
    if !out.starts_with("-2201") {
        return Err(format!("iReadCardBas without a PSAM answered {out}"));
    }
    let blank = counter.hsm("read the blank card (two steps)", "iReadCardBas_HSM_Step1", &["3"], "", &[])?;
    let card_id = blank[0].split('|').nth(3).unwrap_or_default().to_owned();
    let addr = "SSSEEF05|02|03|04|05|06|07|$SSSEEF06|08|09|0A|0B|0C|0D|$";
    let data = "SSSEEF05|3|3.00|SZ-CARD-CTR|20261125|20361125|X00000019|$SSSEEF06|11010519491231002X|张三|2|05|653101|19491231|$";
    counter.hsm(
        "personalise: external authentication with the back end's cryptogram, then the records",
        "iWriteCard_HSM_Step1",
        &["1", &format!("{card_id}||"), addr],
        data,
        &[],
    )?;
    let bas = counter.hsm(
        "read it back: the eleven fields, terminal number 000000000000",
        "iReadCardBas_HSM_Step1",
        &["3"],
        "",
        &[],
    )?;
    if !bas[1].contains("|000000000000|") {
        return Err(format!("no terminal number 000000000000 in {}", bas[1]));
    }
    let card_info = format!("{card_id}|X00000019|");
    counter.hsm("a generic read of EF06", "iReadCard_HSM_Step1", &["1", &card_info, "SSSEEF06|08|09|0D|$"], "", &[])?;
    counter.hsm(
        "reload the PIN: the back end MACs the command (three steps)",
        "iReloadPIN_HSM_Step1",
        &["1", &card_info],
        "",
        &[NEW_PIN, NEW_PIN],
    )?;
    counter.step("the holder checks the reloaded PIN", &["pin", "verify", "--pin-stdin"], &format!("{NEW_PIN}\n"))?;
    counter.hsm("unblock the PIN's counter", "iUnblockPIN_HSM_Step1", &["1", &card_info], "", &[])?;
    counter.step("the PIN's state", &["pin", "status"], "")?;
    println!(
        "\ndemo finished: a counter without a PSAM read, personalised and served the card through HSM sessions in sscardd"
    );
    Ok(())
}

fn main() -> ExitCode {
    let hsm = std::env::args().any(|a| a == "--hsm");
    let ifd = std::env::args().any(|a| a == "--ifd");
    match if hsm { demo_hsm(ifd) } else { demo(ifd) } {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
