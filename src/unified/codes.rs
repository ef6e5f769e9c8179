//! The national interface's return codes and their messages
//! (`docs/unified-interface.md` section 6), and the mapping from the
//! daemon's errors to them.

use crate::model::Rule;
use crate::service::ErrorName;

/// A return code of the national interface, other than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// -1: the card type, or `iType` 2 (contactless).
    WrongCardType,
    /// -2: no card.
    NoCard,
    /// -4: the card did not answer in time.
    NoAnswer,
    /// -11: the reader (here: the daemon) cannot be reached, or refuses.
    ReaderConnection,
    /// -13: a function the profile has no application for.
    Unsupported,
    /// -14: a malformed argument, or a result larger than the buffer.
    BadArgument,
    /// -20: a card identifier that is not 32 hex digits.
    CardIdFormat,
    /// -21: INTERNAL AUTHENTICATE did not match.
    InternalAuthFailed,
    /// -22: the data given is not the card's.
    Mismatch,
    /// -23: data the rules refuse.
    InvalidData,
    /// -31: the PIN prompt was cancelled.
    PinCancelled,
    /// -32: the PIN prompt timed out.
    PinTimeout,
    /// -33: a PIN of the wrong length.
    PinLength,
    /// -34: the two entries of a new PIN differ.
    PinEntriesDiffer,
    /// -36: a new PIN equal to the initial one.
    InitialPin,
    /// -51: a wrong PIN, with the tries left.
    WrongPin { tries_left: u32 },
    /// -52: the PIN is blocked.
    PinBlocked,
    /// -2201: no PSAM.
    NoPsam,
    /// -2203: the PSAM has no read key.
    NoReadKey,
    /// −(SW1·256+SW2): a status word the card or PSAM answered.
    StatusWord(u16),
}

impl Code {
    /// The value a function returns.
    pub fn value(self) -> i32 {
        match self {
            Code::WrongCardType => -1,
            Code::NoCard => -2,
            Code::NoAnswer => -4,
            Code::ReaderConnection => -11,
            Code::Unsupported => -13,
            Code::BadArgument => -14,
            Code::CardIdFormat => -20,
            Code::InternalAuthFailed => -21,
            Code::Mismatch => -22,
            Code::InvalidData => -23,
            Code::PinCancelled => -31,
            Code::PinTimeout => -32,
            Code::PinLength => -33,
            Code::PinEntriesDiffer => -34,
            Code::InitialPin => -36,
            Code::WrongPin { .. } => -51,
            Code::PinBlocked => -52,
            Code::NoPsam => -2201,
            Code::NoReadKey => -2203,
            Code::StatusWord(sw) => -i32::from(sw),
        }
    }

    /// The message the interface gives the code, in Chinese.
    pub fn message(self) -> String {
        match self {
            Code::WrongCardType => "卡类型不对".into(),
            Code::NoCard => "无卡".into(),
            Code::NoAnswer => "卡无应答".into(),
            Code::ReaderConnection => "读卡器连接错".into(),
            Code::Unsupported => "不支持该命令".into(),
            Code::BadArgument => "命令参数错".into(),
            Code::CardIdFormat => "卡识别码格式错".into(),
            Code::InternalAuthFailed => "内部认证失败".into(),
            Code::Mismatch => "传入数据与卡内不符".into(),
            Code::InvalidData => "传入数据不合法".into(),
            Code::PinCancelled => "密码输入已取消".into(),
            Code::PinTimeout => "密码输入超时".into(),
            Code::PinLength => "密码长度错误".into(),
            Code::PinEntriesDiffer => "两次输入的密码不一致".into(),
            Code::InitialPin => "不能改为初始密码".into(),
            Code::WrongPin { tries_left } => format!("PIN校验失败，剩余次数{tries_left}次"),
            Code::PinBlocked => "PIN锁定".into(),
            Code::NoPsam => "无PSAM卡".into(),
            Code::NoReadKey => "PSAM卡内没有RKSSSE密钥".into(),
            Code::StatusWord(sw) => format!("卡片返回{sw:04X}：{}", status_word_meaning(sw)),
        }
    }
}

