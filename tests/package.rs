//! The Debian packages (`make deb`): lintian has nothing to say about them;
//! they install on this machine (as root) with their files, modes, user and
//! group; the installed daemon, with the installed D-Bus policy and polkit
//! files loaded by a private bus and polkitd, reads a card for root and
//! refuses `nobody`; every installed page renders and the completions
//! load; `apt-get remove` then `purge` leave nothing behind; the maintainer
//! scripts reload D-Bus and udev where they run; an upgrade keeps a changed
//! configuration and its salt; `make install` installs the same files.
//!
//! The packages are built once per test run (one release build) into
//! `target/package-test/`. These tests change the machine: nextest runs
//! them one at a time (test group `packages`, `.config/nextest.toml`), and
//! each purges the packages when it ends, even on failure. While they are
//! installed, other tests are unaffected: they run `target/` binaries on
//! private buses, give sscardd their own `--config` where a value matters
//! (the upgrade test changes only `reconnect_max_ms` and a comment), and
//! the polkitd of the test kit (crates/testkit/src/polkit.rs) copies the project's polkit files
//! over the installed ones (the same files, under the same names).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::bench::{Bench, Slot};
use support::daemon::Sscardd;
use support::polkit::{SystemBus, TestUser};

/// Every package, in the order `dpkg --purge` takes them.
const PACKAGES: &[&str] = &["sscard-bridge", "sscard-sim", "libsscard-dev", "libsscard1", "sscard"];

/// The version of the rebuild that the upgrade test installs over the first.
fn upgrade_version() -> String {
    format!("{}+upgradetest1", env!("CARGO_PKG_VERSION"))
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This build's target directory (the test runs from `target/debug/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn run(command: &mut Command) -> (bool, String) {
    let out = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn must(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let (ok, text) = run(command);
    assert!(ok, "{shown}: {text}");
    text
}

/// Runs a dpkg or apt-get command, waiting (up to two minutes) while
/// another program holds dpkg's lock, as apt does with its lock timeout:
/// (success, output).
fn dpkg_run(command: &mut Command) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (ok, text) = run(command);
        let locked = text.contains("is locked by another process") || text.contains("Could not get lock");
        if ok || !locked || Instant::now() > deadline {
            return (ok, text);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn dpkg_must(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let (ok, text) = dpkg_run(command);
    assert!(ok, "{shown}: {text}");
    text
}

/// The .deb files of `make deb` (with `SSCARD_DEB_VERSION=version` when
/// given), built once per nextest run and kept in the target directory.
fn packages(version: Option<&str>) -> Vec<PathBuf> {
    let base = target_dir().join("package-test");
    std::fs::create_dir_all(&base).unwrap();
    let lock = std::fs::File::create(base.join("lock")).unwrap();
    lock.lock().unwrap();
    let dir = base.join(version.unwrap_or("current"));
    let stamp = dir.join("run-id");
    let run_id = std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
    let debs = |dir: &Path| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "deb")).collect())
            .unwrap_or_default();
        found.sort();
        found
    };
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(run_id.as_str()) || debs(&dir).len() != PACKAGES.len() {
        let mut make = Command::new("make");
        make.current_dir(manifest())
            .arg("deb")
            .arg(format!("DEB_DIR={}", dir.display()))
            .arg(format!("CARGO_TARGET_DIR={}", target_dir().display()));
        if let Some(version) = version {
            make.env("SSCARD_DEB_VERSION", version);
        }
        let started = Instant::now();
        must(&mut make);
        eprintln!("make deb ({}): {:.1} s", version.unwrap_or("current"), started.elapsed().as_secs_f64());
        std::fs::write(&stamp, &run_id).unwrap();
    }
    let found = debs(&dir);
    assert_eq!(found.len(), PACKAGES.len(), "{found:?}");
    found
}

/// The packages installed on this machine for the length of a test:
/// purged when dropped, also when the test fails.
struct Installed;

impl Installed {
    /// `dpkg -i` of `debs` (purging whatever a killed run left first).
    fn install(debs: &[PathBuf]) -> Installed {
        purge();
        let guard = Installed;
        let started = Instant::now();
        let out = dpkg_install(debs);
        eprintln!("dpkg -i of {} packages: {:.2} s", debs.len(), started.elapsed().as_secs_f64());
        assert!(!out.contains("Configuration file"), "dpkg asked about a conffile: {out}");
        guard
    }
}

/// `dpkg -i DEBS…` without a terminal, as an unattended upgrade runs it.
fn dpkg_install(debs: &[PathBuf]) -> String {
    dpkg_must(Command::new("dpkg").arg("-i").args(debs).env("DEBIAN_FRONTEND", "noninteractive"))
}

