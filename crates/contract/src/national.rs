//! The national terminal interface's vocabulary that does not depend on
//! the text formats (`docs/unified-interface.md` sections 1 and 6): its
//! return codes and their messages, the mapping from the daemon's errors
//! to them, and the table of its functions.

use crate::error::{ErrorDetails, ErrorName, Slot};
use crate::keys;
use crate::rule;

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

    /// The code of a daemon's error, from its name and details alone: the
    /// message is for people and may be reworded.
    pub fn of_error(name: ErrorName, details: &ErrorDetails) -> Code {
        match name {
            ErrorName::NotSupported => Code::WrongCardType,
            // The card left, or another program reset it under the call: the
            // caller starts again as with no card.
            ErrorName::NoCard | ErrorName::CardRemoved | ErrorName::CardReset => Code::NoCard,
            ErrorName::Timeout => Code::NoAnswer,
            ErrorName::ServiceUnavailable | ErrorName::NotAuthorized | ErrorName::Cancelled => Code::ReaderConnection,
            ErrorName::InvalidArgument if details.rule_is(rule::PIN_IS_INITIAL) => Code::InitialPin,
            // A keypad's new PIN and its confirmation differ.
            ErrorName::InvalidArgument if details.rule_is(rule::PIN_CONFIRMATION_DIFFERS) => Code::PinEntriesDiffer,
            ErrorName::InvalidArgument if details.rule_is(rule::PIN_LENGTH) && details.field_is(keys::NEW_PIN) => {
                Code::PinLength
            }
            // An HSM step's value of the wrong length or form: a malformed `pKey`.
            ErrorName::InvalidArgument if details.rule_is(rule::MALFORMED) => Code::BadArgument,
            ErrorName::InvalidArgument => Code::InvalidData,
            ErrorName::HolderMismatch | ErrorName::NotIssued => Code::Mismatch,
            ErrorName::NotAuthentic => Code::InternalAuthFailed,
            // The try that used up the counter blocked the PIN.
            ErrorName::WrongPin => match details.tries_left {
                Some(0) | None => Code::PinBlocked,
                Some(n) => Code::WrongPin { tries_left: n },
            },
            ErrorName::PinBlocked => Code::PinBlocked,
            ErrorName::NoSam => Code::NoPsam,
            // -2203 (no read key) is the read functions' to give
            // ([`Code::for_read`]).
            ErrorName::AuthenticationFailed => match details.sw {
                Some(sw) => Code::StatusWord(sw),
                None => Code::InternalAuthFailed,
            },
            ErrorName::CardError => match details.sw {
                Some(sw) => Code::StatusWord(sw),
                // A read-back that differs: the data did not take.
                None => Code::InvalidData,
            },
            // The library verifies on the last try, as the holder types
            // knowing the tries left; an activated card is no input error.
            ErrorName::LastTry | ErrorName::AlreadyActive => Code::Unsupported,
            ErrorName::Ambiguous | ErrorName::Internal => Code::BadArgument,
            ErrorName::PinEntryCancelled => Code::PinCancelled,
            // The library asks for the keypad only where the reader has one.
            ErrorName::NoPinPad => Code::Unsupported,
        }
    }

    /// The code a read function (`iReadCardBas`, `iReadCard`) gives: the
    /// PSAM's 6A88 (to the INIT for the read key) is the missing read key,
    /// -2203, which section 6's HSM fallback waits for; the card's own 6A88
    /// stays -27272.
    pub fn for_read(self, details: &ErrorDetails) -> Code {
        match self {
            Code::StatusWord(0x6A88) if details.slot == Some(Slot::Sam) => Code::NoReadKey,
            other => other,
        }
    }
}

/// What a status word means, in Chinese (`card-profile.md` section 5).
pub fn status_word_meaning(sw: u16) -> &'static str {
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

/// `pOutInfo`'s size for most functions (section 1).
pub const OUT_SIZE: usize = 1024;
/// `pOutInfo`'s size for the generic reads, which may carry the photo.
pub const READ_OUT_SIZE: usize = 20 * 1024;

/// An argument of a national function, besides `pOutInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// `iType` (int): 1, 3 or 4 (the contact card).
    Type,
    /// `iAuthType` (int): 1 or 2.
    AuthType,
    /// `pCardInfo` (text).
    CardInfo,
    /// `pFileAddr` (text).
    FileAddr,
    /// `pWriteData` (text).
    WriteData,
    /// `pKey` (text): an HSM step's back-end answer.
    Key,
}

