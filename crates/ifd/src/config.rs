//! The driver's configuration: the file that reader.conf's DEVICENAME
//! names (docs/interfaces.md, "The virtual reader driver").
//!
//! ```text
//! control = /run/sscard-ifd/counter.sock   # keypad control socket (optional)
//! [slot 0]
//! port = 36864
//! pinpad = true
//! [slot 1]                                 # the SAM slot (optional)
//! port = 36865
//! ```

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("line {line}: {why}")]
    Syntax { line: usize, why: String },
    #[error("{0}")]
    Invalid(String),
}

/// What a pad answers when a PIN's length is outside wPINMaxExtraDigit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthError {
    /// `64 03`, as SCM pads answer.
    Scm,
    /// `6B 80`, as other pads answer.
    WrongParameters,
}

impl LengthError {
    pub fn status(self) -> [u8; 2] {
        match self {
            LengthError::Scm => [0x64, 0x03],
            LengthError::WrongParameters => [0x6B, 0x80],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotConfig {
    /// The TCP port the slot listens on for the simulator.
    pub port: u16,
    /// Short APDUs only: extended ones are refused, dwMaxAPDUDataSize = 0.
    pub short: bool,
    pub pinpad: bool,
    pub length_error: LengthError,
    /// bMinPINSize and bMaxPINSize in GET_TLV_PROPERTIES.
    pub min_pin: u8,
    pub max_pin: u8,
}

impl SlotConfig {
    pub fn new(port: u16) -> SlotConfig {
        SlotConfig { port, short: false, pinpad: false, length_error: LengthError::Scm, min_pin: 4, max_pin: 12 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The address the slots listen on.
    pub listen: String,
    pub control: Option<PathBuf>,
    /// Seconds a pad waits for keys when bTimerOut is 0.
    pub pad_timeout: u8,
    pub vendor: u16,
    pub product: u16,
    pub slots: Vec<SlotConfig>,
}

impl Config {
    /// A reader.conf entry without DEVICENAME: one plain slot on `port`.
    pub fn single(port: u16) -> Config {
        Config {
            listen: "127.0.0.1".to_owned(),
            control: None,
            pad_timeout: 30,
            vendor: 0,
            product: 0,
            slots: vec![SlotConfig::new(port)],
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Config::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::single(0);
        config.slots.clear();
        // The slot that keys go to: None before the first [slot N].
        let mut current: Option<usize> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let syntax = |why: String| ConfigError::Syntax { line, why };
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            if let Some(section) = content.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                let index = section
                    .trim()
                    .strip_prefix("slot")
                    .and_then(|s| s.trim().parse::<usize>().ok())
                    .ok_or_else(|| syntax(format!("unknown section [{section}]")))?;
                if index != config.slots.len() || index > 1 {
                    return Err(syntax("slots are [slot 0] then [slot 1]".to_owned()));
                }
                config.slots.push(SlotConfig::new(0));
                current = Some(index);
                continue;
            }
            let (key, value) =
                content.split_once('=').ok_or_else(|| syntax(format!("expected key = value: {content}")))?;
            let (key, value) = (key.trim(), value.trim());
            let number = |max: u32| -> Result<u32, ConfigError> {
                let parsed = match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => value.parse::<u32>(),
                };
                parsed
                    .ok()
                    .filter(|v| *v <= max)
                    .ok_or_else(|| syntax(format!("{key}: {value} is not a number up to {max}")))
            };
            let boolean = || match value {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(syntax(format!("{key}: {value} is not true or false"))),
            };
            match (current, key) {
                (None, "listen") => config.listen = value.to_owned(),
                (None, "control") => config.control = Some(PathBuf::from(value)),
                (None, "pad_timeout") => config.pad_timeout = number(255)? as u8,
                (None, "vendor") => config.vendor = number(0xFFFF)? as u16,
                (None, "product") => config.product = number(0xFFFF)? as u16,
                (Some(i), _) => {
                    let slot = &mut config.slots[i];
                    match key {
                        "port" => slot.port = number(0xFFFF)? as u16,
                        "short" => slot.short = boolean()?,
                        "pinpad" => slot.pinpad = boolean()?,
                        "min_pin" => slot.min_pin = number(255)? as u8,
                        "max_pin" => slot.max_pin = number(255)? as u8,
                        "length_error" => {
                            slot.length_error = match value {
                                "6403" | "64 03" => LengthError::Scm,
                                "6B80" | "6b80" | "6B 80" => LengthError::WrongParameters,
                                _ => return Err(syntax(format!("length_error: {value} is not 6403 or 6B80"))),
                            }
                        }
                        _ => return Err(syntax(format!("unknown slot key {key}"))),
                    }
                }
                (None, _) => return Err(syntax(format!("unknown key {key} (slot keys go under [slot N])"))),
            }
        }
        if config.slots.is_empty() {
            return Err(ConfigError::Invalid("no [slot 0]".to_owned()));
        }
        if let Some(i) = config.slots.iter().position(|s| s.port == 0) {
            return Err(ConfigError::Invalid(format!("[slot {i}] has no port")));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_slots_with_their_settings() {
        let config = Config::parse(
            "control = /tmp/x.sock # keypad\nvendor = 0x257B\n[slot 0]\nport = 0x9000\nshort = true\n\
             pinpad = yes\nlength_error = 6B80\n[slot 1]\nport = 36865\n",
        )
        .unwrap();
        assert_eq!(config.control.as_deref(), Some(Path::new("/tmp/x.sock")));
        assert_eq!(config.vendor, 0x257B);
        assert_eq!(config.slots.len(), 2);
        assert!(config.slots[0].short && config.slots[0].pinpad);
        assert_eq!(config.slots[0].length_error, LengthError::WrongParameters);
        assert_eq!(config.slots[1], SlotConfig::new(36865));
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        assert!(matches!(Config::parse("[slot 0]\nport = 1\nbogus = 1\n"), Err(ConfigError::Syntax { line: 3, .. })));
        assert!(matches!(Config::parse("[slot 1]\nport = 1\n"), Err(ConfigError::Syntax { line: 1, .. })));
        assert!(Config::parse("[slot 0]\n").is_err());
        assert!(Config::parse("listen = 127.0.0.1\n").is_err());
        assert!(Config::parse("[slot 0]\nport = 70000\n").is_err());
        assert!(Config::parse("[slot 0]\nport = 1\n[slot 1]\nport = 2\n[slot 2]\nport = 3\n").is_err());
    }
}
