//! `sscard-bridge`'s command line, here so that its manual page and shell
//! completions are generated from the same definitions (`tests/docs.rs`).

use std::path::PathBuf;

use clap::Parser;

/// The national interface's WebSocket bridge, on loopback only.
#[derive(Debug, Parser)]
#[command(name = "sscard-bridge", version)]
pub struct Cli {
    /// The daemon's bus: `system` (default), `session` or a D-Bus address.
    #[arg(long)]
    pub bus: Option<String>,
    /// Where to listen: 127.0.0.1:PORT or [::1]:PORT (default 127.0.0.1:12342).
    #[arg(long)]
    pub listen: Option<String>,
    /// The configuration file (TOML). Default: ~/.config/sscard/bridge.toml,
    /// else /etc/sscard/bridge.toml, when one exists.
    #[arg(long)]
    pub config: Option<PathBuf>,
}
