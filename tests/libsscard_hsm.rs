//! libsscard's HSM functions (`docs/unified-interface.md` section 7) as
//! counter software without a PSAM calls them: the library staged with
//! `make install-lib DESTDIR=…`, `tests/c/hsm_flow.c` compiled by `cc`
//! against the installed header and linked through `pkg-config`, one
//! process per session (the library holds it between the steps), against
//! sscardd on a private bus, on gen3 and gen2 cards with no PSAM. The
//! simulator's test back end (`sscard_sim::hsm`) answers each step as the
//! encryption machine would. The library's and the daemon's logs, at
//! trace level, are scanned for the back end's values and the PIN.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use sscard_client::Dict;
use sscard_sim::crypto::Algorithm;
use sscard_sim::hsm;
use support::bench::Slot;
use support::client::*;
use support::run_ok;

const REGION: &str = "440305";
const SERIAL: &str = "0102030405060708";
const CARD_ID: &str = "440305D1560000050102030405060708";
const CARD_INFO: &str = "440305D1560000050102030405060708|X00000019|";
const TERMINAL_DEVICE: &str = "T0001";
const NEW_PIN: &str = "580264";
const PHOTO_LEN: usize = 700;

fn atr_historical(generation: u8) -> &'static str {
    if generation == 3 { "80730000C0" } else { "00814E43238697159900BF7C7A" }
}

/// `make install-lib DESTDIR=…` and `hsm_flow` compiled against it.
struct Staged {
    _root: tempfile::TempDir,
    libdir: PathBuf,
    flow: PathBuf,
}

impl Staged {
    fn new() -> Staged {
        let root = tempfile::Builder::new().prefix("sscard-lib-hsm-").tempdir().expect("root");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let exe = std::env::current_exe().expect("own path");
        let build = exe.parent().expect("deps dir").to_path_buf();
        run_ok(
            Command::new("make")
                .current_dir(manifest)
                .args(["-s", "install-lib"])
                .arg(format!("DESTDIR={}", root.path().display()))
                .arg(format!("LIB_BUILD_DIR={}", build.display())),
            "make install-lib",
        );
        let lib = root.path().join("usr/lib");
        let libdir = if lib.join("libsscard.so.1").exists() {
            lib
        } else {
            std::fs::read_dir(&lib)
                .expect("usr/lib")
                .flatten()
                .map(|e| e.path())
                .find(|p| p.join("libsscard.so.1").exists())
                .expect("libsscard.so.1 staged")
        };
        let out = run_ok(
            Command::new("pkg-config")
                .args(["--cflags", "--libs", "sscard"])
                .env("PKG_CONFIG_PATH", libdir.join("pkgconfig"))
                .env("PKG_CONFIG_SYSROOT_DIR", root.path())
                .env("PKG_CONFIG_ALLOW_SYSTEM_CFLAGS", "1")
                .env("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1"),
            "pkg-config",
        );
        let flags: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect();
        let flow = root.path().join("hsm_flow");
        run_ok(
            Command::new("cc")
                .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
                .arg(manifest.join("tests/c/hsm_flow.c"))
                .args(&flags)
                .arg("-o")
                .arg(&flow),
            "cc hsm_flow.c",
        );
        Staged { _root: root, libdir, flow }
    }
}

/// A pinentry that answers each `GETPIN` with the next line of its `pins`
/// file (as tests/libsscard.rs's).
fn fake_pinentry(dir: &Path, pins: &[&str]) -> PathBuf {
    let script = format!(
        "#!/bin/sh\nd='{dir}'\necho 'OK fake pinentry'\nwhile IFS= read -r line; do\n  case \"$line\" in\n    \
         GETPIN*) pin=$(head -n 1 \"$d/pins\"); sed -i 1d \"$d/pins\";\n      \
         if [ -z \"$pin\" ]; then echo 'ERR 83886179 Operation cancelled <Pinentry>'; else printf 'D %s\\nOK\\n' \"$pin\"; fi ;;\n    \
         BYE*) echo 'OK closing connection'; exit 0 ;;\n    *) echo OK ;;\n  esac\ndone\n",
        dir = dir.display()
    );
    let path = dir.join("pinentry");
    std::fs::write(&path, script).expect("pinentry");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let text: String = pins.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(dir.join("pins"), text).expect("pins");
    path
}