/// What a status word means, in Chinese (`card-profile.md` section 5).
fn status_word_meaning(sw: u16) -> &'static str {
    match sw {
        0x6300 => "认证失败",
        0x6581 => "存储器故障",
        0x6700 => "长度错误",
        0x6982 => "安全状态不满足",
        0x6983 => "认证方法锁定",
        0x6984 => "引用数据无效",
        0x6985 => "使用条件不满足",
        0x6986 => "命令不允许",
        0x6988 => "安全报文数据错误",
        0x6A80 => "数据参数错误",
        0x6A82 => "文件或应用未找到",
        0x6A83 => "记录未找到",
        0x6A86 => "参数P1P2错误",
        0x6A88 => "引用数据未找到",
        0x6B00 => "偏移量超出文件",
        0x6D00 => "指令不支持",
        0x9303 => "应用永久锁定",
        _ => "未知状态",
    }
}

/// A failed call: its code and a one-line message for a person, in
/// Chinese, with the detail that names what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    /// What the interface's message leaves open: the field and the rule,
    /// the daemon's own words, which program is missing.
    pub detail: String,
}

impl Failure {
    pub fn new(code: Code) -> Failure {
        Failure { code, detail: String::new() }
    }

    pub fn with(code: Code, detail: impl Into<String>) -> Failure {
        Failure { code, detail: detail.into() }
    }

    /// `pOutInfo` on failure: the code's message, then the detail.
    pub fn message(&self) -> String {
        let base = self.code.message();
        // One line: no control character of the caller's input survives.
        let detail: String = self.detail.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
        if detail.is_empty() { base } else { format!("{base}：{detail}") }
    }

    /// The code for a daemon error: its name, message and, when a card
    /// answered, the status word (the error's second argument).
    pub fn from_daemon(name: Option<ErrorName>, message: &str, status_word: Option<u16>) -> Failure {
        let detail = message.to_owned();
        let Some(name) = name else {
            return Failure::with(Code::ReaderConnection, detail);
        };
        let code = match name {
            ErrorName::NotSupported => Code::WrongCardType,
            // The card left, or another program reset it under the call: the
            // caller starts again as with no card.
            ErrorName::NoCard | ErrorName::CardRemoved | ErrorName::CardReset => Code::NoCard,
            ErrorName::Timeout => Code::NoAnswer,
            ErrorName::ServiceUnavailable | ErrorName::NotAuthorized | ErrorName::Cancelled => Code::ReaderConnection,
            ErrorName::InvalidArgument if message.contains(Rule::PIN_IS_INITIAL) => Code::InitialPin,
            ErrorName::InvalidArgument if message.contains("new_pin: must be") && message.contains("digits long") => {
                Code::PinLength
            }
            // An HSM step's field of the wrong length or form: a malformed `pKey`.
            ErrorName::InvalidArgument if message.contains(crate::ops::STEP_MALFORMED) => Code::BadArgument,
            ErrorName::InvalidArgument => Code::InvalidData,
            ErrorName::HolderMismatch | ErrorName::NotIssued => Code::Mismatch,
            ErrorName::NotAuthentic => Code::InternalAuthFailed,
            // The try that used up the counter blocked the PIN.
            ErrorName::WrongPin => match tries_in(message) {
                Some(0) | None => Code::PinBlocked,
                Some(n) => Code::WrongPin { tries_left: n },
            },
            ErrorName::PinBlocked => Code::PinBlocked,
            ErrorName::NoSam => Code::NoPsam,
            // -2203 (no read key) is the read functions' to give: they know
            // the PSAM's INIT for the read key is what answered 6A88.
            ErrorName::AuthenticationFailed => match status_word {
                Some(sw) => Code::StatusWord(sw),
                None => Code::InternalAuthFailed,
            },
            ErrorName::CardError => match status_word {
                Some(sw) => Code::StatusWord(sw),
                // A read-back that differs: the data did not take.
                None => Code::InvalidData,
            },
            // The library verifies on the last try, as the holder types
            // knowing the tries left; an activated card is no input error.
            ErrorName::LastTry | ErrorName::AlreadyActive => Code::Unsupported,
            ErrorName::Ambiguous | ErrorName::Internal => Code::BadArgument,
        };
        Failure::with(code, detail)
    }
}

