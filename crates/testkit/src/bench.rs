//! The test bench: a private pcscd with the vpcd reader driver, and
//! simulated cards inserted into its slots. Every process it starts is
//! stopped, by PID, when the bench is dropped.
//!
//! Isolation: pcscd runs in its own mount namespace (its socket directory
//! is bind-mounted over /run/pcscd) and its own network namespace, where
//! only loopback exists. vpcd listens on the wildcard address, but inside
//! that namespace nothing but loopback can reach it, and its ports are free
//! by construction, so any number of benches run side by side.
//!
//! libpcsclite reads `PCSCLITE_CSOCK_NAME` once per process and keeps it,
//! so one process can talk PC/SC to one bench ([`Bench::connect`] claims
//! it). The test suite runs under cargo-nextest, which gives every test its
//! own process; a second claim in one process is refused loudly rather
//! than silently sharing pcscd. The bench's own checks (readers, card
//! presence) run `opensc-tool` in a child process, so they work for any
//! number of benches.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// vpcd's first port in every bench; entry `n` uses `BASE + 2n` and
/// `BASE + 2n + 1` for its two slots.
const VPCD_BASE_PORT: u16 = 0x9000;
const FRIENDLY_NAME: &str = "SSCard Bench";
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// Where a simulated card goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The user card's reader, "SSCard Bench 00 00".
    Card,
    /// The terminal's SAM slot, "SSCard Bench 00 01".
    Sam,
    /// Any slot by number, on a bench started with more readers: slots 0
    /// and 1 are `Card` and `Sam`, then two per reader.conf entry.
    Reader(u16),
}

impl Slot {
    fn index(self) -> u16 {
        match self {
            Slot::Card => 0,
            Slot::Sam => 1,
            Slot::Reader(n) => n,
        }
    }
}

/// The FRIENDLYNAME of reader.conf entry `entry`; each must differ, or
/// pcscd names two readers alike (test-bench.md).
fn friendly_name(entry: u16) -> String {
    if entry == 0 { FRIENDLY_NAME.to_owned() } else { format!("{FRIENDLY_NAME} {}", (b'A' + entry as u8) as char) }
}

pub struct Bench {
    dir: tempfile::TempDir,
    /// Holds the bench's mount and network namespaces, so that pcscd can
    /// be killed and started again inside them.
    holder: Child,
    pcscd: Option<Child>,
    /// How many readers (slots) pcscd shows once it is up.
    slots: u16,
    cards: Vec<(Slot, Child)>,
}

/// One slot of a reader on sscard-ifd, the project's own reader driver
/// (docs/interfaces.md, "The virtual reader driver (sscard-ifd)").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfdSlot {
    /// Short APDUs only: extended ones are refused, dwMaxAPDUDataSize = 0.
    pub short: bool,
    /// A PIN pad, typed on with [`Bench::press`].
    pub pinpad: bool,
    /// The pad answers `6B 80` to a PIN of the wrong length, not `64 03`.
    pub length_error_6b80: bool,
}

/// A reader.conf entry for sscard-ifd: one slot, or two (the second is
/// the SAM slot, "… 00 01"). Entry `n`'s slots are `Slot::Reader(2n)` and
/// `Slot::Reader(2n + 1)`, named and numbered as on the vpcd bench.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfdReader {
    pub slots: Vec<IfdSlot>,
    /// wIdVendor and wIdProduct in GET_TLV_PROPERTIES.
    pub usb_id: (u16, u16),
}

impl IfdReader {
    pub fn new(slots: &[IfdSlot]) -> IfdReader {
        IfdReader { slots: slots.to_vec(), usb_id: (0, 0) }
    }
}