impl Drop for Installed {
    fn drop(&mut self) {
        purge();
    }
}

fn purge() {
    let known: Vec<&str> = PACKAGES.iter().copied().filter(|p| !status(p).is_empty()).collect();
    if !known.is_empty() {
        // No panic here: it runs from a Drop, maybe while a test unwinds.
        let (ok, text) = dpkg_run(Command::new("dpkg").arg("--purge").args(&known));
        if !ok {
            eprintln!("dpkg --purge: {text}");
        }
    }
}

/// dpkg's status of `package` (`install ok installed`, `deinstall ok
/// config-files`, or empty when unknown).
fn status(package: &str) -> String {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", package]).output().expect("dpkg-query");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The files and links `package` installed (`dpkg -L`), directories aside.
fn owned_files(package: &str) -> Vec<PathBuf> {
    must(Command::new("dpkg").args(["-L", package]))
        .lines()
        .map(PathBuf::from)
        // /lib, a link to usr/lib on a merged /usr, is a directory too.
        .filter(|p| p.is_absolute() && std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
        .collect()
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}")).permissions().mode() & 0o7777
}

/// The numeric id of a user or group, by getent.
fn id_of(database: &str, name: &str) -> Option<u32> {
    let out = Command::new("getent").args([database, name]).output().expect("getent");
    String::from_utf8_lossy(&out.stdout).split(':').nth(2).and_then(|id| id.trim().parse().ok())
}

fn salt_of(config: &str) -> String {
    config
        .lines()
        .find_map(|l| l.strip_prefix("audit_salt = \"")?.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no audit_salt in {config}"))
        .to_owned()
}

#[test]
fn lintian_finds_nothing_to_complain_about() {
    let debs = packages(None);
    let (ok, text) = run(Command::new("lintian")
        .args(["--fail-on", "error,warning", "--display-level", ">=warning", "--no-tag-display-limit"])
        .args(&debs));
    assert!(ok, "lintian: {text}");
    let complaints: Vec<&str> = text.lines().filter(|l| l.starts_with("E: ") || l.starts_with("W: ")).collect();
    assert!(complaints.is_empty(), "lintian: {complaints:#?}");
    // Each package's size, for the record.
    for deb in &debs {
        let size = must(Command::new("dpkg-deb").args(["-f"]).arg(deb).arg("Installed-Size"));
        eprintln!("{}: Installed-Size {} KiB", deb.file_name().unwrap().to_string_lossy(), size.trim());
    }
}

#[test]
fn packages_install_run_and_purge_cleanly() {
    let debs = packages(None);
    let installed = Installed::install(&debs);
    for package in PACKAGES {
        assert_eq!(status(package), "install ok installed", "{package}");
        // debian/changelog follows Cargo.toml.
        let version = must(Command::new("dpkg-query").args(["-W", "-f=${Version}", package]));
        assert_eq!(version, env!("CARGO_PKG_VERSION"), "{package}");
    }

    // The files, with their modes.
    let triplet = must(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH")).trim().to_owned();
    for (path, expected) in [
        ("/usr/libexec/sscardd".to_owned(), 0o755),
        ("/usr/bin/sscardctl".to_owned(), 0o755),
        ("/usr/bin/sscard-sim".to_owned(), 0o755),
        ("/usr/bin/sscard-bridge".to_owned(), 0o755),
        ("/usr/lib/pcsc/drivers/serial/libsscard_ifd.so".to_owned(), 0o644),
        ("/usr/share/doc/sscard-sim/examples/reader.conf".to_owned(), 0o644),
        (format!("/usr/lib/{triplet}/libsscard.so.1"), 0o644),
        (format!("/usr/lib/{triplet}/pkgconfig/sscard.pc"), 0o644),
        ("/usr/include/sscard.h".to_owned(), 0o644),
        ("/usr/share/dbus-1/system.d/org.sscard.Daemon.conf".to_owned(), 0o644),
        ("/usr/share/dbus-1/system-services/org.sscard.Daemon.service".to_owned(), 0o644),
        ("/usr/share/polkit-1/actions/org.sscard.policy".to_owned(), 0o644),
        ("/usr/share/polkit-1/rules.d/50-sscard.rules".to_owned(), 0o644),
        ("/lib/systemd/system/sscardd.service".to_owned(), 0o644),
        ("/usr/lib/systemd/user/sscard-bridge.service".to_owned(), 0o644),
        ("/usr/lib/sysusers.d/sscard.conf".to_owned(), 0o644),
        ("/lib/udev/rules.d/60-sscard.rules".to_owned(), 0o644),
        ("/usr/share/sscard/apdu-scripts/ssse-gen3/profile.toml".to_owned(), 0o644),
        ("/usr/share/sscard/sscardd.toml".to_owned(), 0o644),
        ("/usr/share/man/man8/sscardd.8.gz".to_owned(), 0o644),
        ("/usr/share/bash-completion/completions/sscardctl".to_owned(), 0o644),
        ("/usr/share/zsh/vendor-completions/_sscardctl".to_owned(), 0o644),
        ("/usr/share/fish/vendor_completions.d/sscardctl.fish".to_owned(), 0o644),
        ("/etc/sscard/sscardd.toml".to_owned(), 0o640),
        ("/var/lib/sscard/audit-salt".to_owned(), 0o600),
    ] {
        assert_eq!(mode(&path), expected, "{path}");
    }
    let link = PathBuf::from(format!("/usr/lib/{triplet}/libsscard.so"));
    assert_eq!(std::fs::read_link(&link).ok(), Some(PathBuf::from("libsscard.so.1")));
    let pc = must(Command::new("pkg-config").args(["--modversion", "sscard"]));
    assert_eq!(pc.trim(), env!("CARGO_PKG_VERSION"));
    assert!(must(Command::new("ldconfig").arg("-p")).contains("libsscard.so.1 "), "ldconfig does not know it");

    // The user and the groups, and the configuration that only they read.
    let uid = id_of("passwd", "sscardd").expect("user sscardd");
    let gid = id_of("group", "sscardd").expect("group sscardd");
    assert!(id_of("group", "sscard").is_some(), "group sscard");
    assert!(uid < 1000 && gid < 1000, "sscardd is not a system user: {uid}:{gid}");
    let passwd = must(Command::new("getent").args(["passwd", "sscardd"]));
    assert!(passwd.trim_end().ends_with("nologin"), "{passwd}");
    let config = std::fs::metadata("/etc/sscard/sscardd.toml").unwrap();
    assert_eq!((config.uid(), config.gid()), (0, gid));
    let text = std::fs::read_to_string("/etc/sscard/sscardd.toml").unwrap();
    let salt = salt_of(&text);
    assert!(salt.len() >= 40, "{salt:?}");
    assert_eq!(std::fs::read_to_string("/var/lib/sscard/audit-salt").unwrap().trim(), salt);
    let template = std::fs::read_to_string(manifest().join("etc/sscardd.toml")).unwrap();
    assert_eq!(text, template.replace("audit_salt = \"\"", &format!("audit_salt = \"{salt}\"")));
    // deb-systemd-helper enabled the unit (nothing starts it without systemd).
    assert!(Path::new("/etc/systemd/system/multi-user.target.wants/sscardd.service").exists());
    assert!(!Path::new("/etc/systemd/user/default.target.wants/sscard-bridge.service").exists());

    // The installed daemon with the installed policy, actions and rules.
    {
        let mut bench = Bench::start();
        let policy = bench.dir().join("system.d");
        std::fs::create_dir_all(&policy).unwrap();
        std::fs::copy("/usr/share/dbus-1/system.d/org.sscard.Daemon.conf", policy.join("org.sscard.Daemon.conf"))
            .unwrap();
        let bus = SystemBus::start(
            bench.dir(),
            &policy,
            &[PathBuf::from("/usr/share/polkit-1/actions/org.sscard.policy")],
            &[PathBuf::from("/usr/share/polkit-1/rules.d/50-sscard.rules")],
        );
        let _daemon = Sscardd::start_full(
            Path::new("/usr/libexec/sscardd"),
            Path::new("/usr/share/sscard/apdu-scripts"),
            &bench,
            &bus,
            &["--authorization", "polkit"],
            &["--config", "/etc/sscard/sscardd.toml"],
            "info",
        );
        bench.insert(Slot::Sam, "psam", &[]);
        bench.insert(Slot::Card, "card", &["--gen", "3"]);
        let reader = "/org/sscard/Daemon/readers/0";
        let call = |user: Option<&str>| {
            bus.busctl_as(
                user,
                &["call", "org.sscard.Daemon", reader, "org.sscard.Reader1", "ReadCard"],
                &["a{sv}", "0"],
            )
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (ok, _, err) = call(None);
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "ReadCard as root: {err}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let (ok, _, err) = call(Some("nobody"));
        assert!(!ok, "nobody read the card");
        assert!(err.contains("not authorized") || err.contains("NotAuthorized"), "{err}");
        // A member of the package's group sscard is allowed by its rules.
        let operator = TestUser::create("sscpkg", &["sscard"]);
        let (ok, _, err) = call(Some(&operator.name));
        assert!(ok, "a member of sscard: {err}");
        // The installed client reads the same card through it.
        let json = must(Command::new("/usr/bin/sscardctl").args(["--bus", &bus.address(), "--json", "read"]));
        let info: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(info["profile"], "ssse-gen3", "{json}");
    }

    // Every installed page renders; the completions load.
    let mut pages = 0;
    for package in PACKAGES {
        for page in owned_files(package).into_iter().filter(|p| p.starts_with("/usr/share/man")) {
            let text = must(Command::new("man").arg("-l").arg(&page).env("MANPAGER", "cat").env("LC_ALL", "C.UTF-8"));
            let name = page.file_name().unwrap().to_string_lossy().split('.').next().unwrap().to_owned();
            assert!(text.contains("NAME") && text.to_lowercase().contains(&name), "{}: {text}", page.display());
            pages += 1;
        }
    }
    assert!(pages >= 20, "{pages} pages");
    for program in ["sscardctl", "sscard-sim", "sscard-bridge"] {
        let script = format!("source /usr/share/bash-completion/completions/{program} && complete -p {program}");
        let out = must(Command::new("bash").args(["-c", &script]));
        assert!(out.starts_with("complete ") && out.trim_end().ends_with(program), "{out}");
    }

    // apt-get remove: the programs go, the configuration stays; purge: nothing stays.
    let mut files: Vec<PathBuf> = PACKAGES.iter().flat_map(|p| owned_files(p)).collect();
    files.sort();
    assert!(files.len() > 40, "{files:?}");
    dpkg_must(
        Command::new("apt-get").args(["remove", "-y", "-q"]).args(PACKAGES).env("DEBIAN_FRONTEND", "noninteractive"),
    );
    for package in PACKAGES {
        assert_ne!(status(package), "install ok installed", "{package}");
    }
    assert!(!Path::new("/usr/libexec/sscardd").exists());
    assert!(Path::new("/etc/sscard/sscardd.toml").exists(), "remove took the configuration");
    // What remove left for purge: those with configuration (apt knows
    // only them now).
    let known: Vec<&str> = PACKAGES.iter().copied().filter(|p| !status(p).is_empty()).collect();
    assert!(known.contains(&"sscard"), "sscard's configuration went with remove");
    dpkg_must(
        Command::new("apt-get").args(["purge", "-y", "-q"]).args(&known).env("DEBIAN_FRONTEND", "noninteractive"),
    );
    for package in PACKAGES {
        assert_eq!(status(package), "", "{package} is still known to dpkg");
    }
    let left: Vec<&PathBuf> = files.iter().filter(|p| std::fs::symlink_metadata(p).is_ok()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    for path in [
        "/etc/sscard",
        "/var/lib/sscard",
        "/usr/share/sscard",
        "/usr/share/doc/sscard",
        "/etc/systemd/system/multi-user.target.wants/sscardd.service",
        "/var/lib/systemd/deb-systemd-helper-enabled/sscardd.service.dsh-also",
    ] {
        assert!(std::fs::symlink_metadata(path).is_err(), "{path} is left behind");
    }
    for registry in ["/var/lib/ucf/hashfile", "/var/lib/ucf/registry"] {
        let text = std::fs::read_to_string(registry).unwrap_or_default();
        assert!(!text.contains("/etc/sscard/"), "{registry} still names it: {text}");
    }
    drop(installed);
}

/// Where D-Bus and udev run (their sockets are there), the postinst reloads
/// both, and the postrm udev again: `dpkg` runs in a mount namespace of its
/// own whose /run holds the two sockets, with `dbus-send` and `udevadm`
/// stand-ins that record who called them with what.
#[test]
fn maintainer_scripts_reload_dbus_and_udev_where_they_run() {
    let debs = packages(None);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["dbus-send", "udevadm"] {
        let script =
            format!("#!/bin/sh\necho \"${{DPKG_MAINTSCRIPT_PACKAGE:-none}} {tool} $*\" >> '{}'\n", log.display());
        std::fs::write(bin.join(tool), script).unwrap();
        std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let in_namespace = |dpkg_args: &str| {
        let script = format!(
            "mount -t tmpfs tmpfs /run && mkdir -p /run/dbus /run/udev && python3 -c 'import socket\n\
             for p in (\"/run/dbus/system_bus_socket\", \"/run/udev/control\"): socket.socket(socket.AF_UNIX).bind(p)' \
             && PATH='{}':\"$PATH\" exec dpkg {dpkg_args}",
            bin.display()
        );
        dpkg_must(Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]));
    };
    purge();
    let installed = Installed;
    let names: Vec<String> = debs.iter().map(|d| format!("'{}'", d.display())).collect();
    in_namespace(&format!("-i {}", names.join(" ")));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let reload_dbus = "sscard dbus-send --print-reply --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig";
    assert!(calls.lines().any(|l| l == reload_dbus), "{calls}");
    let reload_udev = "sscard udevadm control --reload-rules";
    assert_eq!(calls.lines().filter(|l| *l == reload_udev).count(), 1, "{calls}");
    in_namespace("--remove sscard-bridge sscard");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(calls.lines().filter(|l| *l == reload_udev).count(), 2, "{calls}");
    drop(installed);
}

#[test]
fn an_upgrade_keeps_the_changed_configuration_and_its_salt() {
    let first = packages(None);
    let second = packages(Some(&upgrade_version()));
    let installed = Installed::install(&first);
    let config = Path::new("/etc/sscard/sscardd.toml");
    let original = std::fs::read_to_string(config).unwrap();
    let salt = salt_of(&original);
    // The administrator's change: a value and a comment of their own.
    let changed = format!(
        "# Counter 7, changed by hand.\n{}",
        original.replace("reconnect_max_ms = 500", "reconnect_max_ms = 450")
    );
    assert_ne!(changed.replace("# Counter 7, changed by hand.\n", ""), original);
    std::fs::write(config, &changed).unwrap();

    let started = Instant::now();
    let out = dpkg_install(&second);
    eprintln!("dpkg -i of the upgrade: {:.2} s", started.elapsed().as_secs_f64());
    let version = must(Command::new("dpkg-query").args(["-W", "-f=${Version}", "sscard"]));
    assert_eq!(version, upgrade_version());
    assert!(!out.contains("Configuration file"), "{out}");
    assert_eq!(std::fs::read_to_string(config).unwrap(), changed, "the upgrade changed the configuration");
    assert_eq!(salt_of(&changed), salt);
    // No question was put aside for later: ucf saw no conflict.
    let leftovers: Vec<String> = std::fs::read_dir("/etc/sscard")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "sscardd.toml")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(mode("/etc/sscard/sscardd.toml"), 0o640);

    // Installing the first version again over it (a downgrade) keeps it too.
    dpkg_install(&first);
    assert_eq!(std::fs::read_to_string(config).unwrap(), changed);
    drop(installed);
}

/// `make install` and the packages install the same files: the package's
/// /lib is /usr/lib on Debian 12's merged /usr, dh_compress gzips the
/// pages, /usr/share/doc/<package> and the lintian overrides are Debian's
/// own, and the configuration comes from the postinst, not the archive.
#[test]
fn make_install_and_the_packages_install_the_same_files() {
    let debs = packages(None);
    let mut from_packages = BTreeSet::new();
    for deb in &debs {
        for line in must(Command::new("dpkg-deb").arg("-c").arg(deb)).lines() {
            // drwxr-xr-x root/root 0 2026-12-01 16:00 ./usr/bin/
            let kind = line.chars().next().unwrap_or('-');
            let path = line.split(" ./").nth(1).unwrap_or("").split(" -> ").next().unwrap().to_owned();
            if kind == 'd'
                || path.is_empty()
                // Debian's own files there; the driver's examples are ours.
                || (path.starts_with("usr/share/doc/") && !path.starts_with("usr/share/doc/sscard-sim/examples/"))
                || path.starts_with("usr/share/lintian/")
            {
                continue;
            }
            let path = if path.starts_with("lib/") { format!("usr/{path}") } else { path };
            let path = match path.strip_suffix(".gz") {
                Some(page) if path.starts_with("usr/share/man/") => page.to_owned(),
                _ => path,
            };
            from_packages.insert(path);
        }
    }
    from_packages.insert("etc/sscard/sscardd.toml".to_owned());

    let root = tempfile::tempdir().unwrap();
    let release = target_dir().join("release");
    must(
        Command::new("make")
            .current_dir(manifest())
            .arg("install")
            .arg(format!("DESTDIR={}", root.path().display()))
            .arg(format!("BIN_DIR={}", release.display())),
    );
    let mut from_make = BTreeSet::new();
    let mut stack = vec![root.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                from_make.insert(entry.path().strip_prefix(root.path()).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let only_make: Vec<_> = from_make.difference(&from_packages).collect();
    let only_packages: Vec<_> = from_packages.difference(&from_make).collect();
    assert!(
        only_make.is_empty() && only_packages.is_empty(),
        "make only: {only_make:?}\npackages only: {only_packages:?}"
    );
    assert!(from_make.len() > 40, "{from_make:?}");
}
