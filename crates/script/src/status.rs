//! A profile's status table: what an unexpected status word means, so a
//! script's author does not repeat it in every step.

use std::fmt;

use super::syntax::SwPattern;
use sscard_apdu::StatusWord;

/// The typed meaning of a status word the script did not expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// Wrong PIN; the tries left are in the status word.
    WrongPin {
        tries_left: u8,
    },
    /// The PIN is blocked.
    PinBlocked,
    SecurityNotSatisfied,
    /// A cryptogram or MAC was refused, or a key is blocked or missing.
    AuthenticationFailed,
    /// No challenge was pending.
    NoChallenge,
    ConditionsNotSatisfied,
    IncorrectData,
    NotFound,
    WrongLength,
    /// The write was not done.
    MemoryFailure,
    ApplicationBlocked,
    /// Anything the table does not name.
    CardError,
}

impl StatusClass {
    /// The name used in manifests.
    pub fn from_name(name: &str) -> Option<StatusClass> {
        Some(match name {
            "wrong-pin" => StatusClass::WrongPin { tries_left: 0 },
            "pin-blocked" => StatusClass::PinBlocked,
            "security-not-satisfied" => StatusClass::SecurityNotSatisfied,
            "authentication-failed" => StatusClass::AuthenticationFailed,
            "no-challenge" => StatusClass::NoChallenge,
            "conditions-not-satisfied" => StatusClass::ConditionsNotSatisfied,
            "incorrect-data" => StatusClass::IncorrectData,
            "not-found" => StatusClass::NotFound,
            "wrong-length" => StatusClass::WrongLength,
            "memory-failure" => StatusClass::MemoryFailure,
            "application-blocked" => StatusClass::ApplicationBlocked,
            "card-error" => StatusClass::CardError,
            _ => return None,
        })
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusClass::WrongPin { tries_left } => write!(f, "wrong PIN, {tries_left} tries left"),
            StatusClass::PinBlocked => f.write_str("PIN blocked"),
            StatusClass::SecurityNotSatisfied => f.write_str("security status not satisfied"),
            StatusClass::AuthenticationFailed => f.write_str("authentication failed"),
            StatusClass::NoChallenge => f.write_str("no challenge"),
            StatusClass::ConditionsNotSatisfied => f.write_str("conditions of use not satisfied"),
            StatusClass::IncorrectData => f.write_str("incorrect data"),
            StatusClass::NotFound => f.write_str("not found"),
            StatusClass::WrongLength => f.write_str("wrong length"),
            StatusClass::MemoryFailure => f.write_str("memory failure"),
            StatusClass::ApplicationBlocked => f.write_str("application blocked"),
            StatusClass::CardError => f.write_str("card error"),
        }
    }
}

/// Pattern rules, optionally limited to one INS, most specific first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusTable {
    rules: Vec<(Option<u8>, SwPattern, StatusClass)>,
}

impl StatusTable {
    /// Adds a rule from a manifest key: `63Cx`, or `82:6983` for one INS.
    pub fn add(&mut self, key: &str, class: StatusClass) -> Result<(), String> {
        let (ins, pattern) = match key.split_once(':') {
            Some((ins, pattern)) => {
                let ins = u8::from_str_radix(ins, 16).map_err(|_| format!("{key:?}: INS must be 2 hex digits"))?;
                (Some(ins), pattern)
            }
            None => (None, key),
        };
        let pattern = SwPattern::parse(pattern).ok_or_else(|| format!("{key:?}: not a status pattern such as 63Cx"))?;
        self.rules.push((ins, pattern, class));
        // Rules for one INS win over general ones.
        self.rules.sort_by_key(|(ins, _, _)| ins.is_none());
        Ok(())
    }

    pub fn classify(&self, ins: u8, sw: StatusWord) -> StatusClass {
        let raw = sw.to_u16();
        let found = self.rules.iter().find(|(i, p, _)| i.is_none_or(|i| i == ins) && p.matches(raw));
        match found.map(|(_, _, class)| *class) {
            Some(StatusClass::WrongPin { .. }) => StatusClass::WrongPin { tries_left: (raw & 0x0F) as u8 },
            Some(class) => class,
            None => StatusClass::CardError,
        }
    }
}
