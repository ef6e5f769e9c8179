//! The bridge's configuration (`docs/unified-interface.md` section 8): a
//! TOML file, overridden by the command line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The public dialect's address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:12342";
/// A message larger than this is refused.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// More WebSocket connections at once than this are refused.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
/// A connection that sends nothing for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 600;

/// Why the bridge will not start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("listen {0:?}: not an address and port (e.g. 127.0.0.1:12342 or [::1]:12342)")]
    BadListen(String),
    #[error("listen {0}: the bridge listens only on the loopback addresses 127.0.0.1 and ::1")]
    NotLoopback(SocketAddr),
    #[error("{0}: must be at least 1")]
    Zero(&'static str),
    #[error("allowed_origins {0:?}: an origin is scheme://host[:port], with no path")]
    BadOrigin(String),
    #[error("pages_dir {path}: {message}")]
    PagesDir { path: String, message: String },
}

/// The file's keys, each optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    bus: Option<String>,
    listen: Option<String>,
    allowed_origins: Option<Vec<String>>,
    max_message_bytes: Option<usize>,
    max_connections: Option<usize>,
    idle_timeout_s: Option<u64>,
    pages_dir: Option<PathBuf>,
}

/// What the bridge runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// `system`, `session` or a D-Bus address.
    pub bus: String,
    pub listen: SocketAddr,
    /// Origins allowed besides the bridge's own, lower case.
    pub allowed_origins: Vec<String>,
    pub max_message_bytes: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    /// The directory served instead of the built-in pages, canonical.
    pub pages_dir: Option<PathBuf>,
}

/// The file read when `--config` is not given: the user's
/// (`$XDG_CONFIG_HOME/sscard/bridge.toml`, else
/// `~/.config/sscard/bridge.toml`), else the system's
/// (`/etc/sscard/bridge.toml`); none when neither exists.
pub fn default_file() -> Option<PathBuf> {
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".config")))
        .map(|dir| dir.join("sscard/bridge.toml"));
    let system = PathBuf::from("/etc/sscard/bridge.toml");
    user.into_iter().chain([system]).find(|p| p.is_file())
}

/// A listen address: an IP literal and a port, on loopback only.
pub fn parse_listen(text: &str) -> Result<SocketAddr, ConfigError> {
    let addr: SocketAddr = text.trim().parse().map_err(|_| ConfigError::BadListen(text.to_owned()))?;
    match addr.ip() {
        IpAddr::V4(ip) if ip == Ipv4Addr::LOCALHOST => Ok(addr),
        IpAddr::V6(ip) if ip == Ipv6Addr::LOCALHOST => Ok(addr),
        _ => Err(ConfigError::NotLoopback(addr)),
    }
}

fn check_origin(origin: &str) -> Result<String, ConfigError> {
    let lower = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') => Ok(lower),
        _ => Err(ConfigError::BadOrigin(origin.to_owned())),
    }
}

/// `pages_dir` checked: an existing directory (relative to the
/// configuration file's own directory), made canonical.
fn check_pages_dir(dir: &Path, file: Option<&Path>) -> Result<PathBuf, ConfigError> {
    let base = file.and_then(Path::parent).unwrap_or(Path::new("."));
    let full = base.join(dir);
    let refused = |message: String| ConfigError::PagesDir { path: full.display().to_string(), message };
    let real = full.canonicalize().map_err(|e| refused(e.to_string()))?;
    if !real.is_dir() {
        return Err(refused("not a directory".to_owned()));
    }
    Ok(real)
}

impl Config {
    /// The file (if any), then the command line's values over it.
    pub fn load(file: Option<&Path>, bus: Option<&str>, listen: Option<&str>) -> Result<Config, ConfigError> {
        let parsed: File = match file {
            Some(path) => {
                let read_error = |message: String| ConfigError::Read { path: path.display().to_string(), message };
                let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
                toml::from_str(&text).map_err(|e| read_error(e.message().to_owned()))?
            }
            None => File::default(),
        };
        let listen = listen.map(str::to_owned).or(parsed.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let positive = |value: Option<usize>, default: usize, name: &'static str| match value {
            Some(0) => Err(ConfigError::Zero(name)),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let idle = match parsed.idle_timeout_s {
            Some(0) => return Err(ConfigError::Zero("idle_timeout_s")),
            Some(s) => s,
            None => DEFAULT_IDLE_TIMEOUT_S,
        };
        Ok(Config {
            bus: bus.map(str::to_owned).or(parsed.bus).unwrap_or_else(|| "system".to_owned()),
            listen: parse_listen(&listen)?,
            allowed_origins: parsed
                .allowed_origins
                .unwrap_or_default()
                .iter()
                .map(|o| check_origin(o))
                .collect::<Result<_, _>>()?,
            max_message_bytes: positive(parsed.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES, "max_message_bytes")?,
            max_connections: positive(parsed.max_connections, DEFAULT_MAX_CONNECTIONS, "max_connections")?,
            idle_timeout: Duration::from_secs(idle),
            pages_dir: parsed.pages_dir.map(|dir| check_pages_dir(&dir, file)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_loopback_addresses_are_accepted() {
        assert!(parse_listen("127.0.0.1:12342").is_ok());
        assert!(parse_listen("[::1]:0").is_ok());
        for refused in ["0.0.0.0:12342", "[::]:12342", "192.168.1.2:1", "127.0.0.2:12342"] {
            assert!(matches!(parse_listen(refused), Err(ConfigError::NotLoopback(_))), "{refused}");
        }
        assert!(matches!(parse_listen("localhost:1"), Err(ConfigError::BadListen(_))));
    }

    #[test]
    fn the_file_is_read_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("bridge.toml");
        std::fs::write(
            &path,
            "listen = \"[::1]:9\"\nallowed_origins = [\"https://Counter.example/\"]\nmax_message_bytes = 10\n\
             max_connections = 2\nidle_timeout_s = 3\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = Config::load(Some(&path), None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listen.to_string(), "[::1]:9");
        assert_eq!(config.allowed_origins, ["https://counter.example"]);
        assert_eq!((config.max_message_bytes, config.max_connections), (10, 2));
        assert_eq!(config.idle_timeout, Duration::from_secs(3));
        let config = Config::load(Some(&path), Some("session"), Some("127.0.0.1:7")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((config.bus.as_str(), config.listen.to_string().as_str()), ("session", "127.0.0.1:7"));
        std::fs::write(&path, "listen = \"0.0.0.0:1\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Config::load(Some(&path), None, None), Err(ConfigError::NotLoopback(_))));
        std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Config::load(Some(&path), None, None), Err(ConfigError::Read { .. })));
        // pages_dir: an existing directory, relative to the file's.
        std::fs::create_dir(dir.path().join("site")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, "pages_dir = \"site\"\n").unwrap_or_else(|e| panic!("{e}"));
        let config = Config::load(Some(&path), None, None).unwrap_or_else(|e| panic!("{e}"));
        let site = dir.path().join("site").canonicalize().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.pages_dir, Some(site));
        for missing in ["pages_dir = \"nowhere\"\n", "pages_dir = \"bridge.toml\"\n"] {
            std::fs::write(&path, missing).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(Config::load(Some(&path), None, None), Err(ConfigError::PagesDir { .. })), "{missing}");
        }
    }
}