impl Arg {
    /// Its name in the interface, as the C header and the dialect spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Arg::Type => "iType",
            Arg::AuthType => "iAuthType",
            Arg::CardInfo => "pCardInfo",
            Arg::FileAddr => "pFileAddr",
            Arg::WriteData => "pWriteData",
            Arg::Key => "pKey",
        }
    }

    /// Whether it is a number (`int`) rather than text.
    pub const fn is_int(self) -> bool {
        matches!(self, Arg::Type | Arg::AuthType)
    }
}

/// The PINs a function asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pins {
    None,
    /// The holder's PIN.
    Current,
    /// A new PIN, entered twice.
    New,
    /// The old PIN, then a new one twice.
    CurrentAndNew,
}

/// One function of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    pub name: &'static str,
    pub args: &'static [Arg],
    pub pins: Pins,
    /// `pOutInfo`'s size.
    pub out_size: usize,
}

const fn function(name: &'static str, args: &'static [Arg], pins: Pins, out_size: usize) -> Function {
    Function { name, args, pins, out_size }
}

use Arg::{AuthType, CardInfo, FileAddr, Key, Type, WriteData};

/// The functions sscard implements (sections 2 to 5 and 7).
pub const FUNCTIONS: &[Function] = &[
    function("iReadCardBas", &[Type], Pins::None, OUT_SIZE),
    function("iReadCard", &[Type, AuthType, CardInfo, FileAddr], Pins::None, READ_OUT_SIZE),
    function("iWriteCard", &[Type, CardInfo, FileAddr, WriteData], Pins::None, OUT_SIZE),
    function("iVerifyPIN", &[Type], Pins::Current, OUT_SIZE),
    function("iChangePIN", &[Type], Pins::CurrentAndNew, OUT_SIZE),
    function("iReloadPIN", &[Type, CardInfo], Pins::New, OUT_SIZE),
    function("iUnblockPIN", &[Type, CardInfo], Pins::None, OUT_SIZE),
    function("iReadCardBas_HSM_Step1", &[Type], Pins::None, OUT_SIZE),
    function("iReadCardBas_HSM_Step2", &[Key], Pins::None, OUT_SIZE),
    function("iReadCard_HSM_Step1", &[Type, CardInfo, FileAddr], Pins::None, OUT_SIZE),
    function("iReadCard_HSM_Step2", &[Key], Pins::None, READ_OUT_SIZE),
    function("iWriteCard_HSM_Step1", &[Type, CardInfo, FileAddr], Pins::None, OUT_SIZE),
    function("iWriteCard_HSM_Step2", &[Key, WriteData], Pins::None, OUT_SIZE),
    function("iReloadPIN_HSM_Step1", &[Type, CardInfo], Pins::None, OUT_SIZE),
    function("iReloadPIN_HSM_Step2", &[Key], Pins::New, OUT_SIZE),
    function("iReloadPIN_HSM_Step3", &[Key], Pins::None, OUT_SIZE),
    function("iUnblockPIN_HSM_Step1", &[Type, CardInfo], Pins::None, OUT_SIZE),
    function("iUnblockPIN_HSM_Step2", &[Key], Pins::None, OUT_SIZE),
    function("iUnblockPIN_HSM_Step3", &[Key], Pins::None, OUT_SIZE),
];

/// The debit functions: the profile has no debit application, so each
/// answers -13 and writes nothing.
pub const DEBIT_FUNCTIONS: [&str; 4] = ["iDoDebit", "iReadDebitRecord", "iDoDebit_HSM_Step1", "iDoDebit_HSM_Step2"];

impl Function {
    /// The function named so.
    pub fn find(name: &str) -> Option<&'static Function> {
        FUNCTIONS.iter().find(|f| f.name == name)
    }

    /// The steps that follow an HSM Step1, in order (none for any other
    /// function): the session Step1 begins is theirs.
    pub fn later_steps(&self) -> impl Iterator<Item = &'static Function> {
        let family = self.name.strip_suffix("Step1");
        FUNCTIONS.iter().filter(move |f| {
            family.is_some_and(|family| f.name.strip_prefix(family).is_some_and(|step| step != "Step1"))
        })
    }
}

