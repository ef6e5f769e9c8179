//! `sscardd`'s command line, here so that its manual page is generated from
//! the same definitions (`tests/docs.rs`).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Where the packaged profiles live; `make` sets it from PREFIX.
pub const DEFAULT_SCRIPTS: &str = match option_env!("SSCARD_SCRIPTS_DIR") {
    Some(dir) => dir,
    None => "/usr/share/sscard/apdu-scripts",
};

#[derive(Parser)]
#[command(name = "sscardd", version, about = "The sscard D-Bus daemon for social security cards")]
pub struct Cli {
    /// `system` (default), `session`, or a D-Bus address such as
    /// `unix:path=/tmp/x/bus`.
    #[arg(long, default_value = "system")]
    pub bus: String,
    /// The directory of APDU script profiles.
    #[arg(long, default_value = DEFAULT_SCRIPTS)]
    pub scripts: PathBuf,
    /// The configuration file (TOML). Without it, /etc/sscard/sscardd.toml
    /// is read if it exists.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Who may call: `polkit` asks polkit for each method's action;
    /// `none` allows everyone and is refused on the system bus.
    #[arg(long, value_enum, default_value_t = AuthorizationArg::Polkit)]
    pub authorization: AuthorizationArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthorizationArg {
    Polkit,
    None,
}
