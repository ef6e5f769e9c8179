//! libsscard as counter software uses it: staged with `make install-lib
//! DESTDIR=…`, a C program compiled by the system's `cc` against the
//! installed `sscard.h` and linked with `-lsscard` through `pkg-config`,
//! run with `LD_LIBRARY_PATH` on the staged libdir, against sscardd on a
//! private bus (`SSCARD_BUS`) over the bench's gen3 and gen2 cards and
//! PSAM. Also from Python (ctypes) and C++ (the header's guards), from four
//! threads at once, and with every log at trace level scanned for PINs.
//!
//! Every call goes through `tests/c/sscard_call.c`, whose `pOutInfo` is the
//! interface's size followed by a guard region: a write past the bound
//! fails the call. Refusals of input are checked to send no APDU (the
//! simulator's log). PINs come from a fake pinentry (an Assuan server that
//! answers `GETPIN` from a list the test writes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::bench::Slot;
use support::client::*;
use support::run_ok;

const REGION: &str = "440305";
const SERIAL: &str = "0102030405060708";
/// The region, the RID and chip serial of the card the tests insert.
const CARD_ID: &str = "440305D1560000050102030405060708";
const CARD_NUMBER: &str = "X00000019";
const CARD_INFO: &str = "440305D1560000050102030405060708|X00000019|";
const TERMINAL_NUMBER: &str = "440300000001";
const TERMINAL_DEVICE: &str = "T0001";
/// 张三 in GBK.
const ZHANG_SAN_GBK: [u8; 4] = [0xD5, 0xC5, 0xC8, 0xFD];
/// The largest photo EF08 holds: 8192 bytes less the 2-byte length.
const MAX_PHOTO: usize = 8190;
const OUT_SIZE: usize = 1024;
const READ_OUT_SIZE: usize = 20480;

/// The historical bytes of the simulator's ATRs (`src/sim/user_card.rs`):
/// gen3 `3B 85 80 01 | 80 73 00 00 C0 | 37`, gen2 `3B 6D 00 00 | 00 81 …`.
fn atr_historical(generation: u8) -> &'static str {
    if generation == 3 { "80730000C0" } else { "00814E43238697159900BF7C7A" }
}

fn spec_version(generation: u8) -> &'static str {
    if generation == 3 { "3.00" } else { "2.00" }
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

fn from_gbk(bytes: &[u8]) -> String {
    let (text, _, had_errors) = encoding_rs::GBK.decode(bytes);
    assert!(!had_errors, "not GBK: {bytes:02X?}");
    text.into_owned()
}

// ---------------------------------------------------------------------
// The staged library and the programs built against it.

/// The directory where Cargo put `libsscard.so` in the same build as this
/// test: `deps/`, beside the test binary (Cargo does not copy the cdylib
/// up to `target/debug/` when it builds it for tests).
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().expect("deps dir").to_path_buf();
    assert!(dir.join("libsscard.so").exists(), "no libsscard.so in {}", dir.display());
    dir
}

/// `make install-lib DESTDIR=…`, and the test programs compiled against it.
struct Staged {
    root: tempfile::TempDir,
    libdir: PathBuf,
    bin: PathBuf,
}

impl Staged {
    fn new() -> Staged {
        let root = tempfile::Builder::new().prefix("sscard-lib-").tempdir().expect("root");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        run_ok(
            Command::new("make")
                .current_dir(manifest)
                .arg("-s")
                .arg("install-lib")
                .arg(format!("DESTDIR={}", root.path().display()))
                .arg(format!("LIB_BUILD_DIR={}", build_dir().display())),
            "make install-lib",
        );
        let libdir = find_libdir(&root.path().join("usr/lib"));
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let staged = Staged { root, libdir, bin };
        let flags = staged.pkg_config(&["--cflags", "--libs", "sscard"]);
        let c = manifest.join("tests/c");
        for (program, extra) in [("sscard_call", &[][..]), ("threads", &["-pthread"][..])] {
            run_ok(
                Command::new("cc")
                    .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
                    .args(extra)
                    .arg(c.join(format!("{program}.c")))
                    .args(&flags)
                    .arg("-o")
                    .arg(staged.bin.join(program)),
                &format!("cc {program}.c"),
            );
        }
        staged
    }

    /// `pkg-config ARGS…` over the staged `sscard.pc`: the sysroot is the
    /// staging root, so the flags point into it.
    fn pkg_config(&self, args: &[&str]) -> Vec<String> {
        let out = run_ok(
            Command::new("pkg-config")
                .args(args)
                .env("PKG_CONFIG_PATH", self.libdir.join("pkgconfig"))
                .env("PKG_CONFIG_SYSROOT_DIR", self.root.path())
                .env("PKG_CONFIG_ALLOW_SYSTEM_CFLAGS", "1")
                .env("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1"),
            "pkg-config (is pkgconf installed?)",
        );
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect()
    }
}

/// The one directory under `usr/lib` that holds `libsscard.so.1`.
fn find_libdir(lib: &Path) -> PathBuf {
    if lib.join("libsscard.so.1").exists() {
        return lib.to_path_buf();
    }
    let found: Vec<PathBuf> = std::fs::read_dir(lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("libsscard.so.1").exists())
        .collect();
    assert_eq!(found.len(), 1, "libsscard.so.1 under {}: {found:?}", lib.display());
    found[0].clone()
}

/// What one call answered.
#[derive(Debug)]
struct Answer {
    rc: i64,
    /// `pOutInfo`'s bytes up to the NUL.
    out: Vec<u8>,
    /// The library's own log (`SSCARD_LOG`), and the driver's complaints.
    stderr: String,
}

impl Answer {
    fn text(&self) -> String {
        from_gbk(&self.out)
    }

    /// Asserts the code and that the message starts with `message`.
    fn fails(&self, rc: i64, message: &str) -> &Answer {
        assert_eq!(self.rc, rc, "{}", self.text());
        assert!(self.text().starts_with(message), "{rc}: {:?}", self.text());
        self
    }

    fn ok(&self) -> String {
        assert_eq!(self.rc, 0, "{}", self.text());
        self.text()
    }
}

/// A process environment for the library: the rig's bus, a PIN source,
/// and whatever else a test sets.
struct Lib {
    staged: Staged,
    env: Vec<(String, OsString)>,
}

