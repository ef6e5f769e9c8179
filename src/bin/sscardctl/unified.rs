//! `sscardctl unified FUNCTION [ARGS…]`: a function of the national
//! interface, through the same vocabulary module as `libsscard` but
//! without the C ABI, so that an operator can try any of them from a
//! shell. It prints what a C caller gets: the return value on the first
//! line, then `pOutInfo` in the library's encoding (GBK unless
//! `SSCARD_ENCODING=UTF-8`), bounded as the library bounds it.

use std::io::Write;

use sscard::unified::pinentry::{PinEntryError, PinPrompt, PinSource, Pinentry};
use sscard::unified::{Bus, Code, Encoding, Failure, OUT_SIZE, READ_OUT_SIZE, Terminal, answer};
use zeroize::Zeroizing;

use crate::failure::Failure as CtlFailure;

/// PINs from standard input, one a line: a new PIN twice.
struct StdinPins;

impl StdinPins {
    fn line() -> Result<Zeroizing<String>, PinEntryError> {
        let line = crate::pins::stdin_line("PIN").map_err(|_| PinEntryError::Unavailable)?;
        let digits = (4..=12).contains(&line.len()) && line.bytes().all(|b| b.is_ascii_digit());
        if digits { Ok(line) } else { Err(PinEntryError::WrongLength) }
    }
}

impl PinSource for StdinPins {
    fn current_pin(&mut self, _prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        StdinPins::line()
    }

    fn new_pin(&mut self, _prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        let first = StdinPins::line()?;
        let again = StdinPins::line()?;
        if first.as_str() != again.as_str() {
            return Err(PinEntryError::EntriesDiffer);
        }
        Ok(first)
    }
}

fn int(arg: &str, name: &str) -> Result<i32, Failure> {
    arg.trim().parse().map_err(|_| Failure::with(Code::BadArgument, format!("{name}: {arg:?} is not a number")))
}

/// Runs `function` and prints its answer; the exit code is 0 when the
/// function answered 0, 1 otherwise.
pub fn run(
    bus: &str,
    reader: Option<&str>,
    function: &str,
    args: &[String],
    pin_stdin: bool,
) -> Result<(), CtlFailure> {
    let encoding = Encoding::from_env();
    let size = if function == "iReadCard" || function == "iReadCard_HSM_Step2" { READ_OUT_SIZE } else { OUT_SIZE };
    // The debit functions write nothing, as the library's do.
    let (code, bytes) = if matches!(function, "iDoDebit" | "iReadDebitRecord") || function.starts_with("iDoDebit_") {
        (Code::Unsupported.value(), Vec::new())
    } else {
        answer(execute(bus, reader, function, args, pin_stdin, encoding), size, encoding)
    };
    let mut out = std::io::stdout().lock();
    let printed = writeln!(out, "{code}").and_then(|()| out.write_all(&bytes)).and_then(|()| writeln!(out));
    printed.map_err(|e| CtlFailure::Local(format!("writing the answer: {e}")))?;
    if code == 0 { Ok(()) } else { Err(CtlFailure::Quiet) }
}

fn execute(
    bus: &str,
    reader: Option<&str>,
    function: &str,
    args: &[String],
    pin_stdin: bool,
    encoding: Encoding,
) -> Result<String, Failure> {
    // Arguments arrive as a C caller's would: bytes in the library's encoding.
    let arg = |i: usize, name: &str| -> Result<String, Failure> {
        let raw =
            args.get(i).ok_or_else(|| Failure::with(Code::BadArgument, format!("{function}: {name} is missing")))?;
        encoding
            .decode(&encoding.encode(raw).map_err(|e| Failure::with(e.code, format!("{name}: {}", e.detail)))?, name)
    };
    let expect = |n: usize| -> Result<(), Failure> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Failure::with(Code::BadArgument, format!("{function} takes {n} arguments, not {}", args.len())))
        }
    };
    if function.contains("_HSM_") || function.starts_with("PKI_") || function.contains("Debit") {
        return Err(Failure::with(Code::Unsupported, format!("{function}: not available")));
    }
    let mut pins: Box<dyn PinSource> = if pin_stdin { Box::new(StdinPins) } else { Box::new(Pinentry::from_env()) };
    let bus = match bus {
        "system" => Bus::System,
        "session" => Bus::Session,
        address => Bus::Address(address.to_owned()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::with(Code::ReaderConnection, format!("cannot start: {e}")))?;
    runtime.block_on(async {
        let mut terminal = Terminal::connect(&bus).await?;
        if let Some(reader) = reader {
            terminal = terminal.with_reader(reader);
        }
        match function {
            "iReadCardBas" => {
                expect(1)?;
                terminal.read_card_bas(int(&arg(0, "iType")?, "iType")?).await
            }
            "iReadCard" => {
                expect(4)?;
                let (t, a) = (int(&arg(0, "iType")?, "iType")?, int(&arg(1, "iAuthType")?, "iAuthType")?);
                terminal.read_card(t, a, &arg(2, "pCardInfo")?, &arg(3, "pFileAddr")?).await
            }
            "iWriteCard" => {
                expect(4)?;
                let t = int(&arg(0, "iType")?, "iType")?;
                terminal.write_card(t, &arg(1, "pCardInfo")?, &arg(2, "pFileAddr")?, &arg(3, "pWriteData")?).await
            }
            "iVerifyPIN" => {
                expect(1)?;
                terminal.verify_pin(int(&arg(0, "iType")?, "iType")?, pins.as_mut()).await
            }
            "iChangePIN" => {
                expect(1)?;
                terminal.change_pin(int(&arg(0, "iType")?, "iType")?, pins.as_mut()).await
            }
            "iReloadPIN" => {
                expect(2)?;
                terminal.reload_pin(int(&arg(0, "iType")?, "iType")?, &arg(1, "pCardInfo")?, pins.as_mut()).await
            }
            "iUnblockPIN" => {
                expect(2)?;
                terminal.unblock_pin(int(&arg(0, "iType")?, "iType")?, &arg(1, "pCardInfo")?).await
            }
            other => Err(Failure::with(Code::Unsupported, format!("{other}: no such function"))),
        }
    })
}
