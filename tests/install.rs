//! `make install` into a temporary root puts every file where Debian keeps
//! it (libsscard under /usr/lib/<triplet>, with its SONAME, header and
//! pkg-config file); the installed daemon then runs from there against the
//! bench; the installed systemd unit passes `systemd-analyze verify`; the
//! udev rule has the shape udev needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::bench::{Bench, Slot};
use support::daemon::{PrivateBus, Sscardd};

/// Everything the install must put in place, with its mode.
const LAYOUT: &[(&str, u32)] = &[
    ("usr/libexec/sscardd", 0o755),
    ("usr/bin/sscardctl", 0o755),
    ("usr/bin/sscard-sim", 0o755),
    ("usr/bin/sscard-bridge", 0o755),
    ("usr/share/dbus-1/system.d/org.sscard.Daemon.conf", 0o644),
    ("usr/share/dbus-1/system-services/org.sscard.Daemon.service", 0o644),
    ("usr/share/dbus-1/interfaces/org.sscard.Manager1.xml", 0o644),
    ("usr/share/dbus-1/interfaces/org.sscard.Reader1.xml", 0o644),
    ("usr/share/dbus-1/interfaces/org.sscard.HsmSession1.xml", 0o644),
    ("usr/share/polkit-1/actions/org.sscard.policy", 0o644),
    ("usr/share/polkit-1/rules.d/50-sscard.rules", 0o644),
    ("usr/lib/systemd/system/sscardd.service", 0o644),
    ("usr/lib/systemd/user/sscard-bridge.service", 0o644),
    ("usr/lib/sysusers.d/sscard.conf", 0o644),
    ("usr/lib/udev/rules.d/60-sscard.rules", 0o644),
    ("usr/share/sscard/apdu-scripts/README.md", 0o644),
    ("usr/share/sscard/apdu-scripts/ssse-gen3/profile.toml", 0o644),
    ("usr/share/sscard/apdu-scripts/ssse-gen3/read-card.apdu", 0o644),
    ("usr/share/sscard/apdu-scripts/ssse-gen2/profile.toml", 0o644),
    ("usr/share/sscard/apdu-scripts/ssse-gen2/verify.apdu", 0o644),
    ("usr/share/sscard/sscardd.toml", 0o644),
    ("usr/share/man/man8/sscardd.8", 0o644),
    ("usr/share/man/man1/sscardctl.1", 0o644),
    ("usr/share/man/man1/sscardctl-pin-verify.1", 0o644),
    ("usr/share/man/man1/sscard-sim.1", 0o644),
    ("usr/share/man/man1/sscard-bridge.1", 0o644),
    ("usr/share/man/man5/sscardd.toml.5", 0o644),
    ("usr/share/man/man3/libsscard.3", 0o644),
    ("usr/share/bash-completion/completions/sscardctl", 0o644),
    ("usr/share/zsh/vendor-completions/_sscard-sim", 0o644),
    ("usr/share/fish/vendor_completions.d/sscard-bridge.fish", 0o644),
    ("etc/sscard/sscardd.toml", 0o640),
];

/// The library's files, under the libdir (`usr/lib/<triplet>`), with
/// their modes.
const LIB_LAYOUT: &[(&str, u32)] = &[("libsscard.so.1", 0o644), ("pkgconfig/sscard.pc", 0o644)];

/// Debian's libdir: `usr/lib/` and the toolchain's multiarch triplet.
fn libdir() -> String {
    let out = Command::new("cc").arg("-print-multiarch").output().expect("cc -print-multiarch");
    let triplet = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!triplet.is_empty(), "no multiarch triplet");
    format!("usr/lib/{triplet}")
}

fn make_install(root: &Path) {
    make(root, "install", &[]);
}