impl Lib {
    fn new(rig: &Rig) -> Lib {
        let mut lib = Lib { staged: Staged::new(), env: Vec::new() };
        lib.set("SSCARD_BUS", rig.bus.address());
        lib
    }

    fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.into()));
    }

    fn unset(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// A staged program (or any command) with the library's environment.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        for key in ["SSCARD_BUS", "SSCARD_READER", "SSCARD_ENCODING", "SSCARD_PINENTRY", "SSCARD_LOG", "RUST_LOG"] {
            command.env_remove(key);
        }
        command.env("LD_LIBRARY_PATH", &self.staged.libdir);
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    /// `sscard_call FUNCTION ARGS…`; panics when the driver caught the
    /// library writing out of bounds.
    fn call(&self, function: &str, args: &[&[u8]]) -> Answer {
        let mut command = self.command(self.staged.bin.join("sscard_call"));
        command.arg(function);
        for a in args {
            command.arg(OsString::from_vec(a.to_vec()));
        }
        let out = command.output().expect("run sscard_call");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "sscard_call {function}: {}: {stderr}", out.status);
        let stdout = out.stdout;
        let mut lines = stdout.splitn(3, |b| *b == b'\n');
        let rc = std::str::from_utf8(lines.next().unwrap_or_default()).unwrap().parse().expect("return code");
        let len: usize = std::str::from_utf8(lines.next().unwrap_or_default()).unwrap().parse().expect("output length");
        let out = lines.next().unwrap_or_default().to_vec();
        assert_eq!(out.len(), len, "sscard_call {function}: output length");
        Answer { rc, out, stderr }
    }

    fn read_card_bas(&self, i_type: i32) -> Answer {
        self.call("iReadCardBas", &[i_type.to_string().as_bytes()])
    }

    fn read_card(&self, card_info: &str, file_addr: &str) -> Answer {
        self.call("iReadCard", &[b"1", b"1", card_info.as_bytes(), file_addr.as_bytes()])
    }

    fn write_card(&self, card_info: &str, file_addr: &str, write_data: &[u8]) -> Answer {
        self.call("iWriteCard", &[b"1", card_info.as_bytes(), file_addr.as_bytes(), write_data])
    }
}

// ---------------------------------------------------------------------
// The bench.

/// A configuration naming the terminal device.
fn config_file(dir: &Path) -> String {
    let path = dir.join("sscardd.toml");
    std::fs::write(&path, format!("terminal_device = \"{TERMINAL_DEVICE}\"\n")).expect("config");
    path.to_string_lossy().into_owned()
}

/// A bench with a PSAM (when asked) and a card of `generation` whose
/// identifier is [`CARD_ID`]; the daemon logs at `filter`.
async fn rig_with(generation: u8, with_sam: bool, filter: &str) -> Rig {
    let dir = tempfile::tempdir().expect("config dir").keep();
    let config = config_file(&dir);
    let mut rig = Rig::empty_logged(2, &["--config", &config], filter).await;
    if with_sam {
        rig.insert_sam().await;
    }
    rig.insert_card(Slot::Card, generation, &["--region", REGION, "--serial", SERIAL]).await;
    rig
}

/// The holder record through the daemon (not the library), with the name
/// `name` and a photo of `photo_len` bytes when asked.
async fn personalize(rig: &Rig, generation: u8, name: &str, photo_len: Option<usize>) {
    let mut record = holder_dict(generation, photo_len);
    record.insert("name".into(), string_value(name));
    let reader = rig.reader(Slot::Card).await;
    reader.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord");
}

/// The card's command APDUs logged since `before`.
fn sent_since(rig: &Rig, slot: Slot, before: usize) -> Vec<String> {
    rig.logged(slot)[before..].to_vec()
}

/// Whether any of `apdus` is an UPDATE RECORD or UPDATE BINARY.
fn writes(apdus: &[String]) -> Vec<&String> {
    apdus.iter().filter(|a| matches!(a.get(2..4), Some("DC" | "D6"))).collect()
}

// ---------------------------------------------------------------------
// iReadCardBas.

/// The eleven fields, byte for byte (the name in GBK).
fn expected_bas(generation: u8, terminal_number: &str) -> Vec<Vec<u8>> {
    let text = |s: &str| s.as_bytes().to_vec();
    vec![
        text(REGION),
        text(SSN),
        text(CARD_NUMBER),
        text(CARD_ID),
        ZHANG_SAN_GBK.to_vec(),
        text(atr_historical(generation)),
        text(spec_version(generation)),
        text("20261125"),
        text("20361125"),
        text(terminal_number),
        text(TERMINAL_DEVICE),
    ]
}

/// Splits an answer into its fields, checking each is followed by `|`.
fn fields(out: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(out.last(), Some(&b'|'), "the last field ends with |: {out:02X?}");
    out[..out.len() - 1].split(|b| *b == b'|').map(<[u8]>::to_vec).collect()
}

fn assert_fields(out: &[u8], expected: &[Vec<u8>]) {
    let got = fields(out);
    assert_eq!(got.len(), 11, "eleven fields: {}", from_gbk(out));
    let names = [
        "region",
        "SSN",
        "card number",
        "card identifier",
        "name",
        "ATR historical bytes",
        "spec version",
        "issue date",
        "expiry date",
        "terminal number",
        "terminal device",
    ];
    for ((name, got), want) in names.iter().zip(&got).zip(expected) {
        assert_eq!(got, want, "{name}: {:?} vs {:?}", from_gbk(got), from_gbk(want));
    }
}

async fn read_card_bas(generation: u8) {
    let mut rig = rig_with(generation, true, "debug").await;
    personalize(&rig, generation, "张三", None).await;
    let mut lib = Lib::new(&rig);
    // iType 1, 3 and 4 all read the contact card.
    for i_type in [1, 3, 4] {
        let answer = lib.read_card_bas(i_type);
        assert_eq!(answer.rc, 0, "iType {i_type}: {}", answer.text());
        assert!(answer.out.len() < OUT_SIZE);
        assert_fields(&answer.out, &expected_bas(generation, TERMINAL_NUMBER));
    }
    // UTF-8 when asked: the name's bytes change, nothing else.
    lib.set("SSCARD_ENCODING", "UTF-8");
    let answer = lib.read_card_bas(1);
    let mut expected = expected_bas(generation, TERMINAL_NUMBER);
    expected[4] = "张三".as_bytes().to_vec();
    assert_fields(&answer.out, &expected);
    lib.unset("SSCARD_ENCODING");

    // Without a PSAM: gen2 reads, with the terminal number all zeros;
    // gen3 answers -2201 (and the caller falls back to the HSM functions).
    rig.bench.remove(Slot::Sam);
    let answer = lib.read_card_bas(1);
    if generation == 2 {
        assert_eq!(answer.rc, 0, "{}", answer.text());
        assert_fields(&answer.out, &expected_bas(generation, "000000000000"));
    } else {
        answer.fails(-2201, "无PSAM卡");
    }
}

