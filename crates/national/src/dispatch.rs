//! The one dispatch of the national functions, shared by every adapter:
//! the C ABI ([`crate::capi`]), the browser bridge's dialect and
//! `sscardctl unified`. An adapter says where the arguments come from
//! ([`Arguments`]) and where the PINs come from ([`PinSource`]); this
//! module turns a function's name and its arguments into a [`Call`], by the
//! contract's function table, and runs it over the daemon.
//!
//! A call is parsed whole before anything reaches the bus: a malformed
//! argument is answered without a D-Bus call.

use sscard_contract::national::{Arg, Function, unavailable};
use zeroize::Zeroizing;

use crate::pinentry::PinSource;
use crate::{Code, NationalError, Terminal};

/// Where a function's arguments come from: the C caller's parameters, a
/// JSON request, a command line. Each adapter decides what a missing or
/// malformed argument is, and says so naming the argument.
pub trait Arguments {
    /// The number `arg` (`iType`, `iAuthType`).
    fn int(&self, arg: Arg) -> Result<i32, NationalError>;
    /// The text `arg`. A reload's `pKey` carries the new PIN inside its
    /// APDU, so every text stays in a zeroizing buffer.
    fn text(&self, arg: Arg) -> Result<Zeroizing<String>, NationalError>;
}

/// One function of the interface with its arguments, parsed.
pub enum Call {
    ReadCardBas { i_type: i32 },
    ReadCard { i_type: i32, auth_type: i32, card_info: Zeroizing<String>, file_addr: Zeroizing<String> },
    WriteCard { i_type: i32, card_info: Zeroizing<String>, file_addr: Zeroizing<String>, data: Zeroizing<String> },
    VerifyPin { i_type: i32 },
    ChangePin { i_type: i32 },
    ReloadPin { i_type: i32, card_info: Zeroizing<String> },
    UnblockPin { i_type: i32, card_info: Zeroizing<String> },
    ReadCardBasStep1 { i_type: i32 },
    ReadCardBasStep2 { key: Zeroizing<String> },
    ReadCardStep1 { i_type: i32, card_info: Zeroizing<String>, file_addr: Zeroizing<String> },
    ReadCardStep2 { key: Zeroizing<String> },
    WriteCardStep1 { i_type: i32, card_info: Zeroizing<String>, file_addr: Zeroizing<String> },
    WriteCardStep2 { key: Zeroizing<String>, data: Zeroizing<String> },
    ReloadPinStep1 { i_type: i32, card_info: Zeroizing<String> },
    ReloadPinStep2 { key: Zeroizing<String> },
    ReloadPinStep3 { key: Zeroizing<String> },
    UnblockPinStep1 { i_type: i32, card_info: Zeroizing<String> },
    UnblockPinStep2 { key: Zeroizing<String> },
    UnblockPinStep3 { key: Zeroizing<String> },
}

