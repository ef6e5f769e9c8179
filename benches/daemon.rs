//! sscardd on a private bus, on the bench, in one run:
//!
//! 1. ReadCard over D-Bus against the same APDUs (captured from the
//!    simulator's `--log`) sent straight through libpcsclite from this
//!    process, interleaved; beside them the in-process operations layer
//!    (`Engine::read_card`) and a bare D-Bus round trip (a property Get).
//!    With the simulator answering at once, and at a real T=0 card's pace
//!    (`--latency-us 20000`);
//! 2. throughput with 1, 2 and 4 readers at both paces, and the CPU each
//!    process spends per ReadCard;
//! 3. the daemon's RSS idle and after `--rss-calls` ReadCard calls, and
//!    its CPU ticks while idle with cards present;
//! 4. start-up time until the bus name is owned (NameOwnerChanged);
//! 5. insert latency: simulator spawned → pcscd reports the card → the
//!    daemon's `CardInserted` reaches a client.
//!
//! `cargo bench --bench daemon [-- --runs N --slow-runs N --seconds S
//! --slow-seconds S --rss-calls N --idle-seconds S --starts N --inserts N
//! --soak S --same-entry --baseline PATH --baseline-scripts DIR --ifd]`
//!
//! `--ifd` puts the four two-slot readers on sscard-ifd, the project's
//! event-driven reader driver, instead of vpcd, which pcscd polls.
//!
//! The cards are personalised gen2 cards (T=0), and a PSAM is in the bench
//! throughout, as at a counter: a gen2 ReadCard reads the PSAM's terminal
//! number once, after which it sends the PSAM nothing (the bench checks
//! the card and PSAM APDUs of each call in the simulators' logs).
//! sscardd logs at `warn` (SSCARDD_LOG) so that logging does not weigh on
//! the timings. Goals are reported as met or missed; only a failure (an
//! error, a hang) ends the run non-zero. `--soak S` keeps one client
//! calling ReadCard for S seconds after the comparison, for attaching perf
//! or strace to the printed PID. `--baseline PATH` runs another sscardd
//! (an older build) on a bus of its own against the same bench, and adds
//! its ReadCard to the interleaved comparisons, so that before and after
//! are measured in one run; `--baseline-scripts DIR` gives it the profiles
//! of its own tree (the default is this tree's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use pcsc::{Disposition, Protocols, ShareMode};
use sscard_client::{Manager1Proxy, Reader1Proxy};
use sscard_ops::{Engine, ReadOptions};
use sscard_script::Cards;
use sscard_transport::{CardConnection, Transport};
use support::bench::{Bench, IfdReader, IfdSlot, Slot, die_with_parent, terminate};
use support::client::{connect, no_opts, reader_at, text};
use support::daemon::{PrivateBus, Sscardd, daemon_binary, scripts_dir};
use support::measure::{PresenceWatcher, Stats, arg, arg_text, flag, mib, ms, rss_kib, stats};
use zbus::OwnedObjectPath;
// zbus's re-export of futures-core: the bench needs no dependency of its
// own to poll signal streams.
use futures_util::{Stream, StreamExt};

const BUS_NAME: &str = "org.sscard.Daemon";
const SSN: &str = "11010519491231002X";
/// The PSAM's reader, beside the cards' (`card_slots`).
const PSAM_SLOT: Slot = Slot::Reader(7);
/// A gen2 ReadCard's card APDUs, GET RESPONSE included.
const READ_CARD_APDUS: usize = 17;
/// The PSAM's on the first call: SELECT of its application, its terminal number.
const FIRST_CALL_PSAM_APDUS: usize = 2;
const SLOW_LATENCY_US: &str = "20000";

/// The card readers: one per reader.conf entry (vpcd instance), or with
/// `--same-entry` both slots of entries 0 and 1. Both scale alike (tried:
/// 4.00 × at 20 ms either way); one per entry is the default so that no
/// two measured readers share a driver instance.
fn card_slots() -> [Slot; 4] {
    if flag("--same-entry") {
        [Slot::Reader(0), Slot::Reader(1), Slot::Reader(2), Slot::Reader(3)]
    } else {
        [Slot::Reader(0), Slot::Reader(2), Slot::Reader(4), Slot::Reader(6)]
    }
}

struct Options {
    runs: usize,
    slow_runs: usize,
    seconds: u64,
    slow_seconds: u64,
    rss_calls: usize,
    idle_seconds: u64,
    starts: usize,
    inserts: usize,
    /// Seconds of ReadCard calls by one client after the comparison, for
    /// attaching perf or strace to the daemon (0: none).
    soak: u64,
    /// Another sscardd to compare with, in the same run.
    baseline: Option<PathBuf>,
    /// The baseline's profiles.
    baseline_scripts: Option<PathBuf>,
    /// The readers on sscard-ifd, the project's event-driven driver, instead
    /// of vpcd, which pcscd polls every 400 ms.
    ifd: bool,
}

struct Goal {
    what: &'static str,
    goal: &'static str,
    measured: String,
    met: bool,
}

/// The next item of a signal stream.
async fn next<S: Stream + ?Sized>(stream: &mut Pin<Box<S>>) -> Option<S::Item> {
    stream.next().await
}

async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future).await.unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
}

// ---------------------------------------------------------------- /proc

