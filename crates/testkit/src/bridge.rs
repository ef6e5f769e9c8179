//! sscard-bridge for a test or a benchmark: on a free loopback port (the
//! one it took read from its first line), its log in a file, stopped when
//! dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The bridge binary, the build's ([`crate::program`]).
pub fn bridge_binary() -> PathBuf {
    crate::program("sscard-bridge")
}

pub struct Bridge {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Bridge {
    /// On any free port, `RUST_LOG=filter`, `extra` arguments (`--config …`),
    /// logging into `dir`.
    pub fn start(bus: &str, dir: &Path, filter: &str, extra: &[&str]) -> Bridge {
        Bridge::start_on(bus, dir, filter, 0, &format!("bridge-{}.log", std::process::id()), extra)
    }

    /// On `port` (0: any free one), logging into `dir/log_name`. No PIN
    /// source: a national PIN function without its PIN keys fails rather
    /// than waits for a prompt.
    pub fn start_on(bus: &str, dir: &Path, filter: &str, port: u16, log_name: &str, extra: &[&str]) -> Bridge {
        let log = dir.join(log_name);
        let listen = format!("127.0.0.1:{port}");
        let mut child = super::bench::die_with_parent(&mut Command::new(bridge_binary()))
            .args(["--bus", bus, "--listen", &listen])
            .args(extra)
            .env("RUST_LOG", filter)
            .env("SSCARD_PINENTRY", "/nonexistent/pinentry")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("bridge log"))
            .spawn()
            .expect("sscard-bridge");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("bridge's first line");
        let port = line
            .trim()
            .strip_prefix("sscard-bridge: listening on ws://127.0.0.1:")
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}: {}", std::fs::read_to_string(&log).unwrap_or_default()));
        Bridge { child, port, log }
    }

    /// Its WebSocket.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// The page at `path` (with its query).
    pub fn page(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// VmRSS in KiB.
    pub fn rss_kib(&self) -> u64 {
        super::measure::rss_kib(self.child.id())
    }

    pub fn stop(&mut self) {
        super::bench::terminate(&mut self.child);
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop();
    }
}