#[tokio::test]
async fn read_card_bas_gen3() {
    read_card_bas(3).await;
}

#[tokio::test]
async fn read_card_bas_gen2() {
    read_card_bas(2).await;
}

// ---------------------------------------------------------------------
// iReadCard.

/// The long name's parts as the card holds them: 30 bytes in tag 09, the
/// rest in tag 4E.
const LONG_NAME: &str = "阿卜杜热合曼·买买提艾力·克里木江";
const LONG_NAME_09: &str = "阿卜杜热合曼·买买提艾力·克里";
const LONG_NAME_4E: &str = "木江";

async fn read_card(generation: u8) {
    let rig = rig_with(generation, true, "debug").await;
    personalize(&rig, generation, LONG_NAME, Some(1500)).await;
    let lib = Lib::new(&rig);
    let version = spec_version(generation);

    let every = "SSSEEF05|01|02|03|04|05|06|07|$SSSEEF06|08|09|4E|0A|0B|0C|0D|$";
    let answer = lib.read_card(CARD_INFO, every);
    let expected = format!(
        "SSSEEF05|{CARD_ID}|3|{version}|SZ-CARD-CTR|20261125|20361125|{CARD_NUMBER}|$\
         SSSEEF06|{SSN}|{LONG_NAME_09}|{LONG_NAME_4E}|2|05|653101|19491231|$"
    );
    assert_eq!(answer.ok(), expected);
    assert_eq!(answer.out, gbk(&expected), "GBK on the wire");

    // The form of the issue: a few items, in the caller's order; the
    // 3F00 spelling of a file; iAuthType 2; lower-case hex in pCardInfo.
    let answer = lib.read_card(CARD_INFO, "SSSEEF05|07|$SSSEEF06|08|09|$");
    assert_eq!(answer.ok(), format!("SSSEEF05|{CARD_NUMBER}|$SSSEEF06|{SSN}|{LONG_NAME_09}|$"));
    let answer = lib.read_card(CARD_INFO, "3F00EF06|0D|0A|$");
    assert_eq!(answer.ok(), "3F00EF06|19491231|2|$");
    let lower = CARD_INFO.to_ascii_lowercase().replace('x', "X");
    let answer = lib.call("iReadCard", &[b"3", b"2", lower.as_bytes(), b"SSSEEF05|07|$"]);
    assert_eq!(answer.ok(), format!("SSSEEF05|{CARD_NUMBER}|$"));
    lib.call("iReadCard", &[b"1", b"3", CARD_INFO.as_bytes(), b"SSSEEF05|07|$"]).fails(-14, "命令参数错");

    // The photo: its JPEG bytes in upper-case hex, without the length.
    let answer = lib.read_card(CARD_INFO, "SSSEEF08|$");
    assert_eq!(answer.ok(), format!("SSSEEF08|{}|$", hex::encode_upper(jpeg(1500))));
}

#[tokio::test]
async fn read_card_gen3() {
    read_card(3).await;
}

#[tokio::test]
async fn read_card_gen2() {
    read_card(2).await;
}

// ---------------------------------------------------------------------
// iWriteCard.

