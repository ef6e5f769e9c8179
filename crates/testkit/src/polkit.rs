//! A private system bus configured like Debian's (deny by default, policy
//! files punch holes), with the project's D-Bus policy, and a real polkitd
//! on it that sees the project's action and rules files (test-bench.md).
//! polkitd runs in its own mount namespace, where its action and rules
//! directories are copies with the project's files added, so nothing on
//! the machine changes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::bench::{die_with_parent, terminate};

pub struct SystemBus {
    bus: Child,
    polkitd: Child,
    socket: PathBuf,
}

/// The project's source tree.
pub fn source(path: &str) -> PathBuf {
    crate::source_root().join(path)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("polkit: dir");
    if let Ok(entries) = fs::read_dir(from) {
        for entry in entries.flatten() {
            let _ = fs::copy(entry.path(), to.join(entry.file_name()));
        }
    }
}

fn open_up(path: &Path) {
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o755));
}

impl SystemBus {
    /// Starts the bus in `dir` (made reachable for unprivileged callers)
    /// with the policy files in `policy_dir`, and polkitd with the system's
    /// actions and rules plus `actions` and `rules`.
    pub fn start(dir: &Path, policy_dir: &Path, actions: &[PathBuf], rules: &[PathBuf]) -> SystemBus {
        open_up(dir);
        let socket = dir.join("system_bus");
        // Debian's system.conf, without the parts that need a real system.
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <includedir>{policy}</includedir>
</busconfig>
"#,
            socket = socket.display(),
            policy = policy_dir.display()
        );
        // polkitd's own policy, so that it may own its name on this bus.
        let _ = fs::copy("/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf", policy_dir.join("polkit.conf"));
        let bus = super::daemon::spawn_dbus_daemon(&dir.join("system-bus.conf"), &config, &dir.join("system-bus.log"));
        wait_until("the system bus socket", || socket.exists());

        let actions_dir = dir.join("polkit-actions");
        let rules_dir = dir.join("polkit-rules");
        let etc_rules_dir = dir.join("polkit-etc-rules");
        copy_dir(Path::new("/usr/share/polkit-1/actions"), &actions_dir);
        copy_dir(Path::new("/usr/share/polkit-1/rules.d"), &rules_dir);
        fs::create_dir_all(&etc_rules_dir).expect("polkit: etc rules");
        for file in actions {
            fs::copy(file, actions_dir.join(file.file_name().expect("name"))).expect("polkit: action file");
        }
        for file in rules {
            fs::copy(file, rules_dir.join(file.file_name().expect("name"))).expect("polkit: rules file");
        }
        for d in [&actions_dir, &rules_dir, &etc_rules_dir] {
            open_up(d);
            for entry in fs::read_dir(d).expect("dir").flatten() {
                let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o644));
            }
        }
        let script = format!(
            "mount --bind '{}' /usr/share/polkit-1/actions && mount --bind '{}' /usr/share/polkit-1/rules.d \
             && mount --bind '{}' /etc/polkit-1/rules.d && exec /usr/lib/polkit-1/polkitd --no-debug",
            actions_dir.display(),
            rules_dir.display(),
            etc_rules_dir.display()
        );
        let log = fs::File::create(dir.join("polkitd.log")).expect("polkit: log");
        let polkitd = die_with_parent(&mut Command::new("unshare"))
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("polkit: cannot start polkitd (is polkitd installed?)");
        let system = SystemBus { bus, polkitd, socket };
        wait_until("polkitd on the bus", || system.has_owner("org.freedesktop.PolicyKit1"));
        system
    }

    pub fn address(&self) -> String {
        format!("unix:path={}", self.socket.display())
    }

    pub fn has_owner(&self, name: &str) -> bool {
        let (ok, out, _) = self.busctl_as(
            None,
            &["call", "org.freedesktop.DBus", "/org/freedesktop/DBus"],
            &["org.freedesktop.DBus", "NameHasOwner", "s", name],
        );
        ok && out.trim() == "b true"
    }

    /// Runs busctl on this bus, as `user` (via setpriv, with that user's
    /// groups) or as root; answers (success, stdout, stderr).
    pub fn busctl_as(&self, user: Option<&str>, head: &[&str], tail: &[&str]) -> (bool, String, String) {
        let command = match user {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.args([&format!("--reuid={user}"), &format!("--regid={}", primary_group(user)), "--init-groups"]);
                c.arg("busctl");
                c
            }
            None => Command::new("busctl"),
        };
        let args: Vec<&str> = head.iter().chain(tail).copied().collect();
        super::daemon::run_busctl(command, &self.address(), &args)
    }
}

/// The primary group of `user`, by `id -g`.
pub fn primary_group(user: &str) -> String {
    let out = Command::new("id").args(["-g", user]).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        terminate(&mut self.polkitd);
        terminate(&mut self.bus);
    }
}

