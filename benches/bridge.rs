//! sscard-bridge against D-Bus, on the bench, in one run:
//!
//! 1. `ReadCard` through the bridge (JSON-RPC on a WebSocket) against the
//!    same call on D-Bus from this process, interleaved, with the
//!    simulator answering at once and at a real T=0 card's pace
//!    (`--latency-us 20000`). Both name the reader by its object path, as
//!    a page does once `ListReaders` has answered;
//! 2. 100 WebSocket clients, each calling `GetPinStatus` in a loop on the
//!    one card for `--seconds` seconds: calls per second, p50 and p99, and
//!    failures;
//! 3. the bridge's RSS idle, after 1000 connections opened and closed, and
//!    after the 100-client run.
//!
//! `cargo bench --bench bridge [-- --runs N --slow-runs N --clients N --seconds S]`
//!
//! The card is a personalised gen2 card and no PSAM is present (a gen2
//! ReadCard needs none). sscardd and the bridge log at `warn`. Goals are
//! reported as met or missed; only a failure (an error, a hang) ends the
//! run non-zero.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::bench::Slot;
use support::bridge::Bridge;
use support::client::{Rig, holder_dict, no_opts, string_value, text};
use support::measure::{Stats, arg, mib, rss_kib, stats};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const NAME: &str = "张三";
const SLOW_LATENCY_US: &str = "20000";

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

struct Goal {
    what: &'static str,
    goal: &'static str,
    measured: String,
    met: bool,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One JSON-RPC connection; calls answered in order.
struct RpcClient {
    socket: Socket,
    next_id: u64,
}

impl RpcClient {
    async fn connect(port: u16) -> RpcClient {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/")).await.expect("WebSocket handshake");
        RpcClient { socket, next_id: 1 }
    }

    /// The method's result, or its error object.
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.socket.send(Message::text(request.to_string())).await.expect("send");
        loop {
            let message = self.socket.next().await.expect("the bridge closed the socket").expect("read");
            let Message::Text(text) = message else { continue };
            let mut answer: Value = serde_json::from_str(text.as_str()).expect("JSON answer");
            // Notifications (no id) may come between.
            if answer.get("id") != Some(&json!(id)) {
                continue;
            }
            return match answer.get_mut("result") {
                Some(result) => Ok(result.take()),
                None => Err(answer["error"].take()),
            };
        }
    }
}

struct Comparison {
    apdus: usize,
    dbus: Stats,
    bridge: Stats,
}

async fn bridge_vs_dbus(rig: &Rig, port: u16, runs: usize, warmup: usize) -> Comparison {
    let reader = rig.reader(Slot::Card).await;
    let path = reader.inner().path().to_string();
    let mut client = RpcClient::connect(port).await;
    let params = json!({"reader": path});

    let before = rig.logged(Slot::Card).len();
    let info = client.call("ReadCard", params.clone()).await.expect("ReadCard through the bridge");
    assert_eq!(info["name"], NAME, "the bridge reads the personalised card");
    let apdus = rig.logged(Slot::Card).len() - before;
    let before = rig.logged(Slot::Card).len();
    let info = reader.read_card(no_opts()).await.expect("ReadCard on D-Bus");
    assert_eq!(text(&info, "name").as_deref(), Some(NAME));
    assert_eq!(rig.logged(Slot::Card).len() - before, apdus, "both paths send the same APDUs");

    let mut times: [Vec<Duration>; 2] = Default::default();
    for i in 0..warmup + runs {
        for k in 0..2 {
            let which = (i + k) % 2;
            let start = Instant::now();
            if which == 0 {
                reader.read_card(no_opts()).await.expect("ReadCard on D-Bus");
            } else {
                client.call("ReadCard", params.clone()).await.expect("ReadCard through the bridge");
            }
            if i >= warmup {
                times[which].push(start.elapsed());
            }
        }
    }
    let [dbus, bridge] = times.map(stats);
    Comparison { apdus, dbus, bridge }
}

/// Prints the table; answers the ratio and the difference of the medians
/// (bridge − D-Bus, in seconds; negative when the bridge was faster).
fn print_comparison(latency: &str, c: &Comparison) -> (f64, f64) {
    let ratio = c.bridge.median.as_secs_f64() / c.dbus.median.as_secs_f64();
    let extra = c.bridge.median.as_secs_f64() - c.dbus.median.as_secs_f64();
    println!("\n| gen2 ReadCard at {latency}, {} APDUs, {} runs each, interleaved | median | p99 |", c.apdus, c.dbus.n);
    println!("|---|---|---|");
    println!("| D-Bus, this process (zbus proxy) | {} | {} |", ms(c.dbus.median), ms(c.dbus.p99));
    println!("| sscard-bridge, JSON-RPC on a WebSocket | {} | {} |", ms(c.bridge.median), ms(c.bridge.p99));
    println!("| bridge − D-Bus (medians) | {:+.3} ms | |", extra * 1e3);
    println!("| bridge / D-Bus (medians) | {ratio:.3} × | |");
    (ratio, extra)
}

struct Load {
    clients: usize,
    calls: usize,
    failures: usize,
    per_second: f64,
    latency: Stats,
}