async fn write_card(generation: u8) {
    let rig = rig_with(generation, true, "debug").await;
    personalize(&rig, generation, "张三", None).await;
    let lib = Lib::new(&rig);

    // EF05 items.
    let answer = lib.write_card(CARD_INFO, "SSSEEF05|04|05|06|$", b"SSSEEF05|RSJ-440305|20270301|20370301|$");
    assert_eq!(answer.ok(), "", "empty pOutInfo on success");
    let answer = lib.read_card(CARD_INFO, "SSSEEF05|04|05|06|$");
    assert_eq!(answer.ok(), "SSSEEF05|RSJ-440305|20270301|20370301|$");

    // A consistent SSN, sex and birth date; the name and nation.
    let ssn = "44030519900101123X";
    let data = format!("SSSEEF06|{ssn}|1|19900101|$");
    lib.write_card(CARD_INFO, "SSSEEF06|08|0A|0D|$", data.as_bytes()).ok();
    let mut data = b"SSSEEF06|".to_vec();
    data.extend(gbk("李四"));
    data.extend(b"|01|$");
    lib.write_card(CARD_INFO, "SSSEEF06|09|0B|$", &data).ok();
    let answer = lib.read_card(CARD_INFO, "SSSEEF06|08|09|0A|0B|0D|$");
    assert_eq!(answer.ok(), format!("SSSEEF06|{ssn}|李四|1|01|19900101|$"));
    assert_eq!(&answer.out[28..32], &[0xC0, 0xEE, 0xCB, 0xC4], "李四 in GBK: {:02X?}", answer.out);
    // The daemon's own reading agrees: the values are on the card.
    let info = rig.reader(Slot::Card).await.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "ssn").as_deref(), Some(ssn));
    assert_eq!(text(&info, "birth_date").as_deref(), Some("1990-01-01"));
    assert_eq!(text(&info, "sex").as_deref(), Some("1"));
    assert_eq!(text(&info, "name").as_deref(), Some("李四"));
    assert_eq!(text(&info, "issuer").as_deref(), Some("RSJ-440305"));
    assert_eq!(byte(&info, "nation"), Some(1));

    // Refused by the rules: -23 naming the field, and not one APDU, not
    // even the read that checks pCardInfo.
    let before = rig.logged(Slot::Card).len();
    for (data, field) in [
        // The birth date disagrees with the SSN's digits 7 to 14.
        (format!("SSSEEF06|{ssn}|1|19900102|$"), "birth_date"),
        // The sex disagrees with the SSN's 17th digit.
        (format!("SSSEEF06|{ssn}|2|19900101|$"), "sex"),
        // The SSN's check character is wrong.
        ("SSSEEF06|440305199001011231|1|19900101|$".to_owned(), "ssn"),
        // A date not in the interface's form.
        ("SSSEEF06|44030519900101123X|1|1990-01-01|$".to_owned(), "birth_date"),
    ] {
        let answer = lib.write_card(CARD_INFO, "SSSEEF06|08|0A|0D|$", data.as_bytes());
        answer.fails(-23, "传入数据不合法");
        assert!(answer.text().contains(field), "{data}: {}", answer.text());
    }
    // An SSN alone breaks the rule that ssn, sex and birth date go together.
    lib.write_card(CARD_INFO, "SSSEEF06|08|$", b"SSSEEF06|44030519900101123X|$").fails(-23, "传入数据不合法");
    // Expiry before issue.
    let answer = lib.write_card(CARD_INFO, "SSSEEF05|05|06|$", b"SSSEEF05|20370301|20270301|$");
    answer.fails(-23, "传入数据不合法");
    assert!(answer.text().contains("expiry_date"), "{}", answer.text());
    assert_eq!(sent_since(&rig, Slot::Card, before), [] as [String; 0], "a refused write reached the card");
    // And the card is as it was.
    let answer = lib.read_card(CARD_INFO, "SSSEEF06|08|0A|0D|$SSSEEF05|05|06|$");
    assert_eq!(answer.ok(), format!("SSSEEF06|{ssn}|1|19900101|$SSSEEF05|20270301|20370301|$"));

    // Another card's pCardInfo: -22, and nothing written.
    let before = rig.logged(Slot::Card).len();
    let other = format!("{}|{CARD_NUMBER}|", CARD_ID.replace("0708", "0709"));
    lib.write_card(&other, "SSSEEF05|04|$", b"SSSEEF05|OTHER|$").fails(-22, "传入数据与卡内不符");
    let other_number = format!("{CARD_ID}|X00000020|");
    lib.write_card(&other_number, "SSSEEF05|04|$", b"SSSEEF05|OTHER|$").fails(-22, "传入数据与卡内不符");
    assert_eq!(writes(&sent_since(&rig, Slot::Card, before)), [] as [&String; 0], "wrote to another card");
    // A spec version of the other generation: the daemon, which knows the
    // card's, refuses it before any write.
    let before = rig.logged(Slot::Card).len();
    let data = format!("SSSEEF05|{}|$", spec_version(5 - generation));
    let answer = lib.write_card(CARD_INFO, "SSSEEF05|03|$", data.as_bytes());
    answer.fails(-23, "传入数据不合法");
    assert!(answer.text().contains("spec_version"), "{}", answer.text());
    assert_eq!(writes(&sent_since(&rig, Slot::Card, before)), [] as [&String; 0], "wrote another generation");
    let answer = lib.read_card(CARD_INFO, "SSSEEF05|04|$");
    assert_eq!(answer.ok(), "SSSEEF05|RSJ-440305|$");
}

#[tokio::test]
async fn write_card_gen3() {
    write_card(3).await;
}

#[tokio::test]
async fn write_card_gen2() {
    write_card(2).await;
}

// ---------------------------------------------------------------------
// Buffer bounds.

async fn buffer_bounds(generation: u8) {
    let rig = rig_with(generation, true, "debug").await;
    personalize(&rig, generation, LONG_NAME, None).await;
    let lib = Lib::new(&rig);
    // The largest photo, written through the library.
    let photo = jpeg(MAX_PHOTO);
    let data = format!("SSSEEF08|{}|$", hex::encode_upper(&photo));
    lib.write_card(CARD_INFO, "SSSEEF08|$", data.as_bytes()).ok();
    // Every element and the largest photo fit the 20 KiB of iReadCard.
    let every = "SSSEEF05|01|02|03|04|05|06|07|$SSSEEF06|08|09|4E|0A|0B|0C|0D|$SSSEEF08|$";
    let answer = lib.read_card(CARD_INFO, every);
    let version = spec_version(generation);
    let expected = format!(
        "SSSEEF05|{CARD_ID}|3|{version}|SZ-CARD-CTR|20261125|20361125|{CARD_NUMBER}|$\
         SSSEEF06|{SSN}|{LONG_NAME_09}|{LONG_NAME_4E}|2|05|653101|19491231|$SSSEEF08|{}|$",
        hex::encode_upper(&photo)
    );
    assert_eq!(answer.ok(), expected);
    assert!(answer.out.len() < READ_OUT_SIZE, "{}", answer.out.len());
    assert!(answer.out.len() > 16 * 1024, "the test's answer is not near the bound: {}", answer.out.len());
    // Twice the photo does not fit: -14 with a short message, and not one
    // byte past the 20 KiB (sscard_call checks its guard region).
    let answer = lib.read_card(CARD_INFO, "SSSEEF08|$SSSEEF08|$");
    answer.fails(-14, "命令参数错");
    assert!(answer.text().contains("does not fit"), "{}", answer.text());
    assert!(answer.out.len() < 200, "{}", answer.out.len());
    // UTF-8 counts bytes as well: every element with the photo still fits.
    let mut lib = lib;
    lib.set("SSCARD_ENCODING", "UTF-8");
    let answer = lib.read_card(CARD_INFO, every);
    assert_eq!(String::from_utf8(answer.out.clone()).expect("UTF-8"), expected);
}

#[tokio::test]
async fn buffer_bounds_gen3() {
    buffer_bounds(3).await;
}

#[tokio::test]
async fn buffer_bounds_gen2() {
    buffer_bounds(2).await;
}

// ---------------------------------------------------------------------
// Error codes.