/// `make TARGET DESTDIR=root ARGS…` with this build's binaries and library.
fn make(root: &Path, target: &str, args: &[&str]) {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_sscardd")).parent().expect("bin dir").to_path_buf();
    // Cargo leaves the cdylib it builds for the tests in deps/, beside this
    // test's binary.
    let lib_dir = std::env::current_exe().expect("own path").parent().expect("deps").to_path_buf();
    let out = Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg(target)
        .arg(format!("DESTDIR={}", root.display()))
        .arg(format!("BIN_DIR={}", bin_dir.display()))
        .arg(format!("LIB_BUILD_DIR={}", lib_dir.display()))
        .args(args)
        .output()
        .expect("make (is make installed?)");
    assert!(out.status.success(), "make {target}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn make_install_puts_every_file_in_place() {
    let root = tempfile::tempdir().expect("root");
    make_install(root.path());
    for (path, mode) in LAYOUT {
        let file = root.path().join(path);
        let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, *mode, "{path}");
    }
    // libsscard: the real file under its SONAME, the linker's name a link
    // to it, the header, and pkg-config's file naming where they are.
    let libdir = libdir();
    for (path, mode) in LIB_LAYOUT {
        let file = root.path().join(&libdir).join(path);
        let meta = std::fs::symlink_metadata(&file).unwrap_or_else(|e| panic!("{libdir}/{path}: {e}"));
        assert!(meta.is_file(), "{path}");
        assert_eq!(meta.permissions().mode() & 0o777, *mode, "{path}");
    }
    let link = root.path().join(&libdir).join("libsscard.so");
    assert_eq!(std::fs::read_link(&link).ok(), Some(PathBuf::from("libsscard.so.1")), "{link:?}");
    let header = root.path().join("usr/include/sscard.h");
    assert_eq!(std::fs::metadata(&header).expect("sscard.h").permissions().mode() & 0o777, 0o644);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(std::fs::read(&header).ok(), std::fs::read(manifest.join("include/sscard.h")).ok());
    let readelf = Command::new("readelf").arg("-d").arg(root.path().join(&libdir).join("libsscard.so.1")).output();
    let dynamic = String::from_utf8_lossy(&readelf.expect("readelf").stdout).into_owned();
    assert!(dynamic.contains("Library soname: [libsscard.so.1]"), "{dynamic}");
    let pc = std::fs::read_to_string(root.path().join(&libdir).join("pkgconfig/sscard.pc")).expect("sscard.pc");
    for line in [
        "prefix=/usr",
        &format!("libdir=/{libdir}"),
        "includedir=/usr/include",
        "Libs: -L${libdir} -lsscard",
        "Cflags: -I${includedir}",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(pc.lines().any(|l| l == line), "{line} missing from sscard.pc:\n{pc}");
    }
    assert!(!pc.contains('@'), "a placeholder left in sscard.pc:\n{pc}");

    // Every profile file of the source tree is installed, unchanged.
    for profile in ["ssse-gen3", "ssse-gen2"] {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("apdu-scripts").join(profile);
        for entry in std::fs::read_dir(&source).expect("profile").flatten() {
            let installed = root.path().join("usr/share/sscard/apdu-scripts").join(profile).join(entry.file_name());
            assert_eq!(std::fs::read(entry.path()).ok(), std::fs::read(&installed).ok(), "{installed:?}");
        }
    }
    // A first install salts the audit trail with a salt of its own.
    let config = root.path().join("etc/sscard/sscardd.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let salt = text.lines().find_map(|l| l.strip_prefix("audit_salt = \"")).map(|r| r.trim_end_matches('"'));
    assert!(salt.is_some_and(|s| s.len() >= 40), "{text}");
    let other = tempfile::tempdir().expect("another root");
    make_install(other.path());
    assert_ne!(std::fs::read_to_string(other.path().join("etc/sscard/sscardd.toml")).expect("config"), text);
    // A second install keeps the administrator's configuration.
    std::fs::write(&config, "terminal_device = \"LOCAL01\"\n").expect("edit config");
    make_install(root.path());
    assert_eq!(std::fs::read_to_string(&config).expect("config"), "terminal_device = \"LOCAL01\"\n");
}

