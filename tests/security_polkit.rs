//! Authorization with a real polkitd on a private system bus that loads the
//! project's D-Bus policy, action file and rules: an unprivileged caller
//! is refused before any APDU, a member of group `sscard` and root are
//! allowed, and only root or the service user may own the name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::bench::{Bench, Slot, terminate};
use support::daemon::Sscardd;
use support::polkit::{SilentAgent, SystemBus, TestUser, primary_group, source};

const SSN: &str = "11010519491231002X";

struct Rig {
    _bench: Bench,
    bus: SystemBus,
    daemon: Sscardd,
    card_log: PathBuf,
    reader: String,
}

impl Rig {
    fn start() -> Rig {
        Rig::start_with(&[], &[])
    }

    /// With polkit rules files besides the project's, and more arguments
    /// for sscardd.
    fn start_with(extra: &[PathBuf], daemon_args: &[&str]) -> Rig {
        let mut bench = Bench::start();
        let policy = bench.dir().join("system.d");
        std::fs::create_dir_all(&policy).expect("policy dir");
        std::fs::copy(source("dbus/org.sscard.Daemon.conf"), policy.join("org.sscard.Daemon.conf")).expect("policy");
        let mut rules = vec![source("polkit/50-sscard.rules")];
        rules.extend_from_slice(extra);
        let bus = SystemBus::start(bench.dir(), &policy, &[source("polkit/org.sscard.policy")], &rules);
        let daemon = Sscardd::start_with(&bench, &bus, &["--authorization", "polkit"], daemon_args);
        let card_log = bench.dir().join("card.log");
        bench.insert(Slot::Sam, "psam", &[]);
        bench.insert(Slot::Card, "card", &["--gen", "3", "--log", &card_log.to_string_lossy()]);
        let reader = "/org/sscard/Daemon/readers/0".to_owned();
        let rig = Rig { _bench: bench, bus, daemon, card_log, reader };
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

/// A polkit rules file in `dir` that makes `user` authenticate (`result`:
/// `AUTH_ADMIN`, `AUTH_SELF`) for `action`.
fn auth_rule(dir: &std::path::Path, action: &str, user: &str, result: &str) -> PathBuf {
    let rule = dir.join("10-test-authenticate.rules");
    std::fs::write(
        &rule,
        format!(
            "polkit.addRule(function(action, subject) {{\n    if (action.id == \"{action}\" && subject.user == \"{user}\") \
             {{\n        return polkit.Result.{result};\n    }}\n}});\n"
        ),
    )
    .expect("rule");
    rule
}

/// `busctl call` of a Reader1 method as `user`, allowing interactive
/// authorization, held back until [`release`] so that an agent can be
/// registered for its process first.
fn held_back_call(rig: &Rig, user: &str, method: &str, args: &[&str]) -> Stopped {
    Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={}", primary_group(user)),
            "--init-groups",
            "sh",
            "-c",
            "read go && exec busctl \"$@\"",
            "sh",
            &format!("--address={}", rig.bus.address()),
            "--allow-interactive-authorization=yes",
            "--timeout=120",
            "call",
            "org.sscard.Daemon",
            &rig.reader,
            "org.sscard.Reader1",
            method,
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Stopped)
        .expect("setpriv")
}

fn release(call: &mut Stopped) {
    call.0.stdin.take().expect("stdin").write_all(b"go\n").expect("release the caller");
}

/// Waits up to `timeout` for a held-back call to end; answers whether it
/// succeeded, and its stdout and stderr.
fn ended(mut call: Stopped, timeout: Duration) -> (bool, String, String) {
    let deadline = Instant::now() + timeout;
    while matches!(call.0.try_wait(), Ok(None)) {
        assert!(Instant::now() < deadline, "the call did not end within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut out, mut err) = (String::new(), String::new());
    call.0.stdout.take().expect("stdout").read_to_string(&mut out).expect("stdout");
    call.0.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    let status = call.0.wait().expect("busctl");
    (status.success(), out, err)
}

/// A caller whose authorization stays pending (polkit asks its agent for
/// an administrator's password, and nobody types one) holds up nobody
/// else's call on the same reader.
#[test]
fn a_caller_waiting_for_polkit_does_not_hold_up_the_reader() {
    let waiter = TestUser::create("sscwait", &[]);
    // A site rule: this user must authenticate as an administrator to
    // personalise (the shipped policy would just refuse a caller outside
    // a login session, with no chance to authenticate).
    let rules = tempfile::tempdir().expect("rules dir");
    let rig = Rig::start_with(&[auth_rule(rules.path(), "org.sscard.personalize", &waiter.name, "AUTH_ADMIN")], &[]);
    // Root's ReadCard, cut off by busctl after 10 s.
    let read = |what: &str| {
        let head = ["--timeout=10", "call", "org.sscard.Daemon", rig.reader.as_str(), "org.sscard.Reader1", "ReadCard"];
        let started = Instant::now();
        let (ok, out, err) = rig.bus.busctl_as(None, &head, &["a{sv}", "0"]);
        let took = started.elapsed();
        assert!(ok, "{what} ReadCard: {err} (after {took:?})");
        assert!(out.contains("ssse-gen3"), "{out}");
        took
    };
    read("first");
    let baseline = read("baseline");

    let mut pending = held_back_call(&rig, &waiter.name, "WriteHolderRecord", PRIVILEGED[0].1);
    let mut agent = SilentAgent::start(&rig.bus, pending.0.id());
    release(&mut pending);
    assert!(
        agent.wait_for("AUTHENTICATING FOR org.sscard.personalize", Duration::from_secs(10)),
        "the agent was never asked: {}",
        agent.output()
    );
    assert!(agent.wait_for("Password", Duration::from_secs(10)), "no password prompt: {}", agent.output());
    std::thread::sleep(Duration::from_secs(1));
    assert!(matches!(pending.0.try_wait(), Ok(None)), "the call did not stay pending: {:?}", pending.0.try_wait());
    eprintln!("the agent, 1 s on:\n{}", agent.output().trim_end());

    // Meanwhile root's ReadCard on the same reader goes through at once.
    let during = read("while another caller waits for polkit,");
    eprintln!("ReadCard: {baseline:?} before, {during:?} while another caller waits for polkit");
    assert!(
        during < baseline + Duration::from_millis(100),
        "a caller waiting for polkit delayed ReadCard: {during:?}, was {baseline:?}"
    );
    assert!(matches!(pending.0.try_wait(), Ok(None)), "the pending call ended early");

    // Without its agent, the authentication fails and the call ends.
    agent.stop();
    let (ok, out, err) = ended(pending, Duration::from_secs(10));
    assert!(!ok, "the write went through: {out}");
    assert!(err.contains("not authorized") || err.contains("Cancelled"), "{err}");
    let log = std::fs::read_to_string(&rig.card_log).unwrap_or_default();
    let updates = log.lines().filter_map(|l| l.split_once(" > ")).filter(|(_, apdu)| apdu.get(2..4) == Some("DC"));
    assert_eq!(updates.count(), 0, "the refused write reached the card");
}

/// At shutdown, a call waiting for polkit is answered `Cancelled` at once,
/// and does not keep the daemon from exiting.
#[test]
fn a_caller_waiting_for_polkit_is_cancelled_at_shutdown() {
    let waiter = TestUser::create("sscstop", &[]);
    let rules = tempfile::tempdir().expect("rules dir");
    let mut rig =
        Rig::start_with(&[auth_rule(rules.path(), "org.sscard.personalize", &waiter.name, "AUTH_ADMIN")], &[]);
    let mut pending = held_back_call(&rig, &waiter.name, "WriteHolderRecord", PRIVILEGED[0].1);
    let agent = SilentAgent::start(&rig.bus, pending.0.id());
    release(&mut pending);
    assert!(agent.wait_for("Password", Duration::from_secs(10)), "no password prompt: {}", agent.output());
    let asked = Instant::now();
    rig.daemon.signal_term();
    let status = rig.daemon.wait_exit(Duration::from_secs(10)).expect("sscardd still runs 10 s after SIGTERM");
    let exited = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{}", rig.daemon.log_text());
    let (ok, out, err) = ended(pending, Duration::from_secs(5));
    eprintln!("SIGTERM with a caller waiting for polkit: exit 0 after {exited:?}; the caller got {}", err.trim());
    assert!(!ok, "{out}");
    assert!(err.contains("shutting down"), "{err}");
    assert!(exited < Duration::from_secs(2), "{exited:?}");
}

/// The operation timeout counts from a call's arrival, authentication
/// included: a call authorized only after it has passed answers `Timeout`
/// and never reaches the card.
#[test]
fn the_timeout_counts_from_the_calls_arrival() {
    let user = TestUser::create("sscslow", &[]);
    let password = format!("Tp-{}-x7", std::process::id());
    let mut chpasswd = Command::new("chpasswd").stdin(Stdio::piped()).spawn().expect("chpasswd");
    chpasswd.stdin.take().expect("stdin").write_all(format!("{}:{password}\n", user.name).as_bytes()).expect("write");
    assert!(chpasswd.wait().expect("chpasswd").success());
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("sscardd.toml");
    std::fs::write(&config, "[timeouts]\noperation_ms = 1000\n").expect("config");
    // This user must type their own password to read the card.
    let rule = auth_rule(dir.path(), "org.sscard.read", &user.name, "AUTH_SELF");
    let rig = Rig::start_with(&[rule], &["--config", &config.to_string_lossy()]);

    // Typed at once, the password lets the call through.
    let mut call = held_back_call(&rig, &user.name, "ReadCard", &["a{sv}", "0"]);
    let mut agent = SilentAgent::start(&rig.bus, call.0.id());
    release(&mut call);
    assert!(agent.wait_for("Password", Duration::from_secs(10)), "no password prompt: {}", agent.output());
    agent.type_line(&password);
    let (ok, out, err) = ended(call, Duration::from_secs(10));
    assert!(ok, "authenticated at once: {err}\n{}", agent.output());
    assert!(out.contains("ssse-gen3"), "{out}");
    drop(agent);

    // Typed 1.5 s after the call arrived, it is too late: polkit says yes,
    // but the 1 s allowed has passed.
    let before = rig.apdus();
    let mut call = held_back_call(&rig, &user.name, "ReadCard", &["a{sv}", "0"]);
    let _agent = {
        let mut agent = SilentAgent::start(&rig.bus, call.0.id());
        release(&mut call);
        let sent = Instant::now();
        assert!(agent.wait_for("Password", Duration::from_secs(10)), "no password prompt: {}", agent.output());
        std::thread::sleep(Duration::from_millis(1500).saturating_sub(sent.elapsed()));
        agent.type_line(&password);
        agent
    };
    let (ok, out, err) = ended(call, Duration::from_secs(10));
    assert!(!ok, "a call authorized after its timeout ran: {out}");
    assert!(err.contains("no answer within 1 s"), "{err}");
    assert_eq!(rig.apdus(), before, "a call past its timeout reached the card");
}

/// A child process, stopped (SIGTERM, by PID) when the test ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        // Never a PID already reaped (and perhaps reused).
        if matches!(self.0.try_wait(), Ok(None)) {
            terminate(&mut self.0);
        }
    }
}

/// `BeginHsm` asks polkit for its operation's action, once, before any
/// APDU: the reads' `org.sscard.read`, the write's `org.sscard.personalize`,
/// the PIN's `org.sscard.reset-pin`.
#[test]
fn begin_hsm_asks_polkit_for_the_operations_action() {
    let rig = Rig::start();
    let before = rig.apdus();
    for operation in ["read_basic", "read", "write", "reload_pin", "unblock_pin"] {
        let (ok, _, err) = rig.call(Some("nobody"), "BeginHsm", &["sa{sv}", operation, "0"]);
        assert!(!ok && (err.contains("not authorized") || err.contains("NotAuthorized")), "{operation}: {err}");
    }
    assert_eq!(rig.apdus(), before, "a refused BeginHsm reached the card");

    // A member of sscard may; the session ends when its owner (busctl) leaves.
    let operator = TestUser::create("sschsm", &["sscard"]);
    for operation in ["read", "write", "unblock_pin"] {
        let (ok, out, err) = rig.call(Some(&operator.name), "BeginHsm", &["sa{sv}", operation, "0"]);
        assert!(ok, "{operation}: {err}");
        assert!(out.contains("/org/sscard/Daemon/hsm/") && out.contains("awaits"), "{out}");
    }
    assert!(rig.apdus() > before, "the sessions' first steps reached the card");
    // The sessions' interface is open on the system bus (each session
    // answers only its owner): the bus lets the call through to sscardd.
    let head = ["call", "org.sscard.Daemon", "/org/sscard/Daemon/hsm/1", "org.sscard.HsmSession1", "Abort"];
    let (ok, _, err) = rig.bus.busctl_as(Some("nobody"), &head, &[]);
    assert!(!ok && err.contains("Unknown object"), "{err}");
    // Another user, outside the group, is refused the write's action.
    let stranger = TestUser::create("sschsx", &[]);
    let (ok, _, err) = rig.call(Some(&stranger.name), "BeginHsm", &["sa{sv}", "write", "0"]);
    assert!(!ok && err.contains("not authorized"), "{err}");
}