/// The refusals of input: each its code, and not one APDU to the card or
/// the PSAM.
async fn refused_input(generation: u8) {
    let rig = rig_with(generation, true, "debug").await;
    personalize(&rig, generation, "张三", None).await;
    let lib = Lib::new(&rig);
    let before = (rig.logged(Slot::Card).len(), rig.logged(Slot::Sam).len());

    // iType 2 (contactless) is -1 for every function; 0 and 5 are -14.
    let info = CARD_INFO.as_bytes();
    let addr = b"SSSEEF05|07|$".as_slice();
    for (function, args) in [
        ("iReadCardBas", vec![]),
        ("iReadCard", vec![b"1".as_slice(), info, addr]),
        ("iWriteCard", vec![info, addr, b"SSSEEF05|X00000020|$"]),
        ("iVerifyPIN", vec![]),
        ("iChangePIN", vec![]),
        ("iReloadPIN", vec![info]),
        ("iUnblockPIN", vec![info]),
    ] {
        for (i_type, rc, message) in [("2", -1, "卡类型不对"), ("0", -14, "命令参数错"), ("5", -14, "命令参数错")]
        {
            let mut all = vec![i_type.as_bytes()];
            all.extend(&args);
            lib.call(function, &all).fails(rc, message);
        }
    }
    // A card identifier that is not 32 hex digits: -20.
    for bad in [
        "440305D156000005010203040506070|X00000019|",
        "440305D156000005010203040506070G|X00000019|",
        "440305D15600000501020304050607080|X00000019|",
        "|X00000019|",
    ] {
        lib.read_card(bad, "SSSEEF05|07|$").fails(-20, "卡识别码格式错");
        lib.write_card(bad, "SSSEEF05|04|$", b"SSSEEF05|OTHER|$").fails(-20, "卡识别码格式错");
        lib.call("iReloadPIN", &[b"1", bad.as_bytes()]).fails(-20, "卡识别码格式错");
        lib.call("iUnblockPIN", &[b"1", bad.as_bytes()]).fails(-20, "卡识别码格式错");
    }
    // pCardInfo not in its form: -14.
    for bad in [CARD_ID, "", &format!("{CARD_INFO}extra|")] {
        lib.read_card(bad, "SSSEEF05|07|$").fails(-14, "命令参数错");
    }
    // Unknown files, tag:recno, and other malformed pFileAddr: -14.
    for (addr, detail) in [
        ("SSSEEF99|01|$", "SSSEEF99"),
        ("SSSEEF06|08:1|$", "tag:recno"),
        ("SSSEEF05|08|$", "no element with tag 08"),
        ("SSSEEF05|07|", "end with $"),
        ("SSSEEF08|01|$", "transparent"),
    ] {
        let answer = lib.read_card(CARD_INFO, addr);
        answer.fails(-14, "命令参数错");
        assert!(answer.text().contains(detail), "{addr}: {}", answer.text());
        lib.write_card(CARD_INFO, addr, b"SSSEEF05|X|$").fails(-14, "命令参数错");
    }
    // pWriteData that does not mirror pFileAddr: -14.
    lib.write_card(CARD_INFO, "SSSEEF05|04|$", b"SSSEEF05|A|B|$").fails(-14, "命令参数错");
    lib.write_card(CARD_INFO, "SSSEEF05|04|$", b"SSSEEF06|A|$").fails(-14, "命令参数错");
    // Bytes that are not GBK: -14.
    lib.write_card(CARD_INFO, "SSSEEF06|09|$", b"SSSEEF06|\xFF\xFF|$").fails(-14, "命令参数错");
    // The card written by no one, read by no one.
    assert_eq!(rig.logged(Slot::Card)[before.0..], [] as [String; 0], "refused input reached the card");
    assert_eq!(rig.logged(Slot::Sam)[before.1..], [] as [String; 0], "refused input reached the PSAM");

    // pCardInfo of another card: the card is read to compare, -22, and
    // the answer holds none of the card's data.
    let other = format!("{}|{CARD_NUMBER}|", CARD_ID.replace("0708", "0709"));
    let answer = lib.read_card(&other, "SSSEEF06|08|09|$");
    answer.fails(-22, "传入数据与卡内不符");
    assert!(!answer.text().contains(SSN) && !answer.text().contains("张三"), "{}", answer.text());
    lib.call("iUnblockPIN", &[b"1", other.as_bytes()]).fails(-22, "传入数据与卡内不符");
    assert!(!rig.logged(Slot::Card).iter().any(|a| a.starts_with("8424")), "UNBLOCK sent to another card");
}

#[tokio::test]
async fn refused_input_sends_nothing_gen3() {
    refused_input(3).await;
}

#[tokio::test]
async fn refused_input_sends_nothing_gen2() {
    refused_input(2).await;
}

#[tokio::test]
async fn no_card_no_psam_no_daemon() {
    let dir = tempfile::tempdir().expect("config dir").keep();
    let config = config_file(&dir);
    let mut rig = Rig::empty(2, &["--config", &config]).await;
    rig.insert_sam().await;
    let mut lib = Lib::new(&rig);

    // No card: -2.
    lib.read_card_bas(1).fails(-2, "无卡");
    lib.read_card(CARD_INFO, "SSSEEF05|07|$").fails(-2, "无卡");
    lib.call("iVerifyPIN", &[b"1"]).fails(-2, "无卡");

    // gen3 without a PSAM: -2201, with nothing sent to the card: the
    // daemon knows from the card's profile that the PSAM is needed.
    rig.bench.remove(Slot::Sam);
    rig.insert_card(Slot::Card, 3, &["--region", REGION, "--serial", SERIAL]).await;
    let before = rig.logged(Slot::Card).len();
    lib.read_card_bas(1).fails(-2201, "无PSAM卡");
    lib.read_card(CARD_INFO, "SSSEEF05|07|$").fails(-2201, "无PSAM卡");
    lib.call("iUnblockPIN", &[b"1", CARD_INFO.as_bytes()]).fails(-2201, "无PSAM卡");
    let sent = sent_since(&rig, Slot::Card, before);
    assert!(sent.is_empty(), "{sent:?}");

    // An HSM step without its Step1 (each call here is a process of its
    // own, which holds no session): -14, nothing sent (tests/libsscard_hsm.rs
    // runs the sessions). The debit functions answer -13 and write nothing
    // at all (sscard_call fails when any byte of its buffer changed).
    for (function, args) in [
        ("iReadCardBas_HSM_Step2", vec![b"00|00|".as_slice()]),
        ("iWriteCard_HSM_Step2", vec![b"00".as_slice(), b"SSSEEF05|X|$"]),
        ("iUnblockPIN_HSM_Step3", vec![b"00".as_slice()]),
    ] {
        lib.call(function, &args).fails(-14, "命令参数错");
    }
    for function in ["iDoDebit", "iReadDebitRecord"] {
        let answer = lib.call(function, &[]);
        assert_eq!((answer.rc, answer.out.len()), (-13, 0), "{function}");
    }
    assert_eq!(sent_since(&rig, Slot::Card, before).len(), sent.len(), "a -13 or -14 reached the card");

    // sscardd not running: -11, saying so.
    rig.daemon.stop();
    let answer = lib.read_card_bas(1);
    answer.fails(-11, "读卡器连接错");
    assert!(answer.text().contains("sscardd is not running"), "{}", answer.text());
    // No bus at all: -11 too.
    lib.set("SSCARD_BUS", format!("unix:path={}", dir.join("no-bus").display()));
    lib.read_card_bas(1).fails(-11, "读卡器连接错");
}