impl Call {
    /// The function `name` with the arguments `args` gives, in the
    /// table's order; -13 for a function sscard has no application for or
    /// does not know.
    pub fn parse(name: &str, args: &dyn Arguments) -> Result<Call, NationalError> {
        let function = function(name)?;
        let int = |arg| args.int(arg);
        let text = |arg| args.text(arg);
        use Arg::{AuthType, CardInfo, FileAddr, Key, Type, WriteData};
        Ok(match function.name {
            "iReadCardBas" => Call::ReadCardBas { i_type: int(Type)? },
            "iReadCard" => Call::ReadCard {
                i_type: int(Type)?,
                auth_type: int(AuthType)?,
                card_info: text(CardInfo)?,
                file_addr: text(FileAddr)?,
            },
            "iWriteCard" => Call::WriteCard {
                i_type: int(Type)?,
                card_info: text(CardInfo)?,
                file_addr: text(FileAddr)?,
                data: text(WriteData)?,
            },
            "iVerifyPIN" => Call::VerifyPin { i_type: int(Type)? },
            "iChangePIN" => Call::ChangePin { i_type: int(Type)? },
            "iReloadPIN" => Call::ReloadPin { i_type: int(Type)?, card_info: text(CardInfo)? },
            "iUnblockPIN" => Call::UnblockPin { i_type: int(Type)?, card_info: text(CardInfo)? },
            "iReadCardBas_HSM_Step1" => Call::ReadCardBasStep1 { i_type: int(Type)? },
            "iReadCardBas_HSM_Step2" => Call::ReadCardBasStep2 { key: text(Key)? },
            "iReadCard_HSM_Step1" => {
                Call::ReadCardStep1 { i_type: int(Type)?, card_info: text(CardInfo)?, file_addr: text(FileAddr)? }
            }
            "iReadCard_HSM_Step2" => Call::ReadCardStep2 { key: text(Key)? },
            "iWriteCard_HSM_Step1" => {
                Call::WriteCardStep1 { i_type: int(Type)?, card_info: text(CardInfo)?, file_addr: text(FileAddr)? }
            }
            "iWriteCard_HSM_Step2" => Call::WriteCardStep2 { key: text(Key)?, data: text(WriteData)? },
            "iReloadPIN_HSM_Step1" => Call::ReloadPinStep1 { i_type: int(Type)?, card_info: text(CardInfo)? },
            "iReloadPIN_HSM_Step2" => Call::ReloadPinStep2 { key: text(Key)? },
            "iReloadPIN_HSM_Step3" => Call::ReloadPinStep3 { key: text(Key)? },
            "iUnblockPIN_HSM_Step1" => Call::UnblockPinStep1 { i_type: int(Type)?, card_info: text(CardInfo)? },
            "iUnblockPIN_HSM_Step2" => Call::UnblockPinStep2 { key: text(Key)? },
            "iUnblockPIN_HSM_Step3" => Call::UnblockPinStep3 { key: text(Key)? },
            // The table names a function this dispatch lacks: a test
            // (`every_function_of_the_table_is_dispatched`) keeps them equal.
            other => return Err(NationalError::with(Code::Unsupported, format!("{other}: not dispatched"))),
        })
    }

    /// Runs the call over the daemon, asking `pins` for the PINs the
    /// function needs (the table's [`Function::pins`]).
    pub async fn run(self, terminal: &Terminal, pins: &mut dyn PinSource) -> Result<String, NationalError> {
        match self {
            Call::ReadCardBas { i_type } => terminal.read_card_bas(i_type).await,
            Call::ReadCard { i_type, auth_type, card_info, file_addr } => {
                terminal.read_card(i_type, auth_type, &card_info, &file_addr).await
            }
            Call::WriteCard { i_type, card_info, file_addr, data } => {
                terminal.write_card(i_type, &card_info, &file_addr, &data).await
            }
            Call::VerifyPin { i_type } => terminal.verify_pin(i_type, pins).await,
            Call::ChangePin { i_type } => terminal.change_pin(i_type, pins).await,
            Call::ReloadPin { i_type, card_info } => terminal.reload_pin(i_type, &card_info, pins).await,
            Call::UnblockPin { i_type, card_info } => terminal.unblock_pin(i_type, &card_info).await,
            Call::ReadCardBasStep1 { i_type } => terminal.read_card_bas_hsm_step1(i_type).await,
            Call::ReadCardBasStep2 { key } => terminal.read_card_bas_hsm_step2(&key).await,
            Call::ReadCardStep1 { i_type, card_info, file_addr } => {
                terminal.read_card_hsm_step1(i_type, &card_info, &file_addr).await
            }
            Call::ReadCardStep2 { key } => terminal.read_card_hsm_step2(&key).await,
            Call::WriteCardStep1 { i_type, card_info, file_addr } => {
                terminal.write_card_hsm_step1(i_type, &card_info, &file_addr).await
            }
            Call::WriteCardStep2 { key, data } => terminal.write_card_hsm_step2(&key, &data).await,
            Call::ReloadPinStep1 { i_type, card_info } => terminal.reload_pin_hsm_step1(i_type, &card_info).await,
            Call::ReloadPinStep2 { key } => terminal.reload_pin_hsm_step2(&key, pins).await,
            Call::ReloadPinStep3 { key } => terminal.reload_pin_hsm_step3(&key).await,
            Call::UnblockPinStep1 { i_type, card_info } => terminal.unblock_pin_hsm_step1(i_type, &card_info).await,
            Call::UnblockPinStep2 { key } => terminal.unblock_pin_hsm_step2(&key).await,
            Call::UnblockPinStep3 { key } => terminal.unblock_pin_hsm_step3(&key).await,
        }
    }
}