/// The sscard-ifd driver as the build made it: `SSCARD_IFD` if set, else
/// `libsscard_ifd.so` in the running executable's target directory. The
/// test kit depends on sscard-ifd, so cargo builds the cdylib (into
/// `deps/`, and at the top when it is built by name) before any test that
/// can use the kit; the newer of the two is taken.
pub fn ifd_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("SSCARD_IFD") {
        return PathBuf::from(path);
    }
    let dir = crate::program("sscard-ifd").parent().expect("the target directory").to_owned();
    let candidates = [dir.join("deps/libsscard_ifd.so"), dir.join("libsscard_ifd.so")];
    candidates
        .iter()
        .filter_map(|p| Some((fs::metadata(p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("bench: no libsscard_ifd.so in {} (cargo build -p sscard-ifd)", dir.display()))
}

/// The simulator binary: `SSCARD_SIM` if set, else the build's
/// ([`crate::program`]).
fn sim_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SSCARD_SIM") {
        return PathBuf::from(path);
    }
    crate::program("sscard-sim")
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "bench: timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

impl Bench {
    /// Starts a private pcscd with two vpcd slots and no cards.
    pub fn start() -> Bench {
        Bench::start_with_slots(2)
    }

    /// Starts a private pcscd with `slots` vpcd slots (rounded up to even:
    /// each reader.conf entry gives two) and no cards.
    pub fn start_with_slots(slots: u16) -> Bench {
        let slots = slots.max(2).div_ceil(2) * 2;
        let (dir, conf) = Bench::new_dir();
        for entry in 0..slots / 2 {
            let port = VPCD_BASE_PORT + 2 * entry;
            // vpcd keeps its port in a global, so two entries loading the
            // same library share the last port: each entry gets its own copy.
            let driver = if entry == 0 {
                PathBuf::from(VPCD_DRIVER)
            } else {
                // Not in `conf`: pcscd reads every file there as reader.conf.
                let drivers = dir.path().join("drivers");
                fs::create_dir_all(&drivers).expect("bench: drivers dir");
                let copy = drivers.join(format!("libifdvpcd-{entry}.so"));
                fs::copy(VPCD_DRIVER, &copy).expect("bench: copy of the vpcd driver");
                copy
            };
            fs::write(
                conf.join(format!("vpcd{entry}")),
                format!(
                    "FRIENDLYNAME \"{}\"\nDEVICENAME   /dev/null:0x{port:04X}\n\
                     LIBPATH      {}\nCHANNELID    0x{port:04X}\n",
                    friendly_name(entry),
                    driver.display()
                ),
            )
            .expect("bench: reader.conf");
        }
        Bench::launch(dir, slots)
    }

    /// Starts a private pcscd whose readers are on sscard-ifd instead of
    /// vpcd, one reader.conf entry per `readers` item, and no cards.
    pub fn start_ifd(readers: &[IfdReader]) -> Bench {
        let (dir, conf) = Bench::new_dir();
        let ifd = dir.path().join("ifd");
        fs::create_dir_all(&ifd).expect("bench: ifd dir");
        let driver = ifd_driver();
        let mut slots = 0;
        for (entry, reader) in readers.iter().enumerate() {
            let entry = entry as u16;
            assert!((1..=2).contains(&reader.slots.len()), "bench: an sscard-ifd reader has one or two slots");
            let mut config = format!(
                "# sscard-ifd, reader.conf entry {entry}\ncontrol = {}\nvendor = {:#06x}\nproduct = {:#06x}\n",
                ifd.join(format!("control{entry}.sock")).display(),
                reader.usb_id.0,
                reader.usb_id.1
            );
            for (n, slot) in reader.slots.iter().enumerate() {
                config.push_str(&format!(
                    "[slot {n}]\nport = {}\nshort = {}\npinpad = {}\nlength_error = {}\n",
                    VPCD_BASE_PORT + 2 * entry + n as u16,
                    slot.short,
                    slot.pinpad,
                    if slot.length_error_6b80 { "6B80" } else { "6403" }
                ));
            }
            let config_path = ifd.join(format!("ifd{entry}.conf"));
            fs::write(&config_path, config).expect("bench: sscard-ifd configuration");
            // A copy per entry, as for vpcd: pcscd names the readers of one
            // library "… 01 00", "… 02 00", and the bench's names end "00 0n".
            let library = ifd.join(format!("libsscard_ifd-{entry}.so"));
            fs::copy(&driver, &library).expect("bench: copy of the sscard-ifd driver");
            fs::write(
                conf.join(format!("ifd{entry}")),
                format!(
                    "FRIENDLYNAME \"{}\"\nDEVICENAME   {}\nLIBPATH      {}\n",
                    friendly_name(entry),
                    config_path.display(),
                    library.display()
                ),
            )
            .expect("bench: reader.conf");
            slots += reader.slots.len() as u16;
        }
        Bench::launch(dir, slots)
    }

    /// The bench's directory with its `run` and `conf` folders.
    fn new_dir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new().prefix("sscard-bench-").tempdir().expect("bench: temp dir");
        let conf = dir.path().join("conf");
        fs::create_dir_all(dir.path().join("run")).expect("bench: run dir");
        fs::create_dir_all(&conf).expect("bench: conf dir");
        (dir, conf)
    }

    /// Starts the namespace holder and pcscd, which shows `slots` readers.
    fn launch(dir: tempfile::TempDir, slots: u16) -> Bench {
        let run = dir.path().join("run");
        let script = format!(
            "ip link set lo up && mkdir -p /run/pcscd && mount --bind '{}' /run/pcscd && exec sleep infinity",
            run.display()
        );
        let holder = die_with_parent(&mut Command::new("unshare"))
            .args(["--mount", "--net", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect(
                "bench: cannot start the namespace holder (are util-linux and iproute2 installed, and are we root?)",
            );
        let mut bench = Bench { dir, holder, pcscd: None, slots, cards: Vec::new() };
        // The holder is ready once its mount is in place.
        let holder_pid = bench.holder.id();
        wait_until("the bench's namespaces", Duration::from_secs(10), || {
            fs::read_to_string(format!("/proc/{holder_pid}/mountinfo")).is_ok_and(|m| m.contains("/run/pcscd"))
                && fs::read_link(format!("/proc/{holder_pid}/exe")).is_ok_and(|e| e.ends_with("sleep"))
        });
        bench.start_pcscd();
        bench
    }

    /// Starts pcscd inside the bench's namespaces and waits for its readers.
    pub fn start_pcscd(&mut self) {
        assert!(self.pcscd.is_none(), "bench: pcscd is already running");
        // A killed pcscd leaves its socket behind, and a new one refuses to
        // start while it exists.
        let _ = fs::remove_file(self.socket());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("pcscd.log"))
            .expect("bench: pcscd log");
        let pcscd = die_with_parent(&mut Command::new("nsenter"))
            .arg(format!("--target={}", self.holder.id()))
            .args(["--mount", "--net", "--", "pcscd", "-f", "-c"])
            .arg(self.dir.path().join("conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("bench: log fd"))
            .stderr(log)
            .spawn()
            .expect("bench: cannot start pcscd (are pcscd and vsmartcard-vpcd installed, and are we root?)");
        let pcscd_pid = pcscd.id();
        self.pcscd = Some(pcscd);
        let socket = self.socket();
        wait_until("pcscd's socket", Duration::from_secs(10), || {
            if let Some(Ok(Some(status))) = self.pcscd.as_mut().map(Child::try_wait) {
                let log = fs::read_to_string(self.dir.path().join("pcscd.log")).unwrap_or_default();
                panic!("bench: pcscd (pid {pcscd_pid}) exited with {status}: {log}");
            }
            socket.exists()
        });
        let slots = usize::from(self.slots);
        wait_until("pcscd's readers", Duration::from_secs(10), || self.readers().len() >= slots);
    }

    /// Kills pcscd with SIGKILL, as a crash would; the cards' simulators
    /// lose their reader and end.
    pub fn kill_pcscd(&mut self) {
        if let Some(mut pcscd) = self.pcscd.take() {
            let _ = pcscd.kill();
            let _ = pcscd.wait();
        }
    }

    /// pcscd's process id.
    pub fn pcscd_pid(&self) -> Option<u32> {
        self.pcscd.as_ref().map(Child::id)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// pcscd's client socket: the value of `PCSCLITE_CSOCK_NAME`.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run").join("pcscd.comm")
    }

    /// Points this process's PC/SC clients at the bench, before any PC/SC
    /// context exists; refuses a second bench in the same process.
    fn claim_pcsc(&self) {
        static CLAIMED: Mutex<Option<PathBuf>> = Mutex::new(None);
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        match claimed.as_ref() {
            Some(socket) => assert_eq!(
                socket,
                &self.socket(),
                "bench: one PC/SC bench per process (libpcsclite caches its socket); run the tests with cargo nextest"
            ),
            None => {
                // SAFETY: set once per process, before any PC/SC context reads it.
                unsafe { std::env::set_var("PCSCLITE_CSOCK_NAME", self.socket()) };
                *claimed = Some(self.socket());
            }
        }
    }

    /// A PC/SC context on this bench's pcscd.
    pub fn context(&self) -> pcsc::Context {
        self.claim_pcsc();
        pcsc::Context::establish(pcsc::Scope::User).expect("bench: PC/SC context")
    }

    /// Connects to the card in `slot` through pcscd.
    pub fn connect(&self, slot: Slot) -> sscard_transport::PcscConnection {
        let ctx = self.context();
        sscard_transport::PcscConnection::connect(&ctx, &self.reader_name(slot))
            .unwrap_or_else(|e| panic!("bench: connect to {}: {e}", self.reader_name(slot)))
    }

    /// Runs `opensc-tool ARGS…` against this bench; returns its output and
    /// whether it succeeded. opensc-tool touches the cards, so it waits
    /// while this process holds a PC/SC transaction; it is cut off after
    /// 10 s rather than hanging the test.
    pub fn opensc_tool(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("timeout")
            .args(["10", "opensc-tool"])
            .args(args)
            .env("PCSCLITE_CSOCK_NAME", self.socket())
            .stdin(Stdio::null())
            .output()
            .expect("bench: cannot run opensc-tool (is opensc installed?)");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// The bench's readers as `opensc-tool --list-readers` shows them:
    /// (name, card present).
    pub fn readers(&self) -> Vec<(String, bool)> {
        let (_, text) = self.opensc_tool(&["--list-readers"]);
        parse_readers(&text)
    }

    /// The PC/SC name of a slot's reader.
    pub fn reader_name(&self, slot: Slot) -> String {
        let entry = slot.index() / 2;
        format!("{} 00 {:02X}", friendly_name(entry), slot.index() % 2)
    }

    /// opensc-tool's reader number for a slot: its place in pcscd's list
    /// (the slot's number on a vpcd bench).
    pub fn reader_number(&self, slot: Slot) -> u16 {
        let name = self.reader_name(slot);
        self.readers().iter().position(|(n, _)| *n == name).map_or(slot.index(), |i| i as u16)
    }

    fn port(&self, slot: Slot) -> u16 {
        VPCD_BASE_PORT + slot.index()
    }

    /// Sends one line to the sscard-ifd control socket of `slot`'s reader
    /// (docs/interfaces.md) and returns the answer after `ok`; panics on
    /// `error`.
    pub fn ifd_command(&self, slot: Slot, verb: &str, argument: &str) -> String {
        use std::io::{BufRead, BufReader, Write};
        let path = self.dir.path().join("ifd").join(format!("control{}.sock", slot.index() / 2));
        let mut stream = std::os::unix::net::UnixStream::connect(&path)
            .unwrap_or_else(|e| panic!("bench: sscard-ifd control socket {}: {e}", path.display()));
        writeln!(stream, "{verb} {} {argument}", slot.index() % 2).expect("bench: control write");
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).expect("bench: control read");
        match line.trim_end().strip_prefix("ok") {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("bench: sscard-ifd {verb}: {line}"),
        }
    }

    /// Types on the PIN pad of `slot`: digits, `O` for OK, `C` for cancel.
    /// Keys queue until a PIN entry takes them.
    pub fn press(&self, slot: Slot, keys: &str) {
        self.ifd_command(slot, "keys", keys);
    }

    /// One `key=value` of the slot's pad status (present, entering,
    /// entries, queued) or statistics (apdus, extended).
    pub fn ifd_value(&self, slot: Slot, verb: &str, key: &str) -> u64 {
        let answer = self.ifd_command(slot, verb, "");
        answer
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("bench: no {key} in {answer:?}"))
    }

    /// Waits until the pad of `slot` waits for keys.
    pub fn wait_pad_entry(&self, slot: Slot) {
        wait_until("a PIN entry on the pad", Duration::from_secs(10), || {
            self.ifd_value(slot, "status", "entering") == 1
        });
    }

    /// Starts `sscard-sim ROLE --port P ARGS…` inside the bench's network
    /// namespace and waits until pcscd sees the card.
    pub fn insert(&mut self, slot: Slot, role: &str, args: &[&str]) {
        let child = self.spawn_sim(slot, role, args);
        self.cards.push((slot, child));
        self.wait_card_present(slot, true);
    }

    /// Starts the simulator without waiting for pcscd to see it.
    pub fn spawn_sim(&self, slot: Slot, role: &str, args: &[&str]) -> Child {
        let log =
            fs::File::create(self.dir.path().join(format!("sim-{}.stderr", slot.index()))).expect("bench: sim log");
        die_with_parent(&mut Command::new("nsenter"))
            .arg(format!("--net=/proc/{}/ns/net", self.holder.id()))
            .arg("--")
            .arg(sim_binary())
            .arg(role)
            .args(["--port", &self.port(slot).to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("bench: cannot start sscard-sim")
    }

    /// Inserts vsmartcard's own Python card, `vicc -t iso7816`, working
    /// around Debian's packaging (test-bench.md). False if it is missing.
    pub fn insert_vicc(&mut self, slot: Slot) -> bool {
        let vicc_pkg = Path::new("/usr/lib/python3/site-packages/virtualsmartcard");
        let cryptodome = Path::new("/usr/lib/python3/dist-packages/Cryptodome");
        if !Path::new("/usr/bin/vicc").exists() || !vicc_pkg.exists() || !cryptodome.exists() {
            return false;
        }
        let shim = self.dir.path().join("pyshim");
        fs::create_dir_all(&shim).expect("bench: vicc shim dir");
        let link = shim.join("Crypto");
        if !link.exists() {
            std::os::unix::fs::symlink(cryptodome, &link).expect("bench: Crypto symlink");
        }
        let log = fs::File::create(self.dir.path().join("vicc.stderr")).expect("bench: vicc log");
        let child = die_with_parent(&mut Command::new("nsenter"))
            .arg(format!("--net=/proc/{}/ns/net", self.holder.id()))
            .args(["--", "/usr/bin/python3", "/usr/bin/vicc", "-t", "iso7816", "-P"])
            .arg(self.port(slot).to_string())
            .env("PYTHONPATH", format!("{}:{}", vicc_pkg.display(), shim.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("bench: cannot start vicc");
        self.cards.push((slot, child));
        self.wait_card_present(slot, true);
        true
    }

    /// Adopts a simulator started with [`Bench::spawn_sim`], so the bench
    /// stops it on drop.
    pub fn adopt(&mut self, slot: Slot, child: Child) {
        self.cards.push((slot, child));
    }

    /// Stops the simulator in `slot` with SIGTERM and returns its exit code.
    pub fn remove(&mut self, slot: Slot) -> Option<i32> {
        let index = self.cards.iter().position(|(s, _)| *s == slot)?;
        let (_, mut child) = self.cards.remove(index);
        let code = terminate(&mut child);
        self.wait_card_present(slot, false);
        code
    }

    /// Waits for a simulator that ends by itself (e.g. `--remove-after`).
    pub fn wait_exit(&mut self, slot: Slot, timeout: Duration) -> Option<i32> {
        let index = self.cards.iter().position(|(s, _)| *s == slot)?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.cards[index].1.try_wait() {
                self.cards.remove(index);
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_card_present(&self, slot: Slot, present: bool) {
        let name = self.reader_name(slot);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, listing) = self.opensc_tool(&["--list-readers"]);
            if parse_readers(&listing).iter().any(|(n, p)| *n == name && *p == present) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bench: timed out waiting for card present = {present} in {name}; opensc-tool says: {listing}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `opensc-tool --list-readers`'s lines for the bench's readers: (name,
/// card present).
fn parse_readers(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter_map(|line| {
            let at = line.find(FRIENDLY_NAME)?;
            let present = line[..at].split_whitespace().nth(1) == Some("Yes");
            Some((line[at..].trim().to_owned(), present))
        })
        .collect()
}

/// Makes a child get SIGTERM if this process dies without dropping the
/// bench (a test killed on timeout), so no pcscd or simulator outlives it.
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    }
}

/// SIGTERM, then wait; SIGKILL if it does not stop within 5 s.
pub fn terminate(child: &mut Child) -> Option<i32> {
    // SAFETY: kill(2) on a PID we spawned and have not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.code(),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                return child.wait().ok().and_then(|s| s.code());
            }
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        for (_, mut child) in self.cards.drain(..) {
            terminate(&mut child);
        }
        if let Some(mut pcscd) = self.pcscd.take() {
            terminate(&mut pcscd);
        }
        terminate(&mut self.holder);
    }
}
