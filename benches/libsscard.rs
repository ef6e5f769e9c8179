//! `libsscard` against the daemon's own D-Bus API, on the bench (a
//! personalised gen3 card and a PSAM, sscardd on a private bus), in one run:
//!
//! 1. `iReadCardBas` through `libsscard.so` (loaded with `dlopen`, as a
//!    counter program links it) against `ReadCard` over D-Bus, interleaved,
//!    in one client process, with the simulator answering at once;
//! 2. the first call in a fresh process (loading the library, connecting
//!    to the bus, finding the card) against the warm call after it;
//! 3. the APDUs of one `iReadCardBas` and of one `ReadCard`, from the
//!    simulators' logs.
//!
//! `cargo bench --bench libsscard [-- --runs N --starts N]`
//!
//! The client is this same program started again (`--client`), so that
//! `SSCARD_BUS` is in its environment from its start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::ffi::{CString, c_char, c_int, c_long};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sscard_client::{Manager1Proxy, Reader1Proxy};
use support::bench::Slot;
use support::client::{Rig, holder_dict, no_opts};
use support::measure::{arg, median, ms, p90};

fn library_path() -> PathBuf {
    // target/release, beside this bench's deps directory.
    let exe = std::env::current_exe().expect("exe");
    exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("libsscard.so")
}

type ReadCardBas = unsafe extern "C" fn(c_int, *mut c_char) -> c_long;

/// `libsscard.so`'s `iReadCardBas`, loaded with `dlopen`.
struct Library {
    read_card_bas: ReadCardBas,
}

impl Library {
    fn load() -> Library {
        let path = CString::new(library_path().to_string_lossy().into_owned()).expect("path");
        // SAFETY: a path to a shared library; the handle is kept for the
        // process's life.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW) };
        assert!(!handle.is_null(), "dlopen {}", library_path().display());
        let name = CString::new("iReadCardBas").expect("name");
        // SAFETY: the handle is open; the symbol has this C signature
        // (include/sscard.h).
        let symbol = unsafe { libc::dlsym(handle, name.as_ptr()) };
        assert!(!symbol.is_null(), "iReadCardBas is exported");
        // SAFETY: as above.
        Library { read_card_bas: unsafe { std::mem::transmute::<*mut libc::c_void, ReadCardBas>(symbol) } }
    }

    fn call(&self) -> (c_long, String) {
        let mut out = [0 as c_char; 1024];
        // SAFETY: a 1024-byte buffer, as the interface requires.
        let code = unsafe { (self.read_card_bas)(3, out.as_mut_ptr()) };
        // SAFETY: the library NUL-terminates within the buffer.
        let text = unsafe { std::ffi::CStr::from_ptr(out.as_ptr()) }.to_string_lossy().into_owned();
        (code, text)
    }
}

/// The client process: `--client compare N` or `--client first`.
fn client(mode: &str, runs: usize) {
    match mode {
        "first" => {
            let start = Instant::now();
            let library = Library::load();
            let (code, _) = library.call();
            let first = start.elapsed();
            assert_eq!(code, 0, "first call");
            let start = Instant::now();
            let (code, _) = library.call();
            let warm = start.elapsed();
            assert_eq!(code, 0, "warm call");
            println!("{} {}", first.as_nanos(), warm.as_nanos());
        }
        "once" => {
            let (code, line) = Library::load().call();
            assert_eq!(code, 0, "{line}");
        }
        _ => {
            let library = Library::load();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let address = std::env::var("SSCARD_BUS").expect("SSCARD_BUS");
            let reader = runtime.block_on(async {
                let conn = zbus::connection::Builder::address(address.as_str()).build().await.expect("bus");
                let path = Manager1Proxy::new(&conn).await.expect("manager").find_card().await.expect("FindCard");
                Reader1Proxy::builder(&conn).path(path).build().await.expect("reader")
            });
            let (mut dbus, mut lib) = (Vec::new(), Vec::new());
            for i in 0..runs + 20 {
                // Alternate which goes first.
                for first in [i % 2 == 0, i % 2 == 1] {
                    let start = Instant::now();
                    if first {
                        runtime.block_on(reader.read_card(no_opts())).expect("ReadCard");
                    } else {
                        let (code, line) = library.call();
                        assert_eq!(code, 0, "{line}");
                    }
                    let took = start.elapsed();
                    if i >= 20 {
                        if first { dbus.push(took) } else { lib.push(took) }
                    }
                }
            }
            println!(
                "{} {} {} {}",
                median(dbus.clone()).as_nanos(),
                p90(dbus).as_nanos(),
                median(lib.clone()).as_nanos(),
                p90(lib).as_nanos()
            );
        }
    }
}