/// `clients` connections, each calling GetPinStatus in a loop for
/// `seconds`; the rate is all calls over the time from the common start
/// to the last call's end.
async fn many_clients(port: u16, path: &str, clients: usize, seconds: u64) -> Load {
    let barrier = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = RpcClient::connect(port).await;
        let barrier = Arc::clone(&barrier);
        let params = json!({"reader": path});
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let (mut times, mut failures, mut end) = (Vec::new(), 0usize, Instant::now());
            while Instant::now() < deadline {
                let start = Instant::now();
                match client.call("GetPinStatus", params.clone()).await {
                    Ok(status) if status["tries_left"].is_u64() => {}
                    Ok(other) => panic!("GetPinStatus answered {other}"),
                    Err(_) => failures += 1,
                }
                end = Instant::now();
                times.push(end - start);
            }
            (times, failures, end)
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let (mut all, mut failures, mut last) = (Vec::new(), 0, start);
    for task in tasks {
        let (times, failed, end) = task.await.expect("client task");
        all.extend(times);
        failures += failed;
        last = last.max(end);
    }
    Load {
        clients,
        calls: all.len(),
        failures,
        per_second: all.len() as f64 / (last - start).as_secs_f64(),
        latency: stats(all),
    }
}

/// Opens `n` connections, 100 at a time (each completing its
/// handshake), and closes each batch before the next.
async fn churn(port: u16, n: usize) {
    for _ in 0..n.div_ceil(100) {
        let mut open = Vec::new();
        for _ in 0..100 {
            open.push(RpcClient::connect(port).await);
        }
        for client in &mut open {
            let _ = client.socket.close(None).await;
        }
    }
}

async fn run(runs: usize, slow_runs: usize, clients: usize, seconds: u64) -> Vec<Goal> {
    let mut rig = Rig::empty(2, &[]).await;
    let image = rig.bench.dir().join("card.json");
    let image_arg = image.to_string_lossy().into_owned();
    rig.insert_card(Slot::Card, 2, &["--image", &image_arg]).await;
    let mut record = holder_dict(2, Some(4096));
    record.insert("name".into(), string_value(NAME));
    // Personalising needs the PSAM; the measurements run without one.
    rig.insert_sam().await;
    rig.reader(Slot::Card).await.write_holder_record(record, no_opts()).await.expect("WriteHolderRecord");
    rig.bench.remove(Slot::Sam);
    rig.wait_kind(Slot::Sam, "none").await;

    let bridge = Bridge::start(&rig.bus.address(), rig.bench.dir(), "warn", &[]);
    println!("sscard-bridge: {} (pid {})", env!("CARGO_BIN_EXE_sscard-bridge"), bridge.pid());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_kib(bridge.pid());
    let mut goals = Vec::new();

    let fast = bridge_vs_dbus(&rig, bridge.port, runs, runs / 10).await;
    let (_, extra) = print_comparison("0 µs per APDU", &fast);
    goals.push(Goal {
        what: "ReadCard, bridge − D-Bus at 0 µs (medians)",
        goal: "≤ 0.3 ms",
        measured: format!("{:+.3} ms", extra * 1e3),
        met: extra <= 0.3e-3,
    });

    let path = rig.reader(Slot::Card).await.inner().path().to_string();
    let load = many_clients(bridge.port, &path, clients, seconds).await;
    let rss_after_load = rss_kib(bridge.pid());
    println!(
        "\n| {} clients, GetPinStatus in a loop, {seconds} s, 0 µs per APDU | calls | calls/s | p50 | p99 | failures |",
        load.clients
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| one card, through the bridge | {} | {:.0} | {} | {} | {} |",
        load.calls,
        load.per_second,
        ms(load.latency.median),
        ms(load.latency.p99),
        load.failures
    );
    goals.push(Goal {
        what: "100 clients: failures",
        goal: "0",
        measured: load.failures.to_string(),
        met: load.failures == 0,
    });

    churn(bridge.port, 1000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_churn = rss_kib(bridge.pid());
    let mut check = RpcClient::connect(bridge.port).await;
    check.call("ListReaders", json!({})).await.expect("the bridge still serves after the churn");

    // The same card at a real card's pace.
    rig.bench.remove(Slot::Card);
    rig.wait_kind(Slot::Card, "none").await;
    rig.insert_card(Slot::Card, 2, &["--image", &image_arg, "--latency-us", SLOW_LATENCY_US]).await;
    let slow = bridge_vs_dbus(&rig, bridge.port, slow_runs, 1).await;
    let (ratio, _) = print_comparison("20 ms per APDU", &slow);
    goals.push(Goal {
        what: "ReadCard, bridge / D-Bus at 20 ms per APDU (medians)",
        goal: "≤ 1.02 ×",
        measured: format!("{ratio:.3} ×"),
        met: ratio <= 1.02,
    });

    let rss_end = rss_kib(bridge.pid());
    println!("\n| sscard-bridge's RSS | |");
    println!("|---|---|");
    println!("| idle, after start | {} |", mib(rss_idle));
    println!("| after the {clients}-client run | {} |", mib(rss_after_load));
    println!("| after 1000 more connections opened and closed | {} |", mib(rss_after_churn));
    println!("| at the end | {} |", mib(rss_end));
    let peak = rss_idle.max(rss_after_load).max(rss_after_churn).max(rss_end);
    goals.push(Goal {
        what: "the bridge's RSS, idle and after the load",
        goal: "≤ 20 MiB",
        measured: mib(peak),
        met: peak <= 20 * 1024,
    });
    goals
}

fn main() -> std::process::ExitCode {
    if std::env::var_os("SSCARDD_LOG").is_none() {
        // SAFETY: set before any thread starts.
        unsafe { std::env::set_var("SSCARDD_LOG", "warn") };
    }
    let (runs, slow_runs) = (arg("--runs", 300), arg("--slow-runs", 10));
    let (clients, seconds) = (arg("--clients", 100), arg("--seconds", 10) as u64);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let goals = runtime.block_on(run(runs, slow_runs, clients, seconds));
    println!("\n| goal | target | measured | |");
    println!("|---|---|---|---|");
    for g in &goals {
        println!("| {} | {} | {} | {} |", g.what, g.goal, g.measured, if g.met { "met" } else { "missed" });
    }
    std::process::ExitCode::SUCCESS
}
