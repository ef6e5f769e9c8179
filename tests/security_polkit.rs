//! Authorization with a real polkitd on a private system bus that loads the
//! project's D-Bus policy, action file and rules: an unprivileged caller
//! is refused before any APDU, a member of group `sscard` and root are
//! allowed, and only root or the service user may own the name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use support::bench::{Bench, Slot};
use support::daemon::Sscardd;
use support::polkit::{SystemBus, TestUser, source};

const SSN: &str = "11010519491231002X";

struct Rig {
    _bench: Bench,
    bus: SystemBus,
    _daemon: Sscardd,
    card_log: PathBuf,
    reader: String,
}

impl Rig {
    fn start() -> Rig {
        let mut bench = Bench::start();
        let policy = bench.dir().join("system.d");
        std::fs::create_dir_all(&policy).expect("policy dir");
        std::fs::copy(source("dbus/org.sscard.Daemon.conf"), policy.join("org.sscard.Daemon.conf")).expect("policy");
        let bus = SystemBus::start(
            bench.dir(),
            &policy,
            &[source("polkit/org.sscard.policy")],
            &[source("polkit/50-sscard.rules")],
        );
        let daemon = Sscardd::start_with(&bench, &bus, &["--authorization", "polkit"], &[]);
        let card_log = bench.dir().join("card.log");
        bench.insert(Slot::Sam, "psam", &[]);
        bench.insert(Slot::Card, "card", &["--gen", "3", "--log", &card_log.to_string_lossy()]);
        let reader = "/org/sscard/Daemon/readers/0".to_owned();
        let rig = Rig { _bench: bench, bus, _daemon: daemon, card_log, reader };
        rig.wait_classified();
        rig
    }

    fn wait_classified(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (_, out, _) = self.bus.busctl_as(
                None,
                &["get-property", "org.sscard.Daemon", &self.reader],
                &["org.sscard.Reader1", "CardKind"],
            );
            if out.trim() == "s \"ssse\"" {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "the card was never classified: {out}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Calls a Reader1 method as `user` (None: root); answers (ok, stdout, stderr).
    fn call(&self, user: Option<&str>, method: &str, args: &[&str]) -> (bool, String, String) {
        let head = ["call", "org.sscard.Daemon", self.reader.as_str(), "org.sscard.Reader1", method];
        self.bus.busctl_as(user, &head, args)
    }

    fn apdus(&self) -> usize {
        std::fs::read_to_string(&self.card_log).unwrap_or_default().lines().filter(|l| l.contains(" > ")).count()
    }
}

/// Every method, with arguments that would succeed on a blank gen3 card
/// given the right to call it (Activate and the PIN methods aside).
const PRIVILEGED: &[(&str, &[&str])] = &[
    ("WriteHolderRecord", &["a{sv}a{sv}", "1", "issuer", "s", "SZ-CARD-CTR", "0"]),
    ("Activate", &["sssa{sv}", SSN, "123456", "802413", "0"]),
    ("ReloadPin", &["sa{sv}", "802413", "0"]),
    ("UnblockPin", &["a{sv}", "0"]),
];

const ORDINARY: &[(&str, &[&str])] = &[
    ("ReadCard", &["a{sv}", "0"]),
    ("GetPinStatus", &["a{sv}", "0"]),
    ("VerifyPin", &["sa{sv}", "123456", "0"]),
    ("ChangePin", &["ssa{sv}", "123456", "802413", "0"]),
];

#[test]
fn unprivileged_caller_is_refused_before_any_apdu() {
    let rig = Rig::start();
    let before = rig.apdus();
    for (method, args) in PRIVILEGED {
        let (ok, _, err) = rig.call(Some("nobody"), method, args);
        assert!(!ok, "nobody may call {method}");
        assert!(err.contains("not authorized") || err.contains("NotAuthorized"), "{method}: {err}");
    }
    // Without an active login session, polkit's allow_active does not
    // apply either: a session-less caller cannot read or use the PIN.
    for (method, args) in ORDINARY {
        let (ok, _, err) = rig.call(Some("nobody"), method, args);
        assert!(!ok, "nobody may call {method}");
        assert!(err.contains("not authorized") || err.contains("NotAuthorized"), "{method}: {err}");
    }
    assert_eq!(rig.apdus(), before, "a refused call reached the card");
    // The name and properties stay readable: only card operations need polkit.
    let (ok, out, err) = rig.bus.busctl_as(
        Some("nobody"),
        &["get-property", "org.sscard.Daemon", &rig.reader],
        &["org.sscard.Reader1", "CardKind"],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "s \"ssse\"");
}

#[test]
fn group_sscard_and_root_are_allowed() {
    let rig = Rig::start();
    let operator = TestUser::create("sscop", &["sscard"]);
    let (ok, out, err) = rig.call(Some(&operator.name), "WriteHolderRecord", PRIVILEGED[0].1);
    assert!(ok, "a member of sscard may personalise: {err}");
    assert!(out.contains("digest"), "{out}");
    let (ok, out, err) = rig.call(Some(&operator.name), "ReadCard", &["a{sv}", "0"]);
    assert!(ok, "{err}");
    assert!(out.contains("SZ-CARD-CTR"), "{out}");
    let (ok, _, err) = rig.call(Some(&operator.name), "UnblockPin", &["a{sv}", "0"]);
    assert!(ok, "{err}");

    // A user outside the group is still refused.
    let stranger = TestUser::create("sscx", &[]);
    let (ok, _, err) = rig.call(Some(&stranger.name), "UnblockPin", &["a{sv}", "0"]);
    assert!(!ok && err.contains("not authorized"), "{err}");

    // Root needs neither group nor agent.
    let (ok, _, err) = rig.call(None, "ReloadPin", &["sa{sv}", "802413", "0"]);
    assert!(ok, "root: {err}");
    let (ok, out, err) = rig.call(None, "VerifyPin", &["sa{sv}", "802413", "0"]);
    assert!(ok, "root: {err}");
    assert_eq!(out.trim(), "bu true 3");
}

#[test]
fn only_root_or_the_service_user_may_own_the_name() {
    let bench = Bench::start();
    let policy = bench.dir().join("system.d");
    std::fs::create_dir_all(&policy).expect("policy dir");
    std::fs::copy(source("dbus/org.sscard.Daemon.conf"), policy.join("org.sscard.Daemon.conf")).expect("policy");
    let bus = SystemBus::start(bench.dir(), &policy, &[source("polkit/org.sscard.policy")], &[]);
    let request = ["call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName"];
    let (ok, _, err) = bus.busctl_as(Some("nobody"), &request, &["su", "org.sscard.Daemon", "0"]);
    assert!(!ok, "nobody owned org.sscard.Daemon");
    assert!(err.contains("not allowed to own") || err.contains("Access denied"), "{err}");
    let stranger = TestUser::create("sscown", &["sscard"]);
    let (ok, _, err) = bus.busctl_as(Some(&stranger.name), &request, &["su", "org.sscard.Daemon", "0"]);
    assert!(!ok, "a member of sscard owned the name: {err}");
    // Root may (the daemon runs as root here, as sscardd under systemd).
    let daemon = Sscardd::start_with(&bench, &bus, &["--authorization", "polkit"], &[]);
    assert!(bus.has_owner("org.sscard.Daemon"));
    drop(daemon);
}
