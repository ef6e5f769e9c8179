//! A private D-Bus bus and `sscardd` on it, for the D-Bus tests and the
//! demo. Both are stopped, by PID, when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::bench::Bench;

/// A bus the daemon can run on.
pub trait Bus {
    fn address(&self) -> String;
    fn has_owner(&self, name: &str) -> bool;
}

impl Bus for PrivateBus {
    fn address(&self) -> String {
        PrivateBus::address(self)
    }

    fn has_owner(&self, name: &str) -> bool {
        PrivateBus::has_owner(self, name)
    }
}

impl Bus for super::polkit::SystemBus {
    fn address(&self) -> String {
        super::polkit::SystemBus::address(self)
    }

    fn has_owner(&self, name: &str) -> bool {
        super::polkit::SystemBus::has_owner(self, name)
    }
}

/// A private `dbus-daemon` listening on a socket in `dir`.
pub struct PrivateBus {
    child: Child,
    socket: PathBuf,
}

impl PrivateBus {
    /// Starts a bus of type `system` whose default policy allows everything
    /// (the security issue replaces it with the shipped policy), plus
    /// whatever policy files `policy_dir` holds.
    pub fn start(dir: &Path, policy_dir: Option<&Path>) -> PrivateBus {
        let socket = dir.join("bus");
        let include = policy_dir.map(|d| format!("  <includedir>{}</includedir>\n", d.display())).unwrap_or_default();
        let config = format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n  <type>system</type>\n  \
             <listen>unix:path={}</listen>\n  <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
             <allow user=\"*\"/>\n    <allow own=\"*\"/>\n    <allow send_type=\"method_call\"/>\n    \
             <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow receive_sender=\"*\"/>\n  </policy>\n\
             {include}</busconfig>\n",
            socket.display()
        );
        let child = spawn_dbus_daemon(&dir.join("bus.conf"), &config, &dir.join("dbus-daemon.log"));
        let bus = PrivateBus { child, socket };
        wait_until("the bus socket", Duration::from_secs(10), || bus.socket.exists());
        bus
    }

    /// The bus address, `unix:path=…`.
    pub fn address(&self) -> String {
        format!("unix:path={}", self.socket.display())
    }

    /// Whether `name` has an owner, asked with busctl.
    pub fn has_owner(&self, name: &str) -> bool {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.address()))
            .args(["call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus"])
            .args(["NameHasOwner", "s", name])
            .output();
        out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "b true")
    }

    /// Runs `busctl --address=… ARGS…`; returns (success, stdout, stderr).
    pub fn busctl(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new("timeout");
        command.args(["30", "busctl"]);
        run_busctl(command, &self.address(), args)
    }
}

/// Writes `config` to `config_path` and starts `dbus-daemon` on it, logging
/// to `log_path`; it dies with this process.
pub fn spawn_dbus_daemon(config_path: &Path, config: &str, log_path: &Path) -> Child {
    fs::write(config_path, config).expect("bus: config");
    let log = fs::File::create(log_path).expect("bus: log");
    super::bench::die_with_parent(&mut Command::new("dbus-daemon"))
        .arg(format!("--config-file={}", config_path.display()))
        .args(["--nofork", "--nopidfile"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("bus: cannot start dbus-daemon (is dbus installed?)")
}

/// Runs `command` (busctl, or a wrapper that ends in it) with
/// `--address=ADDRESS ARGS…`; returns (success, stdout, stderr).
pub fn run_busctl(mut command: Command, address: &str, args: &[&str]) -> (bool, String, String) {
    let out = command
        .arg(format!("--address={address}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run busctl (is systemd installed?)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        super::bench::terminate(&mut self.child);
    }
}

/// `sscardd` on a private bus, talking to a bench's pcscd.
pub struct Sscardd {
    child: Option<Child>,
    log: PathBuf,
}

/// The daemon binary, the build's ([`crate::program`]).
pub fn daemon_binary() -> PathBuf {
    crate::program("sscardd")
}

/// The profiles of the source tree.
pub fn scripts_dir() -> PathBuf {
    crate::source_root().join("apdu-scripts")
}

impl Sscardd {
    /// Starts `sscardd --bus ADDRESS --scripts apdu-scripts --authorization
    /// none ARGS…` and waits until it owns its name.
    pub fn start(bench: &Bench, bus: &dyn Bus, args: &[&str]) -> Sscardd {
        Sscardd::start_with(bench, bus, &["--authorization", "none"], args)
    }

    pub fn start_with(bench: &Bench, bus: &dyn Bus, auth: &[&str], args: &[&str]) -> Sscardd {
        let log_filter = std::env::var("SSCARDD_LOG").unwrap_or_else(|_| "debug".into());
        Sscardd::start_full(&daemon_binary(), &scripts_dir(), bench, bus, auth, args, &log_filter)
    }

    /// Starts `binary --bus … --scripts SCRIPTS AUTH… ARGS…` with
    /// `RUST_LOG=log_filter`, and waits until it owns its name.
    pub fn start_full(
        binary: &Path,
        scripts: &Path,
        bench: &Bench,
        bus: &dyn Bus,
        auth: &[&str],
        args: &[&str],
        log_filter: &str,
    ) -> Sscardd {
        let log = unique(bench.dir().join("sscardd.log"));
        let file = fs::File::create(&log).expect("daemon: log");
        let child = super::bench::die_with_parent(&mut Command::new(binary))
            .args(["--bus", &bus.address(), "--scripts"])
            .arg(scripts)
            .args(auth)
            .args(args)
            .env("PCSCLITE_CSOCK_NAME", bench.socket())
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("daemon: cannot start sscardd");
        let mut daemon = Sscardd { child: Some(child), log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !bus.has_owner("org.sscard.Daemon") {
            if let Some(Ok(Some(status))) = daemon.child.as_mut().map(Child::try_wait) {
                panic!("daemon: sscardd exited with {status}: {}", daemon.log_text());
            }
            assert!(Instant::now() < deadline, "daemon: no name after 10 s: {}", daemon.log_text());
            thread::sleep(Duration::from_millis(10));
        }
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM; answers the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.child.take().and_then(|mut c| super::bench::terminate(&mut c))
    }

    /// Sends SIGTERM (by PID) without waiting.
    pub fn signal_term(&mut self) {
        if self.running() {
            // SAFETY: kill(2) on a PID we spawned and have not yet reaped.
            unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        }
    }

    /// Waits up to `timeout` for it to exit; answers its exit status
    /// (`None` while it still runs; it is stopped when dropped).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => {
                    self.child = None;
                    return Some(status);
                }
                Some(Ok(None)) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut candidate = path.clone();
    let mut n = 0;
    while candidate.exists() {
        n += 1;
        candidate = path.with_extension(format!("{n}.log"));
    }
    candidate
}

impl Drop for Sscardd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}
