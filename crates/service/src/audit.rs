//! The audit trail: one structured event per method call, with who called,
//! what, on which reader and card, and how it ended. It names the card by
//! a salted hash only, and carries no name, SSN, PIN or photo.
//!
//! Under systemd the events reach the journal as lines of text; read them
//! with `journalctl -u sscardd.service -g 'sscard::audit'`.

use super::{CallReport, ErrorName};

/// The caller of a method, from the bus's connection credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    pub uid: Option<u32>,
    pub pid: Option<u32>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// `VerifyPin` answered a wrong PIN (not an error on the bus).
    WrongPin,
    /// The error the caller got.
    Failed(ErrorName),
}

impl Outcome {
    /// `success`, `WrongPin`, or the error's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::WrongPin => ErrorName::WrongPin.as_str(),
            Outcome::Failed(name) => name.as_str(),
        }
    }
}

pub(crate) struct Entry<'a> {
    pub caller: Caller,
    pub operation: &'a str,
    pub reader: &'a str,
    pub report: &'a CallReport,
    pub outcome: Outcome,
}

/// Emits the event, under the target `sscard::audit`.
pub(crate) fn record(entry: &Entry<'_>) {
    let uid = entry.caller.uid.map_or_else(|| "unknown".to_owned(), |u| u.to_string());
    let pid = entry.caller.pid.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
    tracing::info!(
        target: "sscard::audit",
        uid = %uid,
        pid = %pid,
        operation = entry.operation,
        reader = entry.reader,
        card = entry.report.card.as_deref().unwrap_or("none"),
        outcome = entry.outcome.as_str(),
        apdus = entry.report.apdus,
        "audit"
    );
}