#[test]
fn library_follows_prefix_and_libdir_and_uninstalls() {
    // PREFIX moves the header and the library; LIBDIR the library alone.
    let root = tempfile::tempdir().expect("root");
    make(root.path(), "install-lib", &["PREFIX=/usr/local"]);
    let local_lib = libdir().replacen("usr/", "usr/local/", 1);
    assert!(root.path().join(&local_lib).join("libsscard.so.1").is_file(), "{local_lib}");
    assert!(root.path().join("usr/local/include/sscard.h").is_file());
    let pc = std::fs::read_to_string(root.path().join(&local_lib).join("pkgconfig/sscard.pc")).expect("sscard.pc");
    assert!(pc.lines().any(|l| l == "includedir=/usr/local/include"), "{pc}");
    assert!(pc.lines().any(|l| l == format!("libdir=/{local_lib}")), "{pc}");
    // Outside a Debian toolchain (no triplet): $(PREFIX)/lib.
    let plain = tempfile::tempdir().expect("root");
    make(plain.path(), "install-lib", &["MULTIARCH="]);
    assert!(plain.path().join("usr/lib/libsscard.so.1").is_file());
    assert!(plain.path().join("usr/lib/pkgconfig/sscard.pc").is_file());
    let other = tempfile::tempdir().expect("root");
    make(other.path(), "install-lib", &["LIBDIR=/opt/sscard/lib"]);
    assert!(other.path().join("opt/sscard/lib/libsscard.so.1").is_file());
    assert!(other.path().join("opt/sscard/lib/pkgconfig/sscard.pc").is_file());
    assert!(other.path().join("usr/include/sscard.h").is_file());

    // make uninstall takes the library's files away with the rest.
    let full = tempfile::tempdir().expect("root");
    make_install(full.path());
    make(full.path(), "uninstall", &[]);
    let libdir = libdir();
    for path in ["libsscard.so.1", "libsscard.so", "pkgconfig/sscard.pc"] {
        let file = full.path().join(&libdir).join(path);
        assert!(std::fs::symlink_metadata(&file).is_err(), "{file:?} is still there");
    }
    assert!(!full.path().join("usr/include/sscard.h").exists());
    assert!(!full.path().join("usr/libexec/sscardd").exists());
    assert!(!full.path().join("usr/share/man/man8/sscardd.8").exists());
    assert!(!full.path().join("usr/share/bash-completion/completions/sscardctl").exists());
}