/// Whether `name` is a function of the interface the profile has no
/// application for (debit, certificates): -13.
pub fn unavailable(name: &str) -> bool {
    name.contains("Debit") || name.starts_with("PKI_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_values_and_messages() {
        assert_eq!(Code::StatusWord(0x6982).value(), -27010);
        assert_eq!(Code::NoPsam.value(), -2201);
        assert_eq!(Code::WrongPin { tries_left: 2 }.message(), "PIN校验失败，剩余次数2次");
        assert_eq!(Code::StatusWord(0x6A88).message(), "卡片返回6A88：引用数据未找到");
    }

    #[test]
    fn errors_map_by_name_and_details() {
        let none = ErrorDetails::default();
        let code = |name, details: &ErrorDetails| Code::of_error(name, details);
        let tries = |n| ErrorDetails { tries_left: Some(n), ..ErrorDetails::default() };
        assert_eq!(code(ErrorName::WrongPin, &tries(2)), Code::WrongPin { tries_left: 2 });
        assert_eq!(code(ErrorName::WrongPin, &tries(0)), Code::PinBlocked);
        assert_eq!(code(ErrorName::NoSam, &none), Code::NoPsam);
        assert_eq!(
            code(ErrorName::InvalidArgument, &ErrorDetails::invalid("new_pin", rule::PIN_LENGTH)),
            Code::PinLength
        );
        // The length rule of the current PIN is no -33: the holder typed it.
        assert_eq!(
            code(ErrorName::InvalidArgument, &ErrorDetails::invalid("pin", rule::PIN_LENGTH)),
            Code::InvalidData
        );
        assert_eq!(
            code(ErrorName::InvalidArgument, &ErrorDetails::invalid("new_pin", rule::PIN_IS_INITIAL)),
            Code::InitialPin
        );
        assert_eq!(code(ErrorName::InvalidArgument, &ErrorDetails::invalid("apdu", rule::MALFORMED)).value(), -14);
        assert_eq!(
            code(ErrorName::InvalidArgument, &ErrorDetails::invalid("ssn", rule::BAD_CHECK_CHARACTER)).value(),
            -23
        );
        assert_eq!(code(ErrorName::CardError, &ErrorDetails::status(Slot::Card, 0x6581)), Code::StatusWord(0x6581));
        assert_eq!(code(ErrorName::CardError, &none), Code::InvalidData);
        assert_eq!(code(ErrorName::NotAuthentic, &none).value(), -21);
        assert_eq!(code(ErrorName::NotIssued, &none).value(), -22);
    }

    #[test]
    fn only_the_psams_6a88_is_the_missing_read_key() {
        let sam = ErrorDetails::status(Slot::Sam, 0x6A88);
        let card = ErrorDetails::status(Slot::Card, 0x6A88);
        let of = |d: &ErrorDetails| Code::of_error(ErrorName::AuthenticationFailed, d);
        assert_eq!(of(&sam), Code::StatusWord(0x6A88));
        assert_eq!(of(&sam).for_read(&sam), Code::NoReadKey);
        assert_eq!(of(&card).for_read(&card).value(), -27272);
    }

    #[test]
    fn the_function_table_names_each_function_once() {
        let mut names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FUNCTIONS.len());
        assert_eq!(Function::find("iReadCard").map(|f| f.out_size), Some(READ_OUT_SIZE));
        assert!(FUNCTIONS.iter().all(|f| !unavailable(f.name)));
        assert!(DEBIT_FUNCTIONS.iter().all(|f| unavailable(f) && Function::find(f).is_none()));
        assert!(unavailable("PKI_Sign"));
    }

    #[test]
    fn an_hsm_step1_is_followed_by_its_own_steps_in_order() {
        let later = |name: &str| -> Vec<&str> {
            Function::find(name).map(|f| f.later_steps().map(|s| s.name).collect()).unwrap_or_default()
        };
        assert_eq!(later("iReloadPIN_HSM_Step1"), ["iReloadPIN_HSM_Step2", "iReloadPIN_HSM_Step3"]);
        assert_eq!(later("iReadCardBas_HSM_Step1"), ["iReadCardBas_HSM_Step2"]);
        // iReadCard_HSM_ is no prefix of iReadCardBas_HSM_.
        assert_eq!(later("iReadCard_HSM_Step1"), ["iReadCard_HSM_Step2"]);
        assert!(later("iReloadPIN_HSM_Step2").is_empty());
        assert!(later("iReadCard").is_empty());
    }
}