/// The table's function `name`; -13 for a function sscard has no
/// application for (debit, certificates) or does not know.
pub fn function(name: &str) -> Result<&'static Function, NationalError> {
    Function::find(name).ok_or_else(|| {
        let why = if unavailable(name) { "not available" } else { "no such function" };
        NationalError::with(Code::Unsupported, format!("{name}: {why}"))
    })
}

/// Parses and runs the function `name`: what every adapter calls.
pub async fn run(
    terminal: &Terminal,
    name: &str,
    args: &dyn Arguments,
    pins: &mut dyn PinSource,
) -> Result<String, NationalError> {
    Call::parse(name, args)?.run(terminal, pins).await
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use sscard_contract::national::{DEBIT_FUNCTIONS, FUNCTIONS};

    use super::*;

    /// Answers every argument, and remembers which were asked for.
    #[derive(Default)]
    struct Recorded(RefCell<Vec<Arg>>);

    impl Arguments for Recorded {
        fn int(&self, arg: Arg) -> Result<i32, NationalError> {
            assert!(arg.is_int(), "{arg:?} asked as a number");
            self.0.borrow_mut().push(arg);
            Ok(3)
        }
        fn text(&self, arg: Arg) -> Result<Zeroizing<String>, NationalError> {
            assert!(!arg.is_int(), "{arg:?} asked as text");
            self.0.borrow_mut().push(arg);
            Ok(Zeroizing::new(String::new()))
        }
    }

    #[test]
    fn every_function_of_the_table_is_dispatched_with_the_tables_arguments() {
        for function in FUNCTIONS {
            let args = Recorded::default();
            let parsed = Call::parse(function.name, &args);
            assert!(parsed.is_ok(), "{} is not dispatched", function.name);
            assert_eq!(args.0.borrow().as_slice(), function.args, "{}", function.name);
        }
    }

    #[test]
    fn a_function_outside_the_table_is_minus_13_and_reads_no_argument() {
        for name in DEBIT_FUNCTIONS.iter().copied().chain(["PKI_Sign", "iFormatCard", ""]) {
            let args = Recorded::default();
            let code = Call::parse(name, &args).err().map(|e| e.code);
            assert_eq!(code, Some(Code::Unsupported), "{name}");
            assert!(args.0.borrow().is_empty(), "{name}");
        }
    }

    /// Refuses one argument.
    struct Refusing(Arg);

    impl Arguments for Refusing {
        fn int(&self, arg: Arg) -> Result<i32, NationalError> {
            if arg == self.0 { Err(NationalError::with(Code::BadArgument, arg.name())) } else { Ok(3) }
        }
        fn text(&self, arg: Arg) -> Result<Zeroizing<String>, NationalError> {
            if arg == self.0 {
                Err(NationalError::with(Code::BadArgument, arg.name()))
            } else {
                Ok(Zeroizing::new(String::new()))
            }
        }
    }

    #[test]
    fn an_arguments_refusal_is_the_calls_answer() {
        for function in FUNCTIONS {
            for &arg in function.args {
                let refused = Call::parse(function.name, &Refusing(arg)).err();
                let refused = refused.map(|e| (e.code, e.detail));
                assert_eq!(refused, Some((Code::BadArgument, arg.name().to_owned())), "{}", function.name);
            }
        }
    }
}