// ---------------------------------------------------------------------
// Other languages, other threads.

async fn python_ctypes(generation: u8) {
    let rig = rig_with(generation, true, "debug").await;
    personalize(&rig, generation, "张三", None).await;
    let lib = Lib::new(&rig);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_card_bas.py");
    let out = run_ok(lib.command("python3").arg(&script), "python3 read_card_bas.py (is python3 installed?)");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["rc"], 0, "{json}");
    let fields: Vec<String> =
        json["fields"].as_array().expect("fields").iter().map(|f| f.as_str().expect("text").to_owned()).collect();
    let expected: Vec<String> = expected_bas(generation, TERMINAL_NUMBER).iter().map(|f| from_gbk(f)).collect();
    assert_eq!(fields, expected);
    assert_eq!(fields[4], "张三");
    assert_eq!(json["name_gbk"], hex::encode_upper(ZHANG_SAN_GBK));
}

#[tokio::test]
async fn python_ctypes_gen3() {
    python_ctypes(3).await;
}

#[tokio::test]
async fn python_ctypes_gen2() {
    python_ctypes(2).await;
}

/// The command headers (CLA INS P1 P2) of `apdus`.
fn headers(apdus: &[String]) -> Vec<String> {
    apdus.iter().map(|a| a.chars().take(8).collect()).collect()
}