impl Failure {
    /// For the read functions (`iReadCardBas`, `iReadCard`): the PSAM's
    /// 6A88 to INIT is the missing read key (-2203), which the HSM
    /// fallback of section 6 waits for; the card's own 6A88 stays -27272.
    pub fn for_read(self) -> Failure {
        let psam_6a88 = self.code == Code::StatusWord(0x6A88) && self.detail.contains("sam answered 6A88");
        if psam_6a88 { Failure { code: Code::NoReadKey, ..self } } else { self }
    }
}

/// "…, N tries left" in the daemon's `WrongPin` message.
fn tries_in(message: &str) -> Option<u32> {
    let before = message.split(" tries left").next()?;
    let before = before.split(" try left").next()?;
    before.rsplit(|c: char| !c.is_ascii_digit()).find(|w| !w.is_empty())?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_values_and_messages() {
        assert_eq!(Code::StatusWord(0x6982).value(), -27010);
        assert_eq!(Code::NoPsam.value(), -2201);
        assert_eq!(Code::WrongPin { tries_left: 2 }.message(), "PIN校验失败，剩余次数2次");
        assert_eq!(Failure::with(Code::InvalidData, "ssn: bad").message(), "传入数据不合法：ssn: bad");
        assert_eq!(Failure::with(Code::BadArgument, "a\rb\nc").message(), "命令参数错：a b c");
    }

    /// What a read function makes of its failure: the PSAM's 6A88 to INIT
    /// is the missing read key.
    #[test]
    fn only_a_reads_psam_6a88_is_the_missing_read_key() {
        let e = Failure::from_daemon(
            Some(ErrorName::AuthenticationFailed),
            "ReadCard: authentication failed at auth.apdu:6:1: sam answered 6A88",
            Some(0x6A88),
        );
        assert_eq!(e.code, Code::StatusWord(0x6A88));
        assert_eq!(e.clone().for_read().code, Code::NoReadKey);
        let card = Failure::from_daemon(
            Some(ErrorName::AuthenticationFailed),
            "ReadCard: authentication failed at auth.apdu:7:1: card answered 6A88",
            Some(0x6A88),
        );
        assert_eq!(card.for_read().code.value(), -27272);
    }

    #[test]
    fn daemon_errors_map_to_codes() {
        let f = |n, m: &str, sw| Failure::from_daemon(Some(n), m, sw).code;
        assert_eq!(
            f(ErrorName::WrongPin, "ChangePin: wrong PIN, 2 tries left", None),
            Code::WrongPin { tries_left: 2 }
        );
        assert_eq!(f(ErrorName::NoSam, "x", None), Code::NoPsam);
        assert_eq!(f(ErrorName::WrongPin, "ChangePin: wrong PIN, 0 tries left", None), Code::PinBlocked);
        assert_eq!(
            f(ErrorName::InvalidArgument, "ChangePin: invalid argument: new_pin: must be 6 digits long", None),
            Code::PinLength
        );
        assert_eq!(f(ErrorName::CardError, "x", Some(0x6581)), Code::StatusWord(0x6581));
        assert_eq!(f(ErrorName::InvalidArgument, "new_pin: must differ from the initial PIN", None), Code::InitialPin);
        assert_eq!(Failure::from_daemon(None, "no daemon", None).code.value(), -11);
        // HSM steps: the daemon's refusals before any APDU.
        assert_eq!(f(ErrorName::NotAuthentic, "Continue: the back end's result differs", None).value(), -21);
        assert_eq!(f(ErrorName::NotIssued, "Continue: not the one issued", None).value(), -22);
        let malformed = format!("Continue: invalid argument: {} (hsm-read.apdu:12:1)", crate::ops::STEP_MALFORMED);
        assert_eq!(f(ErrorName::InvalidArgument, &malformed, None).value(), -14);
    }
}