/// utime + stime in clock ticks, all threads.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime 14 and stime 15.
    let rest = &stat[stat.rfind(')').expect("stat") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// utime + stime of this process and each of its children, by command
/// name (the simulators summed): pcscd, dbus-daemon, sscardd, sscard-sim.
fn process_ticks() -> std::collections::BTreeMap<String, u64> {
    let me = std::process::id();
    let mut out = std::collections::BTreeMap::new();
    out.insert("this bench (the D-Bus clients)".to_owned(), cpu_ticks(me));
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) != Some(me) {
            continue;
        }
        let ticks = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        *out.entry(stat[open + 1..close].to_owned()).or_insert(0) += ticks;
    }
    out
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn threads(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}

// ---------------------------------------------------------------- D-Bus helpers

async fn reader_path(conn: &zbus::Connection, name: &str) -> OwnedObjectPath {
    let manager = Manager1Proxy::new(conn).await.expect("manager proxy");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let readers = manager.list_readers().await.expect("ListReaders");
        if let Some((path, _)) = readers.into_iter().find(|(_, n)| n == name) {
            return path;
        }
        assert!(Instant::now() < deadline, "reader {name} never appeared");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_kind(reader: &Reader1Proxy<'_>, kind: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let now = reader.card_kind().await.expect("CardKind");
        if now == kind {
            return;
        }
        assert!(Instant::now() < deadline, "CardKind of {} stayed {now:?}, never {kind:?}", reader.inner().path());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `per_reader` ReadCard calls on each reader, one client connection per
/// reader, all at once.
async fn calls_on_each(bus: &PrivateBus, paths: &[OwnedObjectPath], per_reader: usize) {
    let mut tasks = Vec::new();
    for path in paths {
        let conn = connect(bus).await;
        let reader = reader_at(&conn, path.clone()).await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_reader {
                reader.read_card(no_opts()).await.expect("ReadCard");
            }
            drop(conn);
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
}

struct Throughput {
    readers: usize,
    calls: usize,
    per_second: f64,
    latency: Stats,
}

/// N clients, each on its own connection and reader, calling ReadCard in
/// a loop for `seconds`; the rate is all calls over the time from the
/// common start to the last call's end.
async fn throughput(bus: &PrivateBus, paths: &[OwnedObjectPath], seconds: u64) -> Throughput {
    let n = paths.len();
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut tasks = Vec::new();
    for path in paths {
        let conn = connect(bus).await;
        let reader = reader_at(&conn, path.clone()).await;
        // One call first, so every client starts warm.
        reader.read_card(no_opts()).await.expect("ReadCard");
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let mut times = Vec::new();
            let mut end = Instant::now();
            while Instant::now() < deadline {
                let start = Instant::now();
                reader.read_card(no_opts()).await.expect("ReadCard");
                end = Instant::now();
                times.push(end - start);
            }
            drop(conn);
            (times, end)
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    let mut last = start;
    for t in tasks {
        let (times, end) = t.await.expect("client task");
        all.extend(times);
        last = last.max(end);
    }
    let calls = all.len();
    Throughput { readers: n, calls, per_second: calls as f64 / (last - start).as_secs_f64(), latency: stats(all) }
}

// ---------------------------------------------------------------- direct client

/// The command APDUs and answers' status words the card logged after line
/// `skip` (`N > HEX` and `N < HEX`, see `sim::vpcd::serve`).
fn logged_exchange(log: &Path, skip: usize) -> (Vec<Vec<u8>>, Vec<[u8; 2]>) {
    let text = fs::read_to_string(log).expect("card log");
    let mut commands = Vec::new();
    let mut sws = Vec::new();
    for line in text.lines().skip(skip) {
        if let Some((_, apdu)) = line.split_once(" > ") {
            commands
                .push(hex::decode(apdu).unwrap_or_else(|_| panic!("a command the log does not show whole: {line}")));
        } else if let Some((_, answer)) = line.split_once(" < ") {
            let answer = hex::decode(answer).expect("answer hex");
            sws.push([answer[answer.len() - 2], answer[answer.len() - 1]]);
        }
    }
    (commands, sws)
}

/// The APDU list in one transaction, straight through libpcsclite; a
/// `61xx` not followed in the list by its GET RESPONSE gets one. Answers
/// the status words.
fn direct_read(card: &mut pcsc::Card, apdus: &[Vec<u8>]) -> Result<Vec<[u8; 2]>, pcsc::Error> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    let tx = card.transaction()?;
    let mut sws = Vec::with_capacity(apdus.len());
    for (i, apdu) in apdus.iter().enumerate() {
        let answer = tx.transmit(apdu, &mut buf)?;
        let sw = [answer[answer.len() - 2], answer[answer.len() - 1]];
        sws.push(sw);
        let listed_get_response = apdus.get(i + 1).is_some_and(|next| next.get(1) == Some(&0xC0));
        if sw[0] == 0x61 && !listed_get_response {
            let answer = tx.transmit(&[0x00, 0xC0, 0x00, 0x00, sw[1]], &mut buf)?;
            sws.push([answer[answer.len() - 2], answer[answer.len() - 1]]);
        }
    }
    tx.end(Disposition::LeaveCard).map_err(|(_, e)| e)?;
    Ok(sws)
}

struct Comparison {
    apdus: usize,
    /// D-Bus ReadCard, the raw APDU replay, the in-process operations
    /// layer, a D-Bus property Get (the bus round trip alone), and the
    /// baseline daemon's ReadCard when there is one.
    dbus: Stats,
    direct: Stats,
    engine: Stats,
    get: Stats,
    baseline: Option<Stats>,
    /// Median CPU time of the calling thread: direct, in-process.
    direct_cpu: Duration,
    engine_cpu: Duration,
    /// Command APDUs the card and the PSAM logged during each client's
    /// timed runs (by client, as `times`), and the runs.
    apdus_by_client: [(usize, usize); 5],
    runs: usize,
}

impl Comparison {
    /// The card's and the PSAM's APDUs per timed call of client `which`.
    fn per_call(&self, which: usize) -> (f64, f64) {
        let (card, psam) = self.apdus_by_client[which];
        (card as f64 / self.runs as f64, psam as f64 / self.runs as f64)
    }
}

/// The command APDUs a simulator has logged so far, read on from where
/// the last look ended.
struct LogTail {
    path: PathBuf,
    offset: u64,
    commands: usize,
}

impl LogTail {
    fn new(path: &Path) -> LogTail {
        let mut tail = LogTail { path: path.to_owned(), offset: 0, commands: 0 };
        tail.commands();
        tail
    }

    fn commands(&mut self) -> usize {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = fs::File::open(&self.path).expect("simulator log");
        file.seek(SeekFrom::Start(self.offset)).expect("seek");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("log text");
        // Whole lines only; a line being written is counted next time.
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        self.commands += text[..whole].lines().filter(|l| l.contains(" > ")).count();
        self.offset += whole as u64;
        self.commands
    }
}

/// Command APDUs a simulator has logged (`N > HEX`; the answer's line
/// comes before the answer, so a finished call's are all there).
fn logged_commands(log: &Path) -> usize {
    fs::read_to_string(log).map(|t| t.lines().filter(|l| l.contains(" > ")).count()).unwrap_or(0)
}

/// The card's and the PSAM's command APDUs of each of `calls` ReadCard
/// calls, one after the other.
async fn apdus_per_call(reader: &Reader1Proxy<'_>, logs: &Logs, calls: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for _ in 0..calls {
        let (card, psam) = (logged_commands(&logs.card), logged_commands(&logs.psam));
        reader.read_card(no_opts()).await.expect("ReadCard");
        out.push((logged_commands(&logs.card) - card, logged_commands(&logs.psam) - psam));
    }
    out
}

/// The simulators' logs: the first card's and the PSAM's.
struct Logs {
    card: PathBuf,
    psam: PathBuf,
}

/// A small deterministic generator, for the clients' order.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher-Yates.
    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[allow(clippy::too_many_arguments)]
async fn dbus_vs_direct(
    bench: &Bench,
    engine: &Engine,
    reader: &Reader1Proxy<'_>,
    baseline: Option<&Reader1Proxy<'_>>,
    slot: Slot,
    logs: &Logs,
    runs: usize,
    warmup: usize,
) -> Comparison {
    // Capture what the daemon sends for one ReadCard.
    let skip = fs::read_to_string(&logs.card).expect("card log").lines().count();
    let psam_before = logged_commands(&logs.psam);
    let info = reader.read_card(no_opts()).await.expect("ReadCard");
    assert_eq!(text(&info, "ssn").as_deref(), Some(SSN), "the card reads as personalised");
    assert_eq!(logged_commands(&logs.psam), psam_before, "a ReadCard after the first sends the PSAM nothing");
    let (apdus, logged_sws) = logged_exchange(&logs.card, skip);
    assert_eq!(apdus.len(), READ_CARD_APDUS, "the card logged the daemon's ReadCard");

    let ctx = bench.context();
    let name = CString::new(bench.reader_name(slot)).expect("reader name");
    let card = ctx.connect(&name, ShareMode::Shared, Protocols::ANY).expect("direct connect");
    // The first direct run on a thread of its own: if the idle daemon held
    // a transaction, SCardBeginTransaction would block here.
    let (done, answer) = std_mpsc::channel();
    let list = apdus.clone();
    std::thread::spawn(move || {
        let mut card = card;
        let sws = direct_read(&mut card, &list);
        let _ = done.send((card, sws));
    });
    let (mut card, sws) = answer
        .recv_timeout(Duration::from_secs(5))
        .expect("the direct client could not begin a transaction: does the idle daemon hold one?");
    assert_eq!(sws.expect("direct ReadCard"), logged_sws, "the direct client gets the daemon's answers");
    let mut transport = bench.connect(slot);

    // The clients, in a fresh random order each iteration, so that none
    // always follows the same one (a D-Bus call's tail, its signal and
    // dbus-daemon's routing of it, falls on whichever call comes next).
    let clients = if baseline.is_some() { 5 } else { 4 };
    let mut order: Vec<usize> = (0..clients).collect();
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut times: [Vec<Duration>; 5] = Default::default();
    let mut cpu: [Vec<Duration>; 5] = Default::default();
    let mut apdus_by_client = [(0, 0); 5];
    let (mut card_log, mut psam_log) = (LogTail::new(&logs.card), LogTail::new(&logs.psam));
    for i in 0..warmup + runs {
        random.shuffle(&mut order);
        for &which in &order {
            let (card_before, psam_before) = (card_log.commands(), psam_log.commands());
            let cpu_start = thread_cpu();
            let start = Instant::now();
            match (which, baseline) {
                (0, _) => {
                    reader.read_card(no_opts()).await.expect("ReadCard");
                }
                (1, _) => {
                    direct_read(&mut card, &apdus).expect("direct ReadCard");
                }
                (2, _) => {
                    let mut tx = transport.begin().expect("transaction");
                    let done = engine.read_card(&mut Cards::new(&mut tx, None), ReadOptions::default());
                    assert_eq!(done.expect("in-process ReadCard").apdus as usize, apdus.len());
                }
                (3, _) => {
                    reader.busy().await.expect("Busy");
                }
                (_, Some(old)) => {
                    old.read_card(no_opts()).await.expect("baseline ReadCard");
                }
                (_, None) => unreachable!("four clients without a baseline"),
            }
            let took = start.elapsed();
            if i >= warmup {
                times[which].push(took);
                cpu[which].push(thread_cpu().saturating_sub(cpu_start));
                let (card, psam) = &mut apdus_by_client[which];
                *card += card_log.commands() - card_before;
                *psam += psam_log.commands() - psam_before;
            }
        }
    }
    let _ = card.disconnect(Disposition::LeaveCard);
    let [dbus, direct, engine, get, old] = times.map(|v| (!v.is_empty()).then(|| stats(v)));
    let [_, direct_cpu, engine_cpu, ..] = cpu.map(|v| if v.is_empty() { Duration::ZERO } else { stats(v).median });
    let stats_of = |s: Option<Stats>| s.expect("every client ran");
    Comparison {
        apdus: apdus.len(),
        dbus: stats_of(dbus),
        direct: stats_of(direct),
        engine: stats_of(engine),
        get: stats_of(get),
        baseline: old,
        direct_cpu,
        engine_cpu,
        apdus_by_client,
        runs,
    }
}

/// Prints the comparison's table; answers the median ratio D-Bus / direct.
fn print_comparison(latency: &str, cmp: &Comparison) -> f64 {
    let ratio = cmp.dbus.median.as_secs_f64() / cmp.direct.median.as_secs_f64();
    println!(
        "\n| gen2 ReadCard at {latency}, {} APDUs, {} runs each, interleaved | median | p90 | CPU of the calling thread |",
        cmp.apdus, cmp.dbus.n
    );
    println!("|---|---|---|---|");
    println!("| sscardd over D-Bus | {} | {} | |", ms(cmp.dbus.median), ms(cmp.dbus.p90));
    if let Some(old) = &cmp.baseline {
        println!("| baseline sscardd over D-Bus (`--baseline`) | {} | {} | |", ms(old.median), ms(old.p90));
    }
    println!(
        "| same APDUs through libpcsclite (direct) | {} | {} | {} |",
        ms(cmp.direct.median),
        ms(cmp.direct.p90),
        ms(cmp.direct_cpu)
    );
    println!(
        "| in-process `Engine::read_card` | {} | {} | {} |",
        ms(cmp.engine.median),
        ms(cmp.engine.p90),
        ms(cmp.engine_cpu)
    );
    println!("| D-Bus property Get (`Busy`), no card work | {} | {} | |", ms(cmp.get.median), ms(cmp.get.p90));
    println!(
        "ratio D-Bus / direct: median {ratio:.3}, p90 {:.3}; overhead {}",
        cmp.dbus.p90.as_secs_f64() / cmp.direct.p90.as_secs_f64(),
        ms(cmp.dbus.median.saturating_sub(cmp.direct.median))
    );
    if let Some(old) = &cmp.baseline {
        println!(
            "ratio baseline D-Bus / direct: median {:.3}, p90 {:.3}; overhead {}",
            old.median.as_secs_f64() / cmp.direct.median.as_secs_f64(),
            old.p90.as_secs_f64() / cmp.direct.p90.as_secs_f64(),
            ms(old.median.saturating_sub(cmp.direct.median))
        );
    }
    println!(
        "ratio in-process operations layer / direct: median {:.3}",
        cmp.engine.median.as_secs_f64() / cmp.direct.median.as_secs_f64()
    );
    let mut per_call = vec![("sscardd", cmp.per_call(0)), ("direct", cmp.per_call(1)), ("in-process", cmp.per_call(2))];
    if cmp.baseline.is_some() {
        per_call.push(("baseline", cmp.per_call(4)));
    }
    let per_call: Vec<String> =
        per_call.iter().map(|(who, (card, psam))| format!("{who} {card:.2} + {psam:.2}")).collect();
    println!("APDUs per timed call, card + PSAM: {}", per_call.join(", "));
    ratio
}

fn print_apdu_counts(daemon: &str, counts: &[(usize, usize)]) {
    println!("\n| {daemon}: ReadCard with the PSAM present | card APDUs | PSAM APDUs |");
    println!("|---|---|---|");
    for (i, (card, psam)) in counts.iter().enumerate() {
        println!("| call {} | {card} | {psam} |", i + 1);
    }
}

/// Waits until the daemon has found the PSAM.
async fn wait_sam(manager: &Manager1Proxy<'_>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while manager.sam_reader().await.expect("SamReader").as_str() == "/" {
        assert!(Instant::now() < deadline, "the daemon never found the PSAM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Another sscardd (`--baseline`), on a bus of its own, against the same
/// bench; stopped when dropped.
struct Baseline {
    reader: Reader1Proxy<'static>,
    _conn: zbus::Connection,
    _daemon: Sscardd,
    _bus: PrivateBus,
}

impl Baseline {
    async fn start(bench: &Bench, binary: &Path, scripts: &Path, logs: &Logs) -> Baseline {
        println!("baseline sscardd: {}", binary.display());
        let dir = bench.dir().join("baseline");
        fs::create_dir_all(&dir).expect("baseline dir");
        let bus = PrivateBus::start(&dir, None);
        let log_level = std::env::var("SSCARDD_LOG").unwrap_or_else(|_| "warn".into());
        let auth = ["--authorization", "none"];
        let daemon = Sscardd::start_full(binary, scripts, bench, &bus, &auth, &[], &log_level);
        let conn = connect(&bus).await;
        let path = reader_path(&conn, &bench.reader_name(card_slots()[0])).await;
        let reader = reader_at(&conn, path).await;
        wait_kind(&reader, "ssse", Duration::from_secs(10)).await;
        wait_sam(&Manager1Proxy::new(&conn).await.expect("manager")).await;
        print_apdu_counts("baseline sscardd", &apdus_per_call(&reader, logs, 3).await);
        Baseline { reader, _conn: conn, _daemon: daemon, _bus: bus }
    }
}

// ---------------------------------------------------------------- start-up

/// Spawns sscardd as `Sscardd::start` does and times it from just before
/// the spawn to the NameOwnerChanged that gives it the name, on a bus of
/// its own (subscribed before the spawn).
async fn startup_times(bench: &Bench, starts: usize) -> Vec<Duration> {
    let dir = bench.dir().join("startup");
    fs::create_dir_all(&dir).expect("startup dir");
    let bus = PrivateBus::start(&dir, None);
    let conn = connect(&bus).await;
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("DBus proxy");
    let mut changes =
        Box::pin(dbus.receive_name_owner_changed_with_args(&[(0, BUS_NAME)]).await.expect("NameOwnerChanged"));
    let log_level = std::env::var("SSCARDD_LOG").unwrap_or_else(|_| "warn".into());
    let mut times = Vec::new();
    for i in 0..starts {
        let log_path = dir.join(format!("sscardd-{i}.log"));
        let log = fs::File::create(&log_path).expect("daemon log");
        let start = Instant::now();
        let mut child = die_with_parent(&mut Command::new(daemon_binary()))
            .args(["--bus", &bus.address(), "--scripts"])
            .arg(scripts_dir())
            .args(["--authorization", "none"])
            .env("PCSCLITE_CSOCK_NAME", bench.socket())
            .env("RUST_LOG", &log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sscardd");
        let owned = async {
            loop {
                let signal = next(&mut changes).await.expect("NameOwnerChanged stream");
                if signal.args().expect("NameOwnerChanged args").new_owner().is_some() {
                    return Instant::now();
                }
            }
        };
        let owned = tokio::time::timeout(Duration::from_secs(10), owned).await.unwrap_or_else(|_| {
            panic!("sscardd did not own its name within 10 s: {}", fs::read_to_string(&log_path).unwrap_or_default())
        });
        times.push(owned - start);
        // sscardd installs its SIGTERM handler only after it owns the name
        // (src/bin/sscardd.rs, `run`); a SIGTERM at once can find the
        // default action. Let it settle (and list its readers) first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let code = terminate(&mut child);
        assert_eq!(
            code,
            Some(0),
            "sscardd exits 0 after SIGTERM: {}",
            fs::read_to_string(&log_path).unwrap_or_default()
        );
        within("the name's release", Duration::from_secs(10), async {
            loop {
                let signal = next(&mut changes).await.expect("NameOwnerChanged stream");
                if signal.args().expect("NameOwnerChanged args").new_owner().is_none() {
                    return;
                }
            }
        })
        .await;
    }
    times
}

// ---------------------------------------------------------------- insert latency

struct InsertTimes {
    pcscd: Vec<Duration>,
    signal: Vec<Duration>,
    share: Vec<Duration>,
}

/// Inserts a card `reps` times into `slot` (empty on entry). For each: the
/// time from right after spawning the simulator to pcscd reporting the card
/// (SCardGetStatusChange in a thread of this process) and to `CardInserted`
/// reaching a client; and the difference, the daemon's own share.
async fn insert_latency(
    bench: &mut Bench,
    conn: &zbus::Connection,
    reader: &Reader1Proxy<'_>,
    slot: Slot,
    card_args: &[&str],
    reps: usize,
) -> InsertTimes {
    let watcher = PresenceWatcher::start(bench.context(), &bench.reader_name(slot), Instant::now);
    let proxy = reader_at(conn, reader.inner().path().to_owned().into()).await;
    let mut inserted = Box::pin(proxy.receive_card_inserted().await.expect("CardInserted stream"));
    let mut removed = Box::pin(proxy.receive_card_removed().await.expect("CardRemoved stream"));
    let mut times = InsertTimes { pcscd: Vec::new(), signal: Vec::new(), share: Vec::new() };
    for i in 0..reps {
        // Out of step with pcscd's polling of the reader, rep by rep.
        tokio::time::sleep(Duration::from_millis(100 + (i as u64 * 137) % 400)).await;
        watcher.drain();
        let child = bench.spawn_sim(slot, "card", card_args);
        let spawned = Instant::now();
        bench.adopt(slot, child);
        within("CardInserted", Duration::from_secs(15), next(&mut inserted)).await.expect("CardInserted");
        let signalled = Instant::now();
        let present = watcher.next_present();
        times.pcscd.push(present.saturating_duration_since(spawned));
        times.signal.push(signalled - spawned);
        times.share.push(signalled.saturating_duration_since(present));
        bench.remove(slot);
        within("CardRemoved", Duration::from_secs(15), next(&mut removed)).await.expect("CardRemoved");
        wait_kind(reader, "none", Duration::from_secs(10)).await;
    }
    drop(watcher);
    times
}

// ---------------------------------------------------------------- main

/// Personalises the cards through the PSAM, which stays in the bench.
fn personalize(bench: &mut Bench, engine: &Engine) {
    let record = support::terminal::holder_record(2, 4096);
    let mut sam = bench.connect(PSAM_SLOT);
    for slot in card_slots() {
        let mut card = bench.connect(slot);
        let mut ctx = card.begin().expect("transaction");
        let mut stx = sam.begin().expect("PSAM transaction");
        let mut cards = Cards::new(&mut ctx, Some(&mut stx as &mut dyn Transport));
        engine.personalize(&mut cards, &record).unwrap_or_else(|e| panic!("personalise: {e}"));
    }
}

async fn run(o: &Options) -> Vec<Goal> {
    let binary = daemon_binary();
    println!("sscardd: {}", binary.display());
    let engine = Engine::load(&scripts_dir()).expect("profiles");
    // Four two-slot readers either way: slots named and numbered alike.
    let mut bench = if o.ifd {
        println!("readers: sscard-ifd ({})", support::bench::ifd_driver().display());
        Bench::start_ifd(&vec![IfdReader::new(&[IfdSlot::default(), IfdSlot::default()]); 4])
    } else {
        Bench::start_with_slots(8)
    };
    let images: Vec<PathBuf> = (0..card_slots().len()).map(|i| bench.dir().join(format!("card-{i}.json"))).collect();
    let logs = Logs { card: bench.dir().join("card-0.log"), psam: bench.dir().join("psam.log") };
    let log_arg = logs.card.to_string_lossy().into_owned();
    let card_args = |i: usize, latency: &'static str| -> Vec<String> {
        let mut a: Vec<String> = ["--gen", "2", "--latency-us", latency, "--image"].map(String::from).to_vec();
        a.push(images[i].to_string_lossy().into_owned());
        if i == 0 {
            a.extend(["--log".to_owned(), log_arg.clone()]);
        }
        a
    };
    for (i, slot) in card_slots().into_iter().enumerate() {
        let a = card_args(i, "0");
        bench.insert(slot, "card", &a.iter().map(String::as_str).collect::<Vec<_>>());
    }
    bench.insert(PSAM_SLOT, "psam", &["--log", &logs.psam.to_string_lossy()]);
    personalize(&mut bench, &engine);

    let mut goals = Vec::new();

    // 4. Start-up, with the four cards present, before the main daemon.
    let startup = stats(startup_times(&bench, o.starts).await);
    println!("\n| start-up until the name is owned | starts | median | p90 |");
    println!("|---|---|---|---|");
    println!("| sscardd, 8 readers, 4 cards | {} | {} | {} |", startup.n, ms(startup.median), ms(startup.p90));
    goals.push(Goal {
        what: "start-up until the bus name is owned (median)",
        goal: "≤ 100 ms",
        measured: ms(startup.median),
        met: startup.median <= Duration::from_millis(100),
    });

    // The daemon under test.
    let bus = PrivateBus::start(bench.dir(), None);
    let mut daemon = Sscardd::start(&bench, &bus, &[]);
    let pid = daemon.pid();
    let conn = connect(&bus).await;
    let mut paths = Vec::new();
    let mut readers = Vec::new();
    for slot in card_slots() {
        let path = reader_path(&conn, &bench.reader_name(slot)).await;
        let reader = reader_at(&conn, path.clone()).await;
        wait_kind(&reader, "ssse", Duration::from_secs(10)).await;
        paths.push(path);
        readers.push(reader);
    }
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    wait_sam(&manager).await;
    let reader_count = manager.list_readers().await.expect("readers").len();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The APDUs of the first calls with the PSAM present.
    let counts = apdus_per_call(&readers[0], &logs, 3).await;
    print_apdu_counts("sscardd", &counts);
    let expected = [(READ_CARD_APDUS, FIRST_CALL_PSAM_APDUS), (READ_CARD_APDUS, 0), (READ_CARD_APDUS, 0)];
    goals.push(Goal {
        what: "ReadCard's APDUs with the PSAM present, calls 1, 2, 3 (card + PSAM)",
        goal: "17 + 2, then 17 + 0",
        measured: counts.iter().map(|(c, p)| format!("{c} + {p}")).collect::<Vec<_>>().join(", "),
        met: counts == expected,
    });

    // 3. Memory and idle CPU.
    let idle_rss = rss_kib(pid);
    let idle_threads = threads(pid);
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(o.idle_seconds)).await;
    let idle_ticks = cpu_ticks(pid) - before;
    let batch = o.rss_calls / 10 / paths.len();
    let mut rss_after = Vec::new();
    let calls_start = Instant::now();
    for _ in 0..10 {
        calls_on_each(&bus, &paths, batch).await;
        rss_after.push(rss_kib(pid));
    }
    let calls_took = calls_start.elapsed();
    let calls = batch * 10 * paths.len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(o.idle_seconds)).await;
    let idle_ticks_after = cpu_ticks(pid) - before;
    let rss_first = rss_after[0];
    let rss_last = *rss_after.last().expect("batches");
    println!(
        "\n| daemon ({reader_count} readers, 4 cards, {idle_threads} threads) | VmRSS | CPU ticks in {} s idle |",
        o.idle_seconds
    );
    println!("|---|---|---|");
    println!("| idle after start | {} | {idle_ticks} |", mib(idle_rss));
    println!("| after {} ReadCard calls | {} | |", calls / 10, mib(rss_first));
    println!("| after {calls} ReadCard calls | {} | {idle_ticks_after} |", mib(rss_last));
    println!(
        "growth over {calls} calls: {} ({} KiB); over the last {}: {} KiB; the calls took {:.1} s, 4 readers at once",
        mib(rss_last.saturating_sub(idle_rss)),
        rss_last as i64 - idle_rss as i64,
        calls - calls / 10,
        rss_last as i64 - rss_first as i64,
        calls_took.as_secs_f64()
    );
    goals.push(Goal { what: "RSS idle", goal: "≤ 12 MiB", measured: mib(idle_rss), met: idle_rss <= 12 * 1024 });
    goals.push(Goal {
        what: "RSS growth over the ReadCard calls",
        goal: "< 1 MiB",
        measured: format!("{} KiB over {calls}", rss_last as i64 - idle_rss as i64),
        met: rss_last.saturating_sub(idle_rss) < 1024,
    });
    goals.push(Goal {
        what: "CPU while idle, cards present",
        goal: "0 ticks",
        measured: format!("{idle_ticks} + {idle_ticks_after} ticks in 2 × {} s", o.idle_seconds),
        met: idle_ticks == 0 && idle_ticks_after == 0,
    });

    // The baseline daemon, on a bus of its own, for the comparisons.
    let baseline = match &o.baseline {
        Some(binary) => {
            let scripts = o.baseline_scripts.clone().unwrap_or_else(scripts_dir);
            Some(Baseline::start(&bench, binary, &scripts, &logs).await)
        }
        None => None,
    };
    let old_reader = baseline.as_ref().map(|b| &b.reader);

    // 1. D-Bus against the same APDUs straight through libpcsclite.
    let cmp = dbus_vs_direct(&bench, &engine, &readers[0], old_reader, card_slots()[0], &logs, o.runs, 20).await;
    let ratio = print_comparison("0 µs", &cmp);
    goals.push(Goal {
        what: "ReadCard D-Bus / direct (median), card at 0 µs, PSAM present",
        goal: "≤ 1.15",
        measured: format!("{ratio:.3}"),
        met: ratio <= 1.15,
    });
    goals.push(Goal {
        what: "sscardd's ReadCard APDUs over the timed runs (card + PSAM)",
        goal: "17 + 0 per call",
        measured: format!("{} + {} in {} calls", cmp.apdus_by_client[0].0, cmp.apdus_by_client[0].1, cmp.runs),
        met: cmp.apdus_by_client[0] == (READ_CARD_APDUS * cmp.runs, 0),
    });

    if o.soak > 0 {
        // For attaching perf or strace to the daemon from outside.
        println!("soak: sscardd pid {pid}, pcscd pid {:?}; one client for {} s", bench.pcscd_pid(), o.soak);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let t = throughput(&bus, &paths[..1], o.soak).await;
        println!("soak: {} calls, {:.1}/s, median {}", t.calls, t.per_second, ms(t.latency.median));
    }

    // 2. Throughput, the card answering at once.
    let mut fast = Vec::new();
    let mut cpu = Vec::new();
    for n in [1, 2, 4] {
        let before = process_ticks();
        let t = throughput(&bus, &paths[..n], o.seconds).await;
        let after = process_ticks();
        cpu.push((n, t.calls, before, after));
        fast.push(t);
    }

    // 2. Throughput at a real card's pace.
    for (i, slot) in card_slots().into_iter().enumerate() {
        bench.remove(slot);
        wait_kind(&readers[i], "none", Duration::from_secs(10)).await;
        let a = card_args(i, SLOW_LATENCY_US);
        bench.insert(slot, "card", &a.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for reader in &readers {
        wait_kind(reader, "ssse", Duration::from_secs(20)).await;
    }
    if let Some(b) = &baseline {
        wait_kind(&b.reader, "ssse", Duration::from_secs(20)).await;
    }
    let mut slow = Vec::new();
    for n in [1, 2, 4] {
        slow.push(throughput(&bus, &paths[..n], o.slow_seconds).await);
    }
    let slow_cmp =
        dbus_vs_direct(&bench, &engine, &readers[0], old_reader, card_slots()[0], &logs, o.slow_runs, 1).await;
    let slow_ratio = print_comparison("20 ms", &slow_cmp);
    // The baseline would classify the inserted cards too.
    drop(baseline);
    goals.push(Goal {
        what: "ReadCard D-Bus / direct (median), card at 20 ms",
        goal: "≤ 1.25",
        measured: format!("{slow_ratio:.3}"),
        met: slow_ratio <= 1.25,
    });
    println!("\n| card latency | readers | calls | calls/s | median call | p90 call |");
    println!("|---|---|---|---|---|---|");
    for (latency, rows) in [("0 µs", &fast), ("20 ms", &slow)] {
        for t in rows.iter() {
            println!(
                "| {latency} | {} | {} | {:.1} | {} | {} |",
                t.readers,
                t.calls,
                t.per_second,
                ms(t.latency.median),
                ms(t.latency.p90)
            );
        }
    }
    // Where the CPU goes, per call, with the card answering at once.
    let tick_ms = 1000.0 / clock_ticks_per_second();
    let names: Vec<String> = cpu.last().map(|(_, _, _, after)| after.keys().cloned().collect()).unwrap_or_default();
    println!(
        "\n| CPU per ReadCard at 0 µs | {} |",
        cpu.iter().map(|(n, ..)| format!("{n} readers")).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}", "---|".repeat(cpu.len()));
    let mut totals = vec![0.0; cpu.len()];
    for name in &names {
        if cpu.iter().all(|(_, _, before, after)| after.get(name) == before.get(name)) {
            continue;
        }
        let cells: Vec<String> = cpu
            .iter()
            .enumerate()
            .map(|(i, (_, calls, before, after))| {
                let ticks =
                    after.get(name).copied().unwrap_or(0).saturating_sub(before.get(name).copied().unwrap_or(0));
                let per_call = ticks as f64 * tick_ms / *calls as f64;
                totals[i] += per_call;
                format!("{per_call:.3} ms")
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!("| all | {} |", totals.iter().map(|t| format!("{t:.3} ms")).collect::<Vec<_>>().join(" | "));
    let busy: Vec<String> = cpu
        .iter()
        .zip(&totals)
        .zip(&fast)
        .map(|((_, total), t)| format!("{:.2}", total * t.per_second / 1000.0))
        .collect();
    println!("CPUs kept busy (CPU per call × calls/s): {}", busy.join(", "));

    for (latency, rows, what) in [
        ("0 µs", &fast, "throughput 4 readers / 1, card at 0 µs"),
        ("20 ms", &slow, "throughput 4 readers / 1, card at 20 ms"),
    ] {
        let scale = rows[2].per_second / rows[0].per_second;
        println!("ratio 4 readers / 1 at {latency}: {scale:.2}");
        goals.push(Goal { what, goal: "≥ 3", measured: format!("{scale:.2}"), met: scale >= 3.0 });
    }

    // 5. Insert latency, on the first reader with a card answering at once.
    let slot = card_slots()[0];
    bench.remove(slot);
    wait_kind(&readers[0], "none", Duration::from_secs(10)).await;
    let a = card_args(0, "0");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let ins = insert_latency(&mut bench, &conn, &readers[0], slot, &a, o.inserts).await;
    let (pcscd, signal, share) = (stats(ins.pcscd), stats(ins.signal), stats(ins.share));
    println!("\n| insert, from right after the simulator's spawn, {} times | median | p90 |", pcscd.n);
    println!("|---|---|---|");
    println!("| pcscd reports the card (SCardGetStatusChange) | {} | {} |", ms(pcscd.median), ms(pcscd.p90));
    println!("| CardInserted reaches a client | {} | {} |", ms(signal.median), ms(signal.p90));
    println!("| the daemon's share (per insert, signal − pcscd) | {} | {} |", ms(share.median), ms(share.p90));
    if o.ifd {
        goals.push(Goal {
            what: "insertion → CardInserted (median), readers on sscard-ifd",
            goal: "≤ 20 ms",
            measured: ms(signal.median),
            met: signal.median <= Duration::from_millis(20),
        });
    }

    assert!(daemon.running(), "sscardd still runs after the benchmark:\n{}", daemon.log_text());
    drop(daemon);
    goals
}

fn main() -> std::process::ExitCode {
    if std::env::var_os("SSCARDD_LOG").is_none() {
        // SAFETY: before any thread of this process exists.
        unsafe { std::env::set_var("SSCARDD_LOG", "warn") };
    }
    let o = Options {
        runs: arg("--runs", 300),
        slow_runs: arg("--slow-runs", 10),
        seconds: arg("--seconds", 5) as u64,
        slow_seconds: arg("--slow-seconds", 8) as u64,
        rss_calls: arg("--rss-calls", 10_000),
        idle_seconds: arg("--idle-seconds", 5) as u64,
        starts: arg("--starts", 10),
        inserts: arg("--inserts", 10),
        soak: arg("--soak", 0) as u64,
        baseline: arg_text("--baseline").map(PathBuf::from),
        baseline_scripts: arg_text("--baseline-scripts").map(PathBuf::from),
        ifd: flag("--ifd"),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let goals = runtime.block_on(run(&o));
    println!("\n| goal | target | measured | |");
    println!("|---|---|---|---|");
    for g in &goals {
        println!("| {} | {} | {} | {} |", g.what, g.goal, g.measured, if g.met { "met" } else { "missed" });
    }
    std::process::ExitCode::SUCCESS
}
