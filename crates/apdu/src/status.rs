//! Status words, typed once at the edge (docs/card-profile.md section 5) and
//! matched everywhere else.

use std::fmt;

/// Every status word the SSSE profile gives a meaning to, plus `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusWord {
    /// 9000
    Success,
    /// 61xx: T=0, xx bytes wait for GET RESPONSE (xx 00 means 256).
    BytesAvailable(u8),
    /// 6283: the selected application is deactivated (some real cards).
    ApplicationDeactivated,
    /// 6300: authentication failed, wrong cryptogram.
    AuthenticationFailed,
    /// 63Cx: wrong PIN, x tries left.
    WrongPin { tries_left: u8 },
    /// 6581: memory failure, the write was not done.
    MemoryFailure,
    /// 6700
    WrongLength,
    /// 6982
    SecurityStatusNotSatisfied,
    /// 6983: the PIN or key is blocked.
    AuthenticationMethodBlocked,
    /// 6984: referenced data invalid, here: no challenge.
    ReferencedDataInvalid,
    /// 6985
    ConditionsOfUseNotSatisfied,
    /// 6986: command not allowed, no current EF.
    CommandNotAllowed,
    /// 6988: secure messaging data (MAC) wrong.
    SecureMessagingDataWrong,
    /// 6A80
    IncorrectData,
    /// 6A82
    FileNotFound,
    /// 6A83
    RecordNotFound,
    /// 6A86
    WrongP1P2,
    /// 6A88: referenced key not found.
    KeyNotFound,
    /// 6B00: offset outside the file.
    WrongOffset,
    /// 6Cxx: wrong Le, xx is right (00 means 256).
    WrongLe(u8),
    /// 6D00
    InstructionNotSupported,
    /// 9303: application permanently blocked.
    ApplicationPermanentlyBlocked,
    /// Any status word the profile does not define.
    Other(u16),
}

impl StatusWord {
    pub fn from_u16(sw: u16) -> StatusWord {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => StatusWord::Success,
            (0x61, n) => StatusWord::BytesAvailable(n),
            (0x62, 0x83) => StatusWord::ApplicationDeactivated,
            (0x63, 0x00) => StatusWord::AuthenticationFailed,
            (0x63, n) if n & 0xF0 == 0xC0 => StatusWord::WrongPin { tries_left: n & 0x0F },
            (0x65, 0x81) => StatusWord::MemoryFailure,
            (0x67, 0x00) => StatusWord::WrongLength,
            (0x69, 0x82) => StatusWord::SecurityStatusNotSatisfied,
            (0x69, 0x83) => StatusWord::AuthenticationMethodBlocked,
            (0x69, 0x84) => StatusWord::ReferencedDataInvalid,
            (0x69, 0x85) => StatusWord::ConditionsOfUseNotSatisfied,
            (0x69, 0x86) => StatusWord::CommandNotAllowed,
            (0x69, 0x88) => StatusWord::SecureMessagingDataWrong,
            (0x6A, 0x80) => StatusWord::IncorrectData,
            (0x6A, 0x82) => StatusWord::FileNotFound,
            (0x6A, 0x83) => StatusWord::RecordNotFound,
            (0x6A, 0x86) => StatusWord::WrongP1P2,
            (0x6A, 0x88) => StatusWord::KeyNotFound,
            (0x6B, 0x00) => StatusWord::WrongOffset,
            (0x6C, n) => StatusWord::WrongLe(n),
            (0x6D, 0x00) => StatusWord::InstructionNotSupported,
            (0x93, 0x03) => StatusWord::ApplicationPermanentlyBlocked,
            _ => StatusWord::Other(sw),
        }
    }

    pub fn from_bytes(sw1: u8, sw2: u8) -> StatusWord {
        StatusWord::from_u16(u16::from_be_bytes([sw1, sw2]))
    }

    pub fn to_u16(self) -> u16 {
        match self {
            StatusWord::Success => 0x9000,
            StatusWord::BytesAvailable(n) => 0x6100 | n as u16,
            StatusWord::ApplicationDeactivated => 0x6283,
            StatusWord::AuthenticationFailed => 0x6300,
            StatusWord::WrongPin { tries_left } => 0x63C0 | (tries_left & 0x0F) as u16,
            StatusWord::MemoryFailure => 0x6581,
            StatusWord::WrongLength => 0x6700,
            StatusWord::SecurityStatusNotSatisfied => 0x6982,
            StatusWord::AuthenticationMethodBlocked => 0x6983,
            StatusWord::ReferencedDataInvalid => 0x6984,
            StatusWord::ConditionsOfUseNotSatisfied => 0x6985,
            StatusWord::CommandNotAllowed => 0x6986,
            StatusWord::SecureMessagingDataWrong => 0x6988,
            StatusWord::IncorrectData => 0x6A80,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::RecordNotFound => 0x6A83,
            StatusWord::WrongP1P2 => 0x6A86,
            StatusWord::KeyNotFound => 0x6A88,
            StatusWord::WrongOffset => 0x6B00,
            StatusWord::WrongLe(n) => 0x6C00 | n as u16,
            StatusWord::InstructionNotSupported => 0x6D00,
            StatusWord::ApplicationPermanentlyBlocked => 0x9303,
            StatusWord::Other(sw) => sw,
        }
    }

    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// 9000.
    pub fn is_success(self) -> bool {
        matches!(self, StatusWord::Success)
    }

    /// 9000, or 6283 with which some cards answer SELECT of a deactivated
    /// application; terminals treat both as a successful SELECT.
    pub fn is_select_success(self) -> bool {
        matches!(self, StatusWord::Success | StatusWord::ApplicationDeactivated)
    }

    /// What the status word means, for one-line error messages.
    pub fn meaning(self) -> &'static str {
        match self {
            StatusWord::Success => "success",
            StatusWord::BytesAvailable(_) => "response bytes waiting (T=0)",
            StatusWord::ApplicationDeactivated => "selected application deactivated",
            StatusWord::AuthenticationFailed => "authentication failed: wrong cryptogram",
            StatusWord::WrongPin { .. } => "wrong PIN",
            StatusWord::MemoryFailure => "memory failure: the write was not done",
            StatusWord::WrongLength => "wrong length",
            StatusWord::SecurityStatusNotSatisfied => "security status not satisfied",
            StatusWord::AuthenticationMethodBlocked => "authentication method blocked",
            StatusWord::ReferencedDataInvalid => "referenced data invalid: no challenge",
            StatusWord::ConditionsOfUseNotSatisfied => "conditions of use not satisfied",
            StatusWord::CommandNotAllowed => "command not allowed: no current EF",
            StatusWord::SecureMessagingDataWrong => "MAC wrong",
            StatusWord::IncorrectData => "incorrect data",
            StatusWord::FileNotFound => "file or application not found",
            StatusWord::RecordNotFound => "record not found",
            StatusWord::WrongP1P2 => "wrong P1/P2",
            StatusWord::KeyNotFound => "referenced key not found",
            StatusWord::WrongOffset => "offset outside the file",
            StatusWord::WrongLe(_) => "wrong Le",
            StatusWord::InstructionNotSupported => "instruction not supported",
            StatusWord::ApplicationPermanentlyBlocked => "application permanently blocked",
            StatusWord::Other(_) => "undefined status",
        }
    }
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> Self {
        StatusWord::from_u16(sw)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.to_u16(), self.meaning())
    }
}

#[cfg(test)]
#[path = "tests/status.rs"]
mod tests;