async fn threads(generation: u8) {
    let rig = rig_with(generation, true, "info").await;
    personalize(&rig, generation, "张三", None).await;
    let lib = Lib::new(&rig);
    // One call alone: the sequence every call must send, whole.
    let before = (rig.logged(Slot::Card).len(), rig.logged(Slot::Sam).len());
    lib.read_card_bas(1).ok();
    let alone = headers(&sent_since(&rig, Slot::Card, before.0));
    assert_eq!(alone.iter().filter(|h| *h == "00B20830").count(), 1, "one call reads the SSN once: {alone:?}");
    let psam_first = rig.logged(Slot::Sam).len() - before.1;
    // Another call alone: the PSAM's terminal number is known now (it is
    // read once per PSAM insertion), so this is what every later call sends
    // the PSAM.
    let before_second = rig.logged(Slot::Sam).len();
    lib.read_card_bas(1).ok();
    let psam_per_call = rig.logged(Slot::Sam).len() - before_second;
    assert!(psam_first >= psam_per_call, "{psam_first} then {psam_per_call}");
    assert!(generation == 2 || psam_per_call > 0, "gen3 reads through the PSAM");
    assert!(generation == 3 || psam_per_call == 0, "gen2 sends the PSAM nothing once its number is known");

    // 4 threads × 50 calls, plus the program's first call.
    let before = (rig.logged(Slot::Card).len(), rig.logged(Slot::Sam).len());
    let started = std::time::Instant::now();
    let out = run_ok(lib.command(lib.staged.bin.join("threads")).args(["4", "50"]), "threads 4 50");
    eprintln!("201 iReadCardBas calls from 4 threads: {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.ends_with("failures 0\n"), "{stdout}");
    assert_fields(out.stdout.split(|b| *b == b'\n').next().unwrap(), &expected_bas(generation, TERMINAL_NUMBER));
    // Each call's APDUs are contiguous: the card saw the lone call's
    // sequence 201 times over, whole, one after the other.
    let sent = headers(&sent_since(&rig, Slot::Card, before.0));
    assert_eq!(sent.len(), 201 * alone.len(), "APDUs of 201 calls");
    for (i, call) in sent.chunks(alone.len()).enumerate() {
        assert_eq!(call, alone.as_slice(), "call {i} was interleaved with another");
    }
    assert_eq!(rig.logged(Slot::Sam).len() - before.1, 201 * psam_per_call, "PSAM commands");
}

#[tokio::test]
async fn four_threads_gen3() {
    threads(3).await;
}

#[tokio::test]
async fn four_threads_gen2() {
    threads(2).await;
}

// ---------------------------------------------------------------------
// PINs, and no PIN in any log.

const INITIAL: &str = "472913";
const NEW: &str = "580264";
const OTHER: &str = "639175";
const RELOADED: &str = "716482";
const WRONG: &str = "904317";
/// The reference profiles' initial PIN, which no new PIN may be.
const PROFILE_INITIAL: &str = "123456";

/// A pinentry for the tests: an Assuan server that greets `OK`, answers
/// every command `OK`, and each `GETPIN` with the first line of its `pins`
/// file (which it then removes); with no PIN left it answers as a
/// cancelled dialog does. It logs the commands it got (never a PIN: the
/// client sends none).
struct FakePinentry {
    dir: PathBuf,
}

impl FakePinentry {
    fn new(dir: &Path) -> FakePinentry {
        let dir = dir.join("pinentry");
        std::fs::create_dir_all(&dir).expect("pinentry dir");
        let script = format!(
            "#!/bin/sh\n\
             d='{dir}'\n\
             echo 'OK fake pinentry'\n\
             while IFS= read -r line; do\n\
             \x20 printf '%s\\n' \"$line\" >> \"$d/commands\"\n\
             \x20 case \"$line\" in\n\
             \x20   GETPIN*)\n\
             \x20     pin=$(head -n 1 \"$d/pins\")\n\
             \x20     sed -i 1d \"$d/pins\"\n\
             \x20     if [ -z \"$pin\" ]; then echo 'ERR 83886179 Operation cancelled <Pinentry>';\n\
             \x20     else printf 'D %s\\nOK\\n' \"$pin\"; fi ;;\n\
             \x20   BYE*) echo 'OK closing connection'; exit 0 ;;\n\
             \x20   *) echo OK ;;\n\
             \x20 esac\n\
             done\n",
            dir = dir.display()
        );
        let path = dir.join("pinentry");
        std::fs::write(&path, script).expect("pinentry script");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let fake = FakePinentry { dir };
        fake.answer(&[]);
        fake
    }

    fn program(&self) -> PathBuf {
        self.dir.join("pinentry")
    }

    /// The PINs the next prompts get, in order.
    fn answer(&self, pins: &[&str]) {
        let text: String = pins.iter().map(|p| format!("{p}\n")).collect();
        std::fs::write(self.dir.join("pins"), text).expect("pins");
    }

    /// The PINs not asked for yet.
    fn left(&self) -> usize {
        std::fs::read_to_string(self.dir.join("pins")).unwrap_or_default().lines().count()
    }

    fn commands(&self) -> String {
        std::fs::read_to_string(self.dir.join("commands")).unwrap_or_default()
    }
}

/// Every form in which a PIN could leak into a log: the forms
/// tests/security_logs.rs scans, and the other `Debug` and hex spellings of
/// its ASCII and BCD bytes.
fn forms(secret: &str) -> Vec<String> {
    let ascii = secret.as_bytes();
    let bcd: Vec<u8> = ascii.chunks(2).map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0')).collect();
    let spaced = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ");
    let mut out = vec![secret.to_owned(), hex::encode(ascii), hex::encode_upper(ascii), spaced(ascii)];
    out.push(spaced(ascii).to_lowercase());
    out.push(spaced(&bcd));
    for bytes in [ascii, &bcd] {
        out.push(format!("{bytes:?}"));
        out.push(format!("{bytes:02X?}"));
        out.push(format!("{bytes:02x?}"));
        out.push(format!("{bytes:X?}"));
        out.push(format!("{bytes:x?}"));
    }
    out
}

/// Scans every line of `log` (the timestamp aside) for every form of
/// every PIN.
fn assert_no_pin(what: &str, log: &str) {
    for line in log.lines() {
        let body = line.split_once(' ').map_or(line, |(_, rest)| rest);
        for pin in [INITIAL, NEW, OTHER, RELOADED, WRONG] {
            for form in forms(pin) {
                assert!(!body.contains(form.as_str()), "{what} holds {form:?}: {line}");
            }
        }
    }
}

async fn pin_functions(generation: u8) {
    let initial = ["--initial-pin", INITIAL];
    let dir = tempfile::tempdir().expect("config dir").keep();
    let config = config_file(&dir);
    let mut rig = Rig::empty_logged(2, &["--config", &config], "trace").await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, generation, &[&["--region", REGION, "--serial", SERIAL][..], &initial].concat()).await;
    personalize(&rig, generation, "张三", None).await;
    let pins = FakePinentry::new(rig.bench.dir());
    let mut lib = Lib::new(&rig);
    lib.set("SSCARD_PINENTRY", pins.program());
    lib.set("SSCARD_LOG", "trace");
    let mut library_log = String::new();
    let mut call = |function: &str, args: &[&[u8]], answers: &[&str]| {
        pins.answer(answers);
        let mut all: Vec<&[u8]> = vec![b"1"];
        all.extend(args);
        let answer = lib.call(function, &all);
        library_log.push_str(&answer.stderr);
        assert_eq!(pins.left(), 0, "{function}: not every PIN was asked for; {}", answer.text());
        answer
    };
    let info = CARD_INFO.as_bytes();

    // Verify: right, then wrong down to blocked.
    call("iVerifyPIN", &[], &[INITIAL]).ok();
    call("iVerifyPIN", &[], &[WRONG]).fails(-51, "PIN校验失败，剩余次数2次");
    call("iVerifyPIN", &[], &[WRONG]).fails(-51, "PIN校验失败，剩余次数1次");
    // The holder types knowing the tries left: the last try is spent too.
    call("iVerifyPIN", &[], &[WRONG]).fails(-52, "PIN锁定");
    // Blocked: -52 before anyone is asked for a PIN.
    call("iVerifyPIN", &[], &[]).fails(-52, "PIN锁定");
    call("iChangePIN", &[], &[]).fails(-52, "PIN锁定");
    // Unblock, of this card only.
    let other = format!("{}|{CARD_NUMBER}|", CARD_ID.replace("0708", "0709"));
    call("iUnblockPIN", &[other.as_bytes()], &[]).fails(-22, "传入数据与卡内不符");
    call("iUnblockPIN", &[info], &[]).ok();
    call("iVerifyPIN", &[], &[INITIAL]).ok();

    // Change: the old PIN, the new one twice. Entries that differ are -34
    // before any PIN command reaches the card.
    let before = rig.logged(Slot::Card).len();
    call("iChangePIN", &[], &[INITIAL, NEW, OTHER]).fails(-34, "两次输入的密码不一致");
    let sent = sent_since(&rig, Slot::Card, before);
    assert!(!sent.iter().any(|a| a.starts_with("805E")), "{sent:?}");
    call("iChangePIN", &[], &[INITIAL, NEW, NEW]).ok();
    call("iVerifyPIN", &[], &[NEW]).ok();
    call("iVerifyPIN", &[], &[INITIAL]).fails(-51, "PIN校验失败，剩余次数2次");
    // The profile's initial PIN cannot come back: -36.
    call("iChangePIN", &[], &[NEW, PROFILE_INITIAL, PROFILE_INITIAL]).fails(-36, "不能改为初始密码");

    // Reload: the new PIN twice, with the PSAM, of this card only.
    call("iReloadPIN", &[other.as_bytes()], &[]).fails(-22, "传入数据与卡内不符");
    call("iReloadPIN", &[info], &[RELOADED, RELOADED]).ok();
    call("iVerifyPIN", &[], &[RELOADED]).ok();
    call("iVerifyPIN", &[], &[NEW]).fails(-51, "PIN校验失败，剩余次数2次");

    // The prompts showed the tries left, and no command held a PIN.
    let commands = pins.commands();
    assert_eq!(commands.lines().filter(|l| l.starts_with("GETPIN")).count(), 20, "{commands}");
    for tries in 1..=3 {
        let desc = format!("SETDESC 请输入社保卡密码（剩余{tries}次）");
        assert!(commands.lines().any(|l| l == desc), "no {desc:?} in {commands}");
    }
    assert_no_pin("the pinentry's commands", &commands);

    // No PIN in the library's trace log, the daemon's, or the simulators'.
    assert!(library_log.contains("TRACE"), "the library did not log at trace level:\n{library_log}");
    assert_no_pin("the library's log", &library_log);
    rig.daemon.stop();
    let daemon_log = rig.daemon.log_text();
    assert!(daemon_log.contains("TRACE"), "the daemon did not log at trace level");
    assert_no_pin("sscardd's log", &daemon_log);
    for slot in [Slot::Card, Slot::Sam] {
        let sim_log = std::fs::read_to_string(rig.card_log(slot)).expect("simulator log");
        assert_no_pin(&format!("the simulator's log ({slot:?})"), &sim_log);
    }
}

