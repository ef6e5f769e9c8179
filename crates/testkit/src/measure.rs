//! What the benchmarks share: their command-line options, medians and
//! percentiles, the units they print, a process's memory, and pcscd's view
//! of a reader watched from a thread.

use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use pcsc::{ReaderState, State};

/// `--name N` on the command line, else `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `--name TEXT` on the command line, if given.
pub fn arg_text(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// Whether `--name` is on the command line.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

pub struct Stats {
    pub median: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub n: usize,
}

pub fn stats(mut v: Vec<Duration>) -> Stats {
    assert!(!v.is_empty(), "no samples");
    v.sort();
    let n = v.len();
    let at = |per_mille: usize| v[(n * per_mille / 1000).min(n - 1)];
    Stats { median: v[n / 2], p90: at(900), p99: at(990), n }
}

pub fn median(v: Vec<Duration>) -> Duration {
    stats(v).median
}

pub fn p90(v: Vec<Duration>) -> Duration {
    stats(v).p90
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn mib(kib: u64) -> String {
    format!("{:.2} MiB", kib as f64 / 1024.0)
}

/// VmRSS of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// pcscd's view of one reader, from a thread blocked in
/// `SCardGetStatusChange`: each change as (`now()` when it was seen, a
/// card present and not mute).
pub struct PresenceWatcher<T> {
    pub seen: mpsc::Receiver<(T, bool)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> PresenceWatcher<T> {
    pub fn start(ctx: pcsc::Context, reader: &str, now: fn() -> T) -> PresenceWatcher<T> {
        let name = CString::new(reader).expect("reader name");
        let stop = Arc::new(AtomicBool::new(false));
        let (events, seen) = mpsc::channel();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut states = [ReaderState::new(name, State::UNAWARE)];
                while !stop.load(Ordering::SeqCst) {
                    match ctx.get_status_change(Duration::from_millis(200), &mut states) {
                        Ok(()) => {
                            let at = now();
                            let state = states[0].event_state();
                            let present = state.contains(State::PRESENT) && !state.contains(State::MUTE);
                            let _ = events.send((at, present));
                            states[0].sync_current_state();
                        }
                        Err(pcsc::Error::Timeout) => {}
                        Err(e) => panic!("SCardGetStatusChange: {e}"),
                    }
                }
            })
        };
        PresenceWatcher { seen, stop, thread: Some(thread) }
    }

    /// Forgets what was seen so far.
    pub fn drain(&self) {
        while self.seen.try_recv().is_ok() {}
    }

    /// When pcscd next reported the card present.
    pub fn next_present(&self) -> T {
        loop {
            let (at, present) = self.seen.recv_timeout(Duration::from_secs(15)).expect("pcscd's report of the card");
            if present {
                return at;
            }
        }
    }
}

impl<T> Drop for PresenceWatcher<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