#[test]
fn installed_daemon_runs_against_the_bench() {
    let root = tempfile::tempdir().expect("root");
    make_install(root.path());
    let daemon = root.path().join("usr/libexec/sscardd");
    // Its default profile directory is the installed one.
    let out = Command::new(&daemon).args(["--bus", "session", "--authorization", "none"]).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    if !Path::new("/usr/share/sscard/apdu-scripts").exists() {
        assert!(err.contains("/usr/share/sscard/apdu-scripts"), "{err}");
    }

    let mut bench = Bench::start();
    let bus = PrivateBus::start(bench.dir(), None);
    let scripts = root.path().join("usr/share/sscard/apdu-scripts");
    let config = root.path().join("etc/sscard/sscardd.toml");
    let config_arg = config.to_string_lossy().into_owned();
    let _daemon = Sscardd::start_full(
        &daemon,
        &scripts,
        &bench,
        &bus,
        &["--authorization", "none"],
        &["--config", &config_arg],
        "info",
    );
    bench.insert(Slot::Sam, "psam", &[]);
    bench.insert(Slot::Card, "card", &["--gen", "3"]);
    // The installed client reads the card through the installed daemon.
    let ctl = root.path().join("usr/bin/sscardctl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let json = loop {
        let out = Command::new(&ctl).args(["--bus", &bus.address(), "--json", "read"]).output().expect("sscardctl");
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(std::time::Instant::now() < deadline, "read: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let info: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(info["state"], "blank", "{json}");
    assert_eq!(info["profile"], "ssse-gen3", "{json}");
}

#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let root = tempfile::tempdir().expect("root");
    make_install(root.path());
    let unit = root.path().join("usr/lib/systemd/system/sscardd.service");
    // The unit names /usr/libexec/sscardd: verify it where the installed
    // /usr/libexec is mounted over the machine's, in a namespace of its own.
    let script = format!(
        "mount --bind '{}' /usr/libexec && systemd-analyze verify '{}'",
        root.path().join("usr/libexec").display(),
        unit.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("systemd-analyze (is systemd installed?)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.trim().is_empty(), "systemd-analyze verify complained: {text}");
    // And the hardening the issue asks for is there.
    let unit_text = std::fs::read_to_string(&unit).expect("unit");
    for line in [
        "Type=dbus",
        "BusName=org.sscard.Daemon",
        "User=sscardd",
        "ProtectSystem=strict",
        "PrivateNetwork=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_UNIX",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(unit_text.lines().any(|l| l == line), "{line} missing");
    }
    // systemd waits longer than the daemon's default shutdown grace, so an
    // operation under way is never killed in the middle.
    let stop_timeout = unit_text
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec=")?.strip_suffix('s')?.parse::<u64>().ok())
        .expect("TimeoutStopSec=Ns");
    let config = std::fs::read_to_string(root.path().join("etc/sscard/sscardd.toml")).expect("config");
    let grace_ms = config
        .lines()
        .find_map(|l| l.strip_prefix("shutdown_grace_ms = ")?.trim().parse::<u64>().ok())
        .expect("shutdown_grace_ms in the installed configuration");
    assert!(stop_timeout * 1000 > grace_ms, "TimeoutStopSec={stop_timeout}s, grace {grace_ms} ms");
    let out = Command::new("systemd-analyze").args(["security", "--offline=yes"]).arg(&unit).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let exposure = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for sscardd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f32>().ok())
        .unwrap_or_else(|| panic!("no exposure level: {text}"));
    assert!(exposure < 2.0, "exposure {exposure}: {text}");
}

#[test]
fn udev_rule_starts_the_daemon_for_ccid_readers() {
    let rule =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("udev/60-sscard.rules")).expect("rule");
    let lines: Vec<&str> = rule.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 1, "{rule}");
    let pairs: Vec<(String, String, String)> = lines[0]
        .split(", ")
        .map(|pair| {
            let at = pair.find(['=', '!', '+']).unwrap_or_else(|| panic!("no operator in {pair}"));
            let op_len = if pair[at..].starts_with("==") || pair[at..].starts_with("+=") { 2 } else { 1 };
            let (key, value) = (&pair[..at], &pair[at + op_len..]);
            assert!(value.starts_with('"') && value.ends_with('"'), "unquoted value in {pair}");
            (key.to_owned(), pair[at..at + op_len].to_owned(), value.trim_matches('"').to_owned())
        })
        .collect();
    let has = |key: &str, op: &str, value: &str| pairs.iter().any(|(k, o, v)| k == key && o == op && v == value);
    assert!(has("SUBSYSTEM", "==", "usb"), "{pairs:?}");
    assert!(has("ENV{DEVTYPE}", "==", "usb_interface"), "{pairs:?}");
    assert!(has("ATTR{bInterfaceClass}", "==", "0b"), "{pairs:?}");
    assert!(has("TAG", "+=", "systemd"), "{pairs:?}");
    assert!(has("ENV{SYSTEMD_WANTS}", "+=", "sscardd.service"), "{pairs:?}");
}

/// The bridge's user unit, as installed, passes `systemd-analyze verify
/// --user` (its binary checked where it was installed), and is enabled for
/// the user's session.
#[test]
fn installed_user_unit_passes_systemd_analyze_verify() {
    let root = tempfile::tempdir().expect("root");
    make_install(root.path());
    let installed = root.path().join("usr/lib/systemd/user/sscard-bridge.service");
    let text = std::fs::read_to_string(&installed).expect("user unit");
    assert!(text.contains("ExecStart=/usr/bin/sscard-bridge "), "{text}");
    assert!(text.contains("WantedBy=default.target"), "{text}");
    let staged = root.path().join("sscard-bridge.service");
    let bridge = root.path().join("usr/bin/sscard-bridge");
    std::fs::write(&staged, text.replace("/usr/bin/sscard-bridge", &bridge.to_string_lossy())).expect("copy");
    let runtime = tempfile::tempdir().expect("runtime dir");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(&staged)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("systemd-analyze (is systemd installed?)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.trim().is_empty(), "systemd-analyze verify --user complained: {text}");
}