/// A Unix user the test creates (with `useradd`) and deletes again.
pub struct TestUser {
    pub name: String,
}

impl TestUser {
    /// A new user whose supplementary groups are `groups` (created if
    /// missing).
    pub fn create(prefix: &str, groups: &[&str]) -> TestUser {
        for group in groups {
            let _ = Command::new("groupadd").args(["-f", group]).status();
        }
        let name = format!("{prefix}{}", std::process::id());
        let mut useradd = Command::new("useradd");
        useradd.args(["--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"]);
        if !groups.is_empty() {
            useradd.args(["--groups", &groups.join(",")]);
        }
        let status = useradd.arg(&name).status().expect("useradd");
        assert!(status.success(), "useradd {name} failed");
        TestUser { name }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// `pkttyagent --process PID`: a textual polkit authentication agent for
/// one process, on a pseudo-terminal of its own that nobody types into
/// (unless the test does, [`SilentAgent::type_line`]), so an
/// authentication it begins stays pending. Stopped, by PID, when dropped;
/// [`SilentAgent::output`] is what it wrote to its terminal.
pub struct SilentAgent {
    child: Option<Child>,
    output: std::sync::Arc<std::sync::Mutex<String>>,
    terminal: fs::File,
}

impl SilentAgent {
    /// Starts the agent for process `pid` on `bus` and waits until it has
    /// registered with polkitd (`--notify-fd`).
    pub fn start(bus: &SystemBus, pid: u32) -> SilentAgent {
        use std::io::Read;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;

        let (mut master, mut slave) = (-1, -1);
        // SAFETY: two out-pointers to c_ints; no name, termios or size.
        let rc =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty just gave us these descriptors, owned by nobody
        // else; other children must not inherit them.
        let (master, slave) = unsafe {
            libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
            (fs::File::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
        };
        let mut notify = [-1; 2];
        // SAFETY: an out-array of two c_ints.
        let rc = unsafe { libc::pipe2(notify.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
        // SAFETY: pipe2 just gave us these descriptors.
        let (mut registered, notify_write) =
            unsafe { (fs::File::from_raw_fd(notify[0]), OwnedFd::from_raw_fd(notify[1])) };
        let notify_fd = notify_write.as_raw_fd();

        // polkit-agent-helper-1 clears its environment and reports to the
        // default system bus: in a mount namespace of the agent's own, that
        // is a link to this bus.
        let run_dbus = bus.socket.with_file_name("run-dbus");
        if !run_dbus.exists() {
            fs::create_dir_all(&run_dbus).expect("run-dbus dir");
            std::os::unix::fs::symlink(&bus.socket, run_dbus.join("system_bus_socket")).expect("bus socket link");
        }
        let script =
            format!("mount --bind '{}' /run/dbus && exec pkttyagent --process {pid} --notify-fd 3", run_dbus.display());
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", bus.socket.display()))
            .stdin(Stdio::from(slave.try_clone().expect("pty")))
            .stdout(Stdio::from(slave.try_clone().expect("pty")))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // A session of its own, with the pty (its stdin) as the
                // controlling terminal that pkttyagent opens as /dev/tty.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 || libc::dup2(notify_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = die_with_parent(&mut command).spawn().expect("cannot start pkttyagent (is polkitd installed?)");
        // Our copies of the pty's slave side and of the pipe's write end go,
        // so that only the agent holds them.
        drop(command);
        drop(notify_write);
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let terminal = master.try_clone().expect("pty");
        {
            let output = std::sync::Arc::clone(&output);
            let mut master = master;
            thread::spawn(move || {
                let mut buf = [0u8; 1024];
                // EIO once the agent is gone.
                while let Ok(n @ 1..) = master.read(&mut buf) {
                    output.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut agent = SilentAgent { child: Some(child), output, terminal };
        // The agent closes the descriptor once polkitd has registered it
        // (and it closes with the agent if that fails).
        let (done, wait) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            let _ = done.send(registered.read(&mut byte).ok());
        });
        assert!(wait.recv_timeout(Duration::from_secs(15)).is_ok(), "pkttyagent did not register within 15 s");
        assert!(agent.running(), "pkttyagent could not register: {}", agent.output());
        agent
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// What the agent has written to its terminal so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to `timeout` for the agent to have written `text`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.output().contains(text) {
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Types `line` and Enter at the agent's terminal.
    pub fn type_line(&mut self, line: &str) {
        use std::io::Write;
        self.terminal.write_all(format!("{line}\n").as_bytes()).expect("type at the agent's terminal");
    }

    /// Stops the agent (SIGTERM, by PID); answers its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.child.take().and_then(|mut c| terminate(&mut c))
    }
}

impl Drop for SilentAgent {
    fn drop(&mut self) {
        self.stop();
    }
}
