//! `sscard-bridge`: the national terminal interface and sscard's JSON-RPC
//! API on a loopback WebSocket (`docs/unified-interface.md` section 8),
//! over `sscardd`. Run by the logged-in user through a systemd user unit.

use std::process::ExitCode;

use clap::Parser;
use sscard::Bus;
use sscard_bridge::{self as bridge, Config};
use sscard_cli::sscard_bridge::Cli;

/// `RUST_LOG` (default `info`), to standard error. The WebSocket library's
/// own log is capped at `debug`: at `trace` it prints frames, which hold
/// PINs and card data.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_frames = filter_fn(|meta| {
        let target = meta.target();
        let wire = target.starts_with("tungstenite") || target.starts_with("tokio_tungstenite");
        !(wire && *meta.level() == tracing::Level::TRACE)
    });
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let fmt = if std::env::var_os("JOURNAL_STREAM").is_some() { fmt.without_time().boxed() } else { fmt.boxed() };
    let _ = tracing_subscriber::registry().with(filter).with(no_frames).with(fmt).try_init();
}

/// Up to 1000 connections need as many descriptors: the soft limit is
/// raised to the hard one.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = cli.config.clone().or_else(bridge::config::default_file);
    let config = match Config::load(file.as_deref(), cli.bus.as_deref(), cli.listen.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sscard-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging();
    raise_descriptor_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sscard-bridge: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sscard-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let bus = match config.bus.as_str() {
        "system" => Bus::System,
        "session" => Bus::Session,
        address => Bus::Address(address.to_owned()),
    };
    let connection = bus.connect().await.map_err(|e| format!("cannot connect to the {} bus: {e}", config.bus))?;
    let listener = bridge::bind(&config).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| format!("the listening address: {e}"))?;
    // The one line on standard output: where the bridge listens (its port
    // when the configured one is 0).
    println!("sscard-bridge: listening on ws://{address}/");
    tracing::info!("listening on ws://{address}/");
    bridge::serve(&config, listener, connection, shutdown()).await.map_err(|e| format!("serving: {e}"))
}