#[tokio::test]
async fn pin_functions_gen3() {
    pin_functions(3).await;
}

#[tokio::test]
async fn pin_functions_gen2() {
    pin_functions(2).await;
}

// ---------------------------------------------------------------------
// The header, the exports, the SONAME.

/// The functions `sscard.h` declares.
fn declared(header: &str) -> Vec<String> {
    let mut names: Vec<String> = header
        .lines()
        .filter_map(|l| l.strip_prefix("long "))
        .filter_map(|rest| rest.split_once('(').map(|(name, _)| name.trim().to_owned()))
        .collect();
    names.sort();
    names
}

#[test]
fn header_declares_every_export_and_the_soname_is_libsscard_so_1() {
    let staged = Staged::new();
    let lib = staged.libdir.join("libsscard.so.1");
    // Every symbol the library exports is declared, and every declared
    // function exported.
    let out = run_ok(Command::new("nm").args(["-D", "--defined-only"]).arg(&lib), "nm (is binutils installed?)");
    let mut exported: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (_, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            Some((kind.to_owned(), name.to_owned()))
        })
        .map(|(kind, name)| {
            assert_eq!(kind, "T", "{name} is exported but is no function");
            name
        })
        .collect();
    exported.sort();
    let header = std::fs::read_to_string(staged.root.path().join("usr/include/sscard.h")).expect("installed header");
    let declared = declared(&header);
    assert_eq!(declared.len(), 23, "{declared:?}");
    assert_eq!(exported, declared, "nm -D versus sscard.h");
    for core in ["iReadCardBas", "iReadCard", "iWriteCard", "iVerifyPIN", "iChangePIN", "iReloadPIN", "iUnblockPIN"] {
        assert!(declared.iter().any(|d| d == core), "{core}");
    }
    // The installed header is the source tree's.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/sscard.h");
    assert_eq!(std::fs::read_to_string(source).expect("header"), header);

    // The SONAME, and programs ask for it rather than for libsscard.so.
    let dynamic = |file: &Path| {
        let out = run_ok(Command::new("readelf").arg("-d").arg(file), "readelf");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(dynamic(&lib).contains("Library soname: [libsscard.so.1]"), "{}", dynamic(&lib));
    let call = dynamic(&staged.bin.join("sscard_call"));
    assert!(call.contains("Shared library: [libsscard.so.1]"), "{call}");
    // The program finds the staged library, not another one.
    let out =
        run_ok(Command::new("ldd").arg(staged.bin.join("sscard_call")).env("LD_LIBRARY_PATH", &staged.libdir), "ldd");
    let ldd = String::from_utf8_lossy(&out.stdout);
    let line = ldd.lines().find(|l| l.contains("libsscard.so.1")).unwrap_or_else(|| panic!("{ldd}"));
    assert!(line.contains(&staged.libdir.join("libsscard.so.1").display().to_string()), "{line}");

    // The header in strict C99 and in C++ (extern "C": the C names link).
    let flags = staged.pkg_config(&["--cflags", "--libs", "sscard"]);
    let check = staged.bin.join("check.c");
    std::fs::write(&check, "#include <sscard.h>\nint main(void) { return SSCARD_OUT_SIZE == 1024 ? 0 : 1; }\n")
        .expect("check.c");
    run_ok(
        Command::new("cc")
            .args(["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Wstrict-prototypes", "-Werror"])
            .arg(&check)
            .args(&flags)
            .arg("-o")
            .arg(staged.bin.join("check")),
        "cc -std=c99 with sscard.h",
    );
    let cpp = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/header.cpp");
    run_ok(
        Command::new("c++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror"])
            .arg(&cpp)
            .args(&flags)
            .arg("-o")
            .arg(staged.bin.join("header_cpp")),
        "c++ with sscard.h (is g++ installed?)",
    );
    let out = Command::new(staged.bin.join("header_cpp")).env("LD_LIBRARY_PATH", &staged.libdir).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-14\n");
}

/// A C caller's PIN functions on a reader with a PIN pad (sscard-ifd,
/// through pcscd): the keypad collects the PINs, pinentry is never asked,
/// and the pad's refusals are the prompt's codes.
#[tokio::test]
async fn pin_functions_on_a_pin_pad_reader() {
    use support::bench::{IfdReader, IfdSlot};
    let pad = IfdSlot { short: false, pinpad: true, length_error_6b80: false };
    let dir = tempfile::tempdir().expect("config dir").keep();
    let config = config_file(&dir);
    let mut rig = Rig::on_ifd(&[IfdReader::new(&[pad, IfdSlot::default()])], &["--config", &config]).await;
    rig.insert_sam().await;
    rig.insert_card(Slot::Card, 3, &["--region", REGION, "--serial", SERIAL, "--initial-pin", INITIAL]).await;
    personalize(&rig, 3, "张三", None).await;
    let pins = FakePinentry::new(rig.bench.dir());
    let mut lib = Lib::new(&rig);
    lib.set("SSCARD_PINENTRY", pins.program());
    let call = |function: &str, keys: &str| {
        pins.answer(&[]);
        rig.bench.press(Slot::Card, keys);
        lib.call(function, &[b"1"])
    };
    call("iVerifyPIN", &format!("{INITIAL}O")).ok();
    call("iVerifyPIN", &format!("{WRONG}O")).fails(-51, "PIN校验失败，剩余次数2次");
    call("iVerifyPIN", "C").fails(-31, "密码输入已取消");
    call("iVerifyPIN", "1234O").fails(-33, "密码长度错误");
    call("iChangePIN", &format!("{INITIAL}O{NEW}O{OTHER}O")).fails(-34, "两次输入的密码不一致");
    call("iChangePIN", &format!("{INITIAL}O{NEW}O{NEW}O")).ok();
    call("iVerifyPIN", &format!("{NEW}O")).ok();
    assert!(pins.commands().is_empty(), "pinentry was started: {}", pins.commands());
}