/// One running `hsm_flow`: a session of the library in one process.
struct Flow {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Flow {
    /// The next step's answer: its code and `pOutInfo`.
    fn answer(&mut self) -> (i64, Vec<u8>) {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("code");
        let rc: i64 = line.trim().parse().unwrap_or_else(|_| panic!("no answer: {line:?}"));
        line.clear();
        self.stdout.read_line(&mut line).expect("length");
        let len: usize = line.trim().parse().expect("length");
        let mut out = vec![0; len + 1];
        self.stdout.read_exact(&mut out).expect("pOutInfo");
        out.pop();
        (rc, out)
    }

    fn ok(&mut self) -> String {
        let (rc, out) = self.answer();
        let text = encoding_rs::GBK.decode(&out).0.into_owned();
        assert_eq!(rc, 0, "{text}");
        text
    }

    fn send(&mut self, line: &[u8]) {
        self.stdin.write_all(line).expect("send");
        self.stdin.write_all(b"\n").expect("send");
        self.stdin.flush().expect("flush");
    }

    fn finish(mut self) -> String {
        drop(self.stdin);
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "hsm_flow: {status}");
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

struct Lib {
    staged: Staged,
    bus: String,
    pinentry: Option<PathBuf>,
    log: bool,
}

impl Lib {
    fn flow(&self, args: &[&[u8]]) -> Flow {
        let mut command = Command::new(&self.staged.flow);
        for a in args {
            command.arg(std::ffi::OsStr::from_bytes_compat(a));
        }
        for key in ["SSCARD_READER", "SSCARD_ENCODING", "SSCARD_PINENTRY", "SSCARD_LOG", "RUST_LOG"] {
            command.env_remove(key);
        }
        command.env("LD_LIBRARY_PATH", &self.staged.libdir).env("SSCARD_BUS", &self.bus);
        if let Some(p) = &self.pinentry {
            command.env("SSCARD_PINENTRY", p);
        }
        if self.log {
            command.env("SSCARD_LOG", "trace");
        }
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("hsm_flow");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Flow { child, stdin, stdout }
    }
}

trait FromBytes {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr;
}

impl FromBytes for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(b)
    }
}

/// The back end's answer to a step's output line.
fn back_end(line: &str, first: Option<&str>) -> String {
    hsm::answer(line, first, None).unwrap_or_else(|e| panic!("back end: {e}"))
}

async fn rig(generation: u8, filter: &str) -> Rig {
    let dir = tempfile::tempdir().expect("config dir").keep();
    let config = dir.join("sscardd.toml");
    std::fs::write(&config, format!("terminal_device = \"{TERMINAL_DEVICE}\"\n")).expect("config");
    let mut rig = Rig::empty_logged(2, &["--config", &config.to_string_lossy()], filter).await;
    rig.insert_card(Slot::Card, generation, &["--region", REGION, "--serial", SERIAL]).await;
    rig
}

/// Personalises the card through an HSM session on the bus (no PSAM).
async fn personalize(rig: &Rig, generation: u8) {
    let reader = rig.reader(Slot::Card).await;
    let (path, first) = reader.begin_hsm("write", no_opts()).await.expect("BeginHsm write");
    let f: [u8; 8] = bytes(&first, "factor").unwrap().try_into().unwrap();
    let alg = Algorithm::from_code(bytes(&first, "algorithm").unwrap()[0]).unwrap();
    let original = bytes(&first, "original").unwrap();
    let mut args = Dict::new();
    args.insert("cryptogram".into(), bytes_value(&hsm::cryptogram(alg, None, 0x04, &f, &original)));
    args.insert("original".into(), bytes_value(&original));
    let mut record = holder_dict(generation, Some(PHOTO_LEN));
    record.insert("name".into(), string_value("张三"));
    args.insert("record".into(), zbus::OwnedVariant::try_from(zbus::Variant::from(record)).unwrap());
    let session = sscard_client::HsmSession1Proxy::builder(&rig.conn).path(path).build().await.unwrap();
    session.continue_(args).await.expect("write");
}

fn fields(text: &str) -> Vec<&str> {
    let body = text.strip_suffix('|').unwrap_or_else(|| panic!("ends with |: {text}"));
    body.split('|').collect()
}

