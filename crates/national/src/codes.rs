//! The national interface's return codes (from the contract,
//! [`sscard_contract::national`]) and a failed call as the interface
//! reports it: its code and a one-line detail.

use sscard_contract::ErrorDetails;
pub use sscard_contract::national::{Code, status_word_meaning};

use sscard_client::{CallError, CallErrorKind};

/// A failed call: its code and a one-line message for a person, in
/// Chinese, with the detail that names what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalError {
    pub code: Code,
    /// What the interface's message leaves open: the field and the rule,
    /// the daemon's own words, which program is missing.
    pub detail: String,
    /// The daemon's details, when the daemon answered (for
    /// [`NationalError::for_read`]).
    details: ErrorDetails,
}

impl NationalError {
    pub fn new(code: Code) -> NationalError {
        NationalError::with(code, String::new())
    }

    pub fn with(code: Code, detail: impl Into<String>) -> NationalError {
        NationalError { code, detail: detail.into(), details: ErrorDetails::default() }
    }

    /// Whether the daemon's error broke `rule` (its details' `rule`).
    pub(crate) fn broke(&self, rule: &str) -> bool {
        self.details.rule_is(rule)
    }

    /// `pOutInfo` on failure: the code's message, then the detail.
    pub fn message(&self) -> String {
        let base = self.code.message();
        // One line: no control character of the caller's input survives.
        let detail: String = self.detail.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
        if detail.is_empty() { base } else { format!("{base}：{detail}") }
    }

    /// The code of a failed D-Bus call: a daemon's error by its name and
    /// details alone ([`Code::of_error`]), the message kept as the detail;
    /// any failure to reach the daemon is -11.
    pub fn of_call(e: &CallError) -> NationalError {
        match e.kind {
            CallErrorKind::Daemon(Some(name)) => NationalError {
                code: Code::of_error(name, &e.details),
                detail: e.message.clone(),
                details: e.details.clone(),
            },
            // A name this library does not know: the daemon is newer.
            CallErrorKind::Daemon(None) => NationalError::with(Code::ReaderConnection, e.to_string()),
            CallErrorKind::NotRunning => NationalError::with(Code::ReaderConnection, "sscardd is not running"),
            CallErrorKind::Denied => {
                NationalError::with(Code::ReaderConnection, format!("access denied: {}", e.message))
            }
            CallErrorKind::Lost | CallErrorKind::Bus => NationalError::with(Code::ReaderConnection, e.to_string()),
        }
    }

    /// For the read functions (`iReadCardBas`, `iReadCard`): the PSAM's
    /// 6A88 is the missing read key, -2203 ([`Code::for_read`]).
    pub fn for_read(self) -> NationalError {
        NationalError { code: self.code.for_read(&self.details), ..self }
    }
}

impl From<zbus::Error> for NationalError {
    fn from(e: zbus::Error) -> NationalError {
        NationalError::of_call(&CallError::from(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_one_line() {
        assert_eq!(NationalError::with(Code::InvalidData, "ssn: bad").message(), "传入数据不合法：ssn: bad");
        assert_eq!(NationalError::with(Code::BadArgument, "a\rb\nc").message(), "命令参数错：a b c");
        assert_eq!(NationalError::new(Code::NoPsam).message(), "无PSAM卡");
    }
}