fn spawn_client(bus: &str, mode: &str, runs: usize) -> String {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--client", mode, "--runs", &runs.to_string()])
        .env("SSCARD_BUS", bus)
        .output()
        .expect("client");
    assert!(out.status.success(), "client {mode}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn nanos(field: &str) -> Duration {
    Duration::from_nanos(field.parse().expect("nanoseconds"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--client") {
        client(args.get(i + 1).map_or("compare", String::as_str), arg("--runs", 300));
        return;
    }
    let runs = arg("--runs", 300);
    let starts = arg("--starts", 20);
    // `cargo bench` builds the rlib only: build the shared library too.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo).args(["build", "--release", "--lib", "--quiet"]).status().expect("cargo build");
    assert!(built.success() && library_path().exists(), "{}", library_path().display());
    if std::env::var_os("SSCARDD_LOG").is_none() {
        // SAFETY: before any thread of this process exists.
        unsafe { std::env::set_var("SSCARDD_LOG", "warn") };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let rig = runtime.block_on(async {
        let rig = Rig::new(3, true).await;
        rig.reader(Slot::Card)
            .await
            .write_holder_record(holder_dict(3, Some(4096)), no_opts())
            .await
            .expect("personalise");
        rig
    });
    let bus = rig.bus.address();

    // 3. APDUs of one call each, both cards.
    let count = |rig: &Rig| rig.logged(Slot::Card).len() + rig.logged(Slot::Sam).len();
    let before = count(&rig);
    runtime.block_on(async { rig.reader(Slot::Card).await.read_card(no_opts()).await.expect("ReadCard") });
    let read_card_apdus = count(&rig) - before;
    let before = count(&rig);
    spawn_client(&bus, "once", 1);
    let bas_apdus = count(&rig) - before;

    // 1. Interleaved.
    let fields: Vec<String> = spawn_client(&bus, "compare", runs).split(' ').map(str::to_owned).collect();
    let (dbus_med, dbus_p90, lib_med, lib_p90) =
        (nanos(&fields[0]), nanos(&fields[1]), nanos(&fields[2]), nanos(&fields[3]));

    // 2. Fresh processes.
    let (mut firsts, mut warms, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..starts {
        let out = spawn_client(&bus, "first", 1);
        let mut f = out.split(' ');
        let (first, warm) = (nanos(f.next().expect("first")), nanos(f.next().expect("warm")));
        firsts.push(first);
        warms.push(warm);
        extra.push(first.saturating_sub(warm));
    }

    println!("libsscard: {}", library_path().display());
    println!();
    println!(
        "| gen3 card + PSAM, simulator at 0 µs, {runs} runs each, interleaved, one client process | median | p90 |"
    );
    println!("|---|---|---|");
    println!("| `ReadCard` over D-Bus (zbus proxy) | {} | {} |", ms(dbus_med), ms(dbus_p90));
    println!("| `iReadCardBas` through libsscard.so | {} | {} |", ms(lib_med), ms(lib_p90));
    let ratio = lib_med.as_secs_f64() / dbus_med.as_secs_f64();
    println!("ratio libsscard / D-Bus (median): {ratio:.3}");
    println!();
    println!("| fresh process, {starts} starts | median | p90 |");
    println!("|---|---|---|");
    println!("| first call (dlopen, bus, FindCard, ReadCard) | {} | {} |", ms(median(firsts.clone())), ms(p90(firsts)));
    println!("| the warm call after it | {} | {} |", ms(median(warms.clone())), ms(p90(warms)));
    println!("| first − warm | {} | {} |", ms(median(extra.clone())), ms(p90(extra.clone())));
    println!();
    println!("APDUs: ReadCard {read_card_apdus}, iReadCardBas {bas_apdus}");
    println!();
    println!("| goal | target | measured | |");
    println!("|---|---|---|---|");
    let verdict = |met: bool| if met { "met" } else { "missed" };
    println!("| iReadCardBas / ReadCard (median), 0 µs | ≤ 1.10 | {ratio:.3} | {} |", verdict(ratio <= 1.10));
    let extra_med = median(extra);
    println!(
        "| first call − warm call (median) | ≤ 20 ms | {} | {} |",
        ms(extra_med),
        verdict(extra_med <= Duration::from_millis(20))
    );
    println!(
        "| APDUs of iReadCardBas | = ReadCard's ({read_card_apdus}) | {bas_apdus} | {} |",
        verdict(bas_apdus == read_card_apdus)
    );
    drop(rig);
}