async fn every_function(generation: u8) {
    let rig = rig(generation, "trace").await;
    personalize(&rig, generation).await;
    let dir = tempfile::tempdir().expect("pinentry dir");
    let pinentry = fake_pinentry(dir.path(), &[NEW_PIN, NEW_PIN]);
    let lib = Lib { staged: Staged::new(), bus: rig.bus.address(), pinentry: Some(pinentry), log: true };
    let mut secrets: Vec<String> = Vec::new();
    let mut library_log = String::new();

    // Read basic information.
    let mut flow = lib.flow(&[b"bas", b"1"]);
    let step1 = flow.ok();
    let f1 = fields(&step1);
    assert_eq!(f1.len(), 8, "{step1}");
    assert_eq!((f1[0], f1[1], f1[3]), (REGION, atr_historical(generation), CARD_ID));
    assert_eq!(f1[2], if generation == 3 { "03" } else { "01" });
    assert_eq!(f1[4], &CARD_ID[16..]);
    if generation == 2 {
        assert_eq!((f1[6], f1[7]), ("", ""), "gen2: no external authentication");
    } else {
        assert_eq!((f1[6].len(), f1[7].len()), (16, 16));
    }
    let key = back_end(&step1, None);
    secrets.extend(key.split('|').filter(|p| !p.is_empty()).map(|p| p[..p.len() - 16].to_owned()));
    flow.send(key.as_bytes());
    let bas = flow.ok();
    let spec = if generation == 3 { "3.00" } else { "2.00" };
    let expected = format!(
        "{REGION}|{SSN}|X00000019|{CARD_ID}|张三|{}|{spec}|20261125|20361125|000000000000|{TERMINAL_DEVICE}|",
        atr_historical(generation)
    );
    assert_eq!(bas, expected);
    library_log.push_str(&flow.finish());

    // Generic read of EF06 and the photo.
    let mut flow = lib.flow(&[b"read", b"1", CARD_INFO.as_bytes(), b"SSSEEF06|08|09|$SSSEEF08|$"]);
    let step1 = flow.ok();
    let f1 = fields(&step1);
    assert_eq!((f1.len(), f1[1], f1[2]), (4, "000A", &CARD_ID[16..]), "{step1}");
    let key = back_end(&step1, None);
    secrets.push(key[..key.len() - 16].to_owned());
    flow.send(key.as_bytes());
    let read = flow.ok();
    let photo = hex::encode_upper(jpeg(PHOTO_LEN));
    assert_eq!(read, format!("SSSEEF06|{SSN}|张三|$SSSEEF08|{photo}|$"));
    library_log.push_str(&flow.finish());

    // Generic write, then read back.
    let mut flow = lib.flow(&[b"write", b"1", CARD_INFO.as_bytes(), b"SSSEEF05|04|05|06|$"]);
    let step1 = flow.ok();
    assert_eq!(fields(&step1)[1], "0004");
    flow.send(back_end(&step1, None).as_bytes());
    flow.send(b"SSSEEF05|RSJ-440305|20270301|20370301|$");
    assert_eq!(flow.ok(), "");
    library_log.push_str(&flow.finish());
    let mut flow = lib.flow(&[b"read", b"1", CARD_INFO.as_bytes(), b"SSSEEF05|04|05|06|$"]);
    let step1 = flow.ok();
    flow.send(back_end(&step1, None).as_bytes());
    assert_eq!(flow.ok(), "SSSEEF05|RSJ-440305|20270301|20370301|$");
    library_log.push_str(&flow.finish());

    // Reload (the new PIN from the pinentry), then verify it.
    let mut flow = lib.flow(&[b"reload", b"1", CARD_INFO.as_bytes()]);
    let step1 = flow.ok();
    let f1 = fields(&step1);
    // `algorithm|000B|F||`: four fields, the original empty (no external
    // authentication).
    assert_eq!((f1.len(), f1[1], f1[3]), (4, "000B", ""), "{step1}");
    flow.send(b"");
    let step2 = flow.ok();
    let f2 = fields(&step2);
    assert_eq!((f2[1], f2[3], f2[4]), ("000B", "805E000007", NEW_PIN), "{step2}");
    let apdu = back_end(&step2, Some(&step1));
    secrets.push(apdu[apdu.len() - 8..].to_owned());
    flow.send(apdu.as_bytes());
    assert_eq!(flow.ok(), "");
    library_log.push_str(&flow.finish());
    let reader = rig.reader(Slot::Card).await;
    assert_eq!(reader.verify_pin(NEW_PIN, no_opts()).await.expect("verify"), (true, 3));

    // Unblock a blocked PIN.
    for _ in 0..3 {
        let _ = reader.verify_pin("999999", opts(&[("allow_last_try", true)])).await.expect("verify");
    }
    assert!(reader.get_pin_status(no_opts()).await.expect("status").1);
    let mut flow = lib.flow(&[b"unblock", b"1", CARD_INFO.as_bytes()]);
    let step1 = flow.ok();
    flow.send(b"");
    let step2 = flow.ok();
    assert_eq!(fields(&step2)[3], "8424000004");
    flow.send(back_end(&step2, Some(&step1)).as_bytes());
    assert_eq!(flow.ok(), "");
    library_log.push_str(&flow.finish());
    assert_eq!(reader.get_pin_status(no_opts()).await.expect("status"), (3, false));

    // No back-end value and no PIN in the library's or the daemon's trace.
    let daemon_log = support::without_timestamps(&rig.daemon.log_text());
    let library_log = support::without_timestamps(&library_log);
    assert!(library_log.contains("TRACE") || library_log.contains("DEBUG"), "the library logged nothing");
    for (name, log) in [("library", &library_log), ("daemon", &daemon_log)] {
        for secret in &secrets {
            let raw = hex::decode(secret).expect("hex");
            assert!(!log.to_uppercase().contains(secret.as_str()), "{secret} in the {name}'s log");
            let spaced: Vec<String> = raw.iter().map(|b| format!("{b:02X}")).collect();
            for form in [format!("{raw:?}"), format!("{raw:02X?}"), spaced.join(" ")] {
                assert!(!log.contains(&form), "{form} in the {name}'s log");
            }
        }
        assert!(!log.contains(NEW_PIN), "the PIN in the {name}'s log");
    }
}

