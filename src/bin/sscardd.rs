//! `sscardd`, the D-Bus daemon: `org.sscard.Daemon` over the reader
//! service (`docs/interfaces.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use sscard_cli::sscardd::{AuthorizationArg, Cli};
use sscard_ops::Engine;
use sscard_service::dbus::{Authorization, BUS_NAME, Daemon};
use sscard_service::{Service, ServiceConfig};

/// The configuration; `make` sets it from SYSCONFDIR.
const DEFAULT_CONFIG: &str = match option_env!("SSCARD_CONFIG") {
    Some(file) => file,
    None => "/etc/sscard/sscardd.toml",
};

/// `sscardd.toml`. No `Debug`: it holds the audit salt.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The terminal device number, the legacy line's last field.
    #[serde(default)]
    terminal_device: String,
    /// The salt of audit records' holder hashes.
    #[serde(default)]
    audit_salt: String,
    #[serde(default)]
    timeouts: Timeouts,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timeouts {
    /// The longest an operation may take before its caller gets `Timeout`.
    #[serde(default = "default_operation_ms")]
    operation_ms: u64,
    /// The longest wait between attempts to reach pcscd again.
    #[serde(default = "default_reconnect_ms")]
    reconnect_max_ms: u64,
    /// On SIGTERM or SIGINT, how long operations under way may take to
    /// finish; keep it below the unit's `TimeoutStopSec`.
    #[serde(default = "default_shutdown_grace_ms")]
    shutdown_grace_ms: u64,
    /// How long an HSM session waits for its owner's next step.
    #[serde(default = "default_hsm_idle_ms")]
    hsm_idle_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            operation_ms: default_operation_ms(),
            reconnect_max_ms: default_reconnect_ms(),
            shutdown_grace_ms: default_shutdown_grace_ms(),
            hsm_idle_ms: default_hsm_idle_ms(),
        }
    }
}

fn default_operation_ms() -> u64 {
    60_000
}

fn default_hsm_idle_ms() -> u64 {
    60_000
}

fn default_reconnect_ms() -> u64 {
    500
}

/// The longest operation, a gen3 personalisation with its read-back, takes
/// seconds on a slow card; the unit's `TimeoutStopSec=75s` is above this.
/// `TimeoutStopSec` of the shipped unit, in milliseconds.
const UNIT_STOP_TIMEOUT_MS: u64 = 75_000;

fn default_shutdown_grace_ms() -> u64 {
    60_000
}

fn load_config(path: Option<&Path>) -> Result<Config, String> {
    let (path, required) = match path {
        Some(p) => (p, true),
        None => (Path::new(DEFAULT_CONFIG), false),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let config: Config = toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), one_line(&e)))?;
    if config.timeouts.hsm_idle_ms == 0 {
        return Err(format!("{}: timeouts.hsm_idle_ms must be more than 0", path.display()));
    }
    if config.timeouts.operation_ms == 0 {
        return Err(format!("{}: timeouts.operation_ms must be more than 0", path.display()));
    }
    if !config.terminal_device.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("{}: terminal_device must be ASCII letters and digits", path.display()));
    }
    Ok(config)
}

/// Whether `bus` names the system bus, by name or by its address.
fn is_system_bus(bus: &str) -> bool {
    const DEFAULT_SYSTEM_BUS: &str = "unix:path=/var/run/dbus/system_bus_socket";
    let same_socket = |address: &str| {
        let path = |a: &str| {
            a.split(',')
                .find_map(|part| part.strip_prefix("unix:path=").or_else(|| part.strip_prefix("path=")))
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p)))
        };
        path(address).is_some() && path(address) == path(bus)
    };
    bus == "system"
        || same_socket(DEFAULT_SYSTEM_BUS)
        || same_socket("unix:path=/run/dbus/system_bus_socket")
        || std::env::var("DBUS_SYSTEM_BUS_ADDRESS").is_ok_and(|a| a == bus || same_socket(&a))
}

fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into files or the journal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // Under systemd, stderr goes to the journal, which stamps the time itself.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    if cli.authorization == AuthorizationArg::None && is_system_bus(&cli.bus) {
        eprintln!("sscardd: --authorization none is refused on the system bus");
        return ExitCode::from(2);
    }
    let config = match load_config(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sscardd: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = match Engine::load(&cli.scripts) {
        Ok(engine) => Arc::new(engine),
        Err(e) => {
            eprintln!("sscardd: profiles in {}: {e}", cli.scripts.display());
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sscardd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, config, engine)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sscardd: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, config: Config, engine: Arc<Engine>) -> Result<(), String> {
    // Before anything can be asked of us: a SIGTERM during start-up then
    // still shuts down cleanly.
    let termination = Termination::install()?;
    let builder = match cli.bus.as_str() {
        "system" => zbus::connection::Builder::system(),
        "session" => zbus::connection::Builder::session(),
        address => zbus::connection::Builder::address(address),
    };
    let connection = builder.build().await.map_err(|e| format!("cannot connect to the {} bus: {e}", cli.bus))?;
    let profiles = engine.profiles().iter().map(|p| p.name.clone()).collect();
    let (events, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let service_config = ServiceConfig {
        operation_timeout: Duration::from_millis(config.timeouts.operation_ms),
        shutdown_grace: Duration::from_millis(config.timeouts.shutdown_grace_ms),
        max_backoff: Duration::from_millis(config.timeouts.reconnect_max_ms.max(10)),
        audit_salt: zeroize::Zeroizing::new(config.audit_salt.clone()),
        hsm_idle_timeout: Duration::from_millis(config.timeouts.hsm_idle_ms),
    };
    let service = Service::start(engine, service_config, events).map_err(|e| format!("cannot start: {e}"))?;
    let authorization = match cli.authorization {
        AuthorizationArg::Polkit => Authorization::Polkit,
        AuthorizationArg::None => Authorization::None,
    };
    if authorization == Authorization::None {
        tracing::warn!(
            "AUTHORIZATION IS OFF (--authorization none): every caller on {} may personalise, activate and reset PINs; \
             use this only on a private development bus",
            cli.bus
        );
    }
    if config.audit_salt.is_empty() {
        tracing::warn!("no audit_salt in the configuration: audit card hashes are unsalted and can be guessed");
    }
    // The shipped unit gives the daemon 75 s to stop before systemd kills it.
    if config.timeouts.shutdown_grace_ms >= UNIT_STOP_TIMEOUT_MS {
        tracing::warn!(
            grace_ms = config.timeouts.shutdown_grace_ms,
            "shutdown_grace_ms is not below the unit's TimeoutStopSec (75 s): systemd may kill an operation in flight"
        );
    }
    let daemon = Daemon::new(service, authorization, profiles, config.terminal_device.clone());
    sscard_service::dbus::register(&connection, &daemon).await.map_err(|e| format!("cannot serve the objects: {e}"))?;
    let pump = tokio::spawn(sscard_service::dbus::serve(connection.clone(), Arc::clone(&daemon), events_rx));
    connection.request_name(BUS_NAME).await.map_err(|e| format!("cannot own {BUS_NAME}: {e}"))?;
    tracing::info!(bus = %cli.bus, scripts = %cli.scripts.display(), "serving {BUS_NAME}");

    termination.wait().await;
    let grace = Duration::from_millis(config.timeouts.shutdown_grace_ms);
    tracing::info!("shutting down: no new calls; operations under way may take {} s to finish", grace.as_secs_f32());
    // New calls, and those waiting for polkit or their turn, answer
    // Cancelled from here on.
    daemon.stop_taking_calls();
    // Replies go to the callers' unique names: the well-known one can go,
    // and with it new callers.
    let _ = connection.release_name(BUS_NAME).await;
    let _ = connection
        .object_server()
        .remove::<sscard_service::dbus::server::Manager, _>(sscard_contract::bus::MANAGER_PATH)
        .await;
    // The Reader objects stay until the connection goes.
    pump.abort();
    let _ = pump.await;
    // Stopping the service cancels the monitor's wait, lets the operations
    // under way finish (within the grace) and ends every worker.
    let stopping = Arc::clone(&daemon);
    tokio::task::spawn_blocking(move || stopping.shutdown()).await.map_err(|e| format!("shutdown: {e}"))?;
    // Every call has its answer now, unless an operation outlasted the
    // grace: let the method calls reply, and the replies go out, before
    // the connection closes.
    let unanswered = daemon.drain(REPLY_DRAIN).await;
    if unanswered > 0 {
        tracing::warn!(
            unanswered,
            "operations still under way after the {} s shutdown grace: exiting without their answers",
            grace.as_secs_f32()
        );
    }
    drop(daemon);
    // The connection closes once its method calls have ended; those left
    // unanswered never do, so then it gets only a moment.
    let patience = if unanswered == 0 { REPLY_DRAIN } else { REPLY_FLUSH };
    if tokio::time::timeout(patience, connection.graceful_shutdown()).await.is_err() {
        tracing::debug!("the bus connection did not close within {} s", patience.as_secs_f32());
    }
    Ok(())
}

/// How long shutdown lets answered calls send their replies.
const REPLY_DRAIN: Duration = Duration::from_secs(1);
/// How long the replies given get to go out when some calls stay unanswered.
const REPLY_FLUSH: Duration = Duration::from_millis(100);

/// SIGTERM and SIGINT, caught from the start.
struct Termination {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Termination {
    fn install() -> Result<Termination, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
        let int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
        Ok(Termination { term, int })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