#[tokio::test]
async fn every_hsm_function_on_gen3_without_a_psam() {
    every_function(3).await;
}

#[tokio::test]
async fn every_hsm_function_on_gen2_without_a_psam() {
    every_function(2).await;
}

/// The card's command APDUs since `before`.
fn since(rig: &Rig, before: usize) -> Vec<String> {
    rig.logged(Slot::Card)[before..].to_vec()
}

#[tokio::test]
async fn refusals_through_the_library() {
    let rig = rig(3, "debug").await;
    personalize(&rig, 3).await;
    let lib = Lib { staged: Staged::new(), bus: rig.bus.address(), pinentry: None, log: false };

    // A wrong internal result: -21, and no EXTERNAL AUTHENTICATE.
    let mut flow = lib.flow(&[b"bas", b"1"]);
    let step1 = flow.ok();
    let key = back_end(&step1, None);
    let mut wrong = key.into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let before = rig.logged(Slot::Card).len();
    flow.send(&wrong);
    assert_eq!(flow.answer().0, -21);
    flow.finish();
    let sent = since(&rig, before);
    assert!(!sent.iter().any(|a| a.starts_with("0082") || a.starts_with("00 82")), "{sent:?}");

    // Another original: -22, with no APDU.
    let mut flow = lib.flow(&[b"bas", b"1"]);
    let step1 = flow.ok();
    let key = back_end(&step1, None);
    let (internal, external) = key.split_once('|').unwrap();
    let other = format!("{internal}|{}{}|", &external[..external.len() - 17], "1111111111111111");
    let before = rig.logged(Slot::Card).len();
    flow.send(other.as_bytes());
    assert_eq!(flow.answer().0, -22);
    flow.finish();
    assert_eq!(since(&rig, before), Vec::<String>::new());

    // A truncated pKey: -14, with no APDU.
    let mut flow = lib.flow(&[b"bas", b"1"]);
    let step1 = flow.ok();
    let key = back_end(&step1, None);
    let before = rig.logged(Slot::Card).len();
    flow.send(&key.as_bytes()[..key.len() - 3]);
    assert_eq!(flow.answer().0, -14);
    flow.finish();
    assert_eq!(since(&rig, before), Vec::<String>::new());

    // A Step3 command with a changed header: -22, with no APDU.
    let mut flow = lib.flow(&[b"unblock", b"1", CARD_INFO.as_bytes()]);
    let step1 = flow.ok();
    flow.send(b"");
    let step2 = flow.ok();
    let mut apdu = back_end(&step2, Some(&step1)).into_bytes();
    apdu[3] = if apdu[3] == b'4' { b'C' } else { b'4' };
    let before = rig.logged(Slot::Card).len();
    flow.send(&apdu);
    assert_eq!(flow.answer().0, -22);
    flow.finish();
    assert_eq!(since(&rig, before), Vec::<String>::new());

    // Another card's pCardInfo: -22.
    let mut flow = lib.flow(&[b"read", b"1", b"440305D1560000050102030405060709|X00000019|", b"SSSEEF06|08|$"]);
    assert_eq!(flow.answer().0, -22);
    flow.finish();

    // A Step2 without its Step1: -14.
    let mut flow = lib.flow(&[b"lone2", b"00|"]);
    assert_eq!(flow.answer().0, -14);
    flow.finish();
}
