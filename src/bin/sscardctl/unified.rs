//! `sscardctl unified FUNCTION [ARGS…]`: a function of the national
//! interface, through the same vocabulary module as `libsscard` but
//! without the C ABI, so that an operator can try any of them from a
//! shell. It prints what a C caller gets: the return value on the first
//! line, then `pOutInfo` in the library's encoding (GBK unless
//! `SSCARD_ENCODING=UTF-8`), bounded as the library bounds it.

use std::io::Write;

use sscard::pinentry::{PinEntryError, PinPrompt, PinSource, Pinentry, checked_pin};
use sscard::{Bus, Code, Encoding, NationalError, OUT_SIZE, Terminal, answer};
use sscard_contract::national::{DEBIT_FUNCTIONS, Function};
use zeroize::Zeroizing;

use crate::failure::CommandError;

/// PINs from standard input, one a line: a new PIN twice.
struct StdinPins;

impl StdinPins {
    fn line() -> Result<Zeroizing<String>, PinEntryError> {
        let line = crate::pins::stdin_line("PIN").map_err(|_| PinEntryError::Unavailable)?;
        checked_pin(line)
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

fn int(arg: &str, name: &str) -> Result<i32, NationalError> {
    arg.trim().parse().map_err(|_| NationalError::with(Code::BadArgument, format!("{name}: {arg:?} is not a number")))
}

/// Runs `function` and prints its answer; the exit code is 0 when the
/// function answered 0, 1 otherwise.
pub fn run(
    bus: &str,
    reader: Option<&str>,
    function: &str,
    args: &[String],
    pin_stdin: bool,
) -> Result<(), CommandError> {
    let encoding = Encoding::from_env();
    let size_of = |f: &str| Function::find(f).map_or(OUT_SIZE, |f| f.out_size);
    let print = |code: i32, bytes: &[u8]| -> Result<(), CommandError> {
        let mut out = std::io::stdout().lock();
        let printed = writeln!(out, "{code}").and_then(|()| out.write_all(bytes)).and_then(|()| writeln!(out));
        printed.and_then(|()| out.flush()).map_err(|e| CommandError::Local(format!("writing the answer: {e}")))
    };
    // The debit functions write nothing, as the library's do.
    if DEBIT_FUNCTIONS.contains(&function) {
        print(Code::Unsupported.value(), &[])?;
        return Err(CommandError::Quiet);
    }
    let session = runtime().and_then(|rt| connect(&rt, bus, reader).map(|t| (rt, t)));
    let (runtime, terminal) = match session {
        Ok(session) => session,
        Err(e) => {
            let (code, bytes) = answer(Err(e), size_of(function), encoding);
            print(code, &bytes)?;
            return Err(CommandError::Quiet);
        }
    };
    let (code, bytes) =
        answer(execute(&runtime, &terminal, function, args, pin_stdin, encoding), size_of(function), encoding);
    print(code, &bytes)?;
    if code != 0 {
        return Err(CommandError::Quiet);
    }
    // An HSM Step1 holds its session in this process: each later step's
    // arguments come from standard input, one line a step (TAB between
    // arguments), once the back end has answered the step before.
    for step in later_steps(function) {
        let line = match step_line() {
            Some(line) => line,
            // No more steps: the session is abandoned as this process leaves.
            None => return Err(CommandError::Quiet),
        };
        // A reload's Step3 line carries the new PIN's digits (in its APDU).
        let step_args: Zeroizing<Vec<String>> = Zeroizing::new(line.split('\t').map(str::to_owned).collect());
        let (code, bytes) =
            answer(execute(&runtime, &terminal, step, &step_args, pin_stdin, encoding), size_of(step), encoding);
        print(code, &bytes)?;
        if code != 0 {
            return Err(CommandError::Quiet);
        }
    }
    Ok(())
}

/// Connects to the daemon's bus, as the library does.
fn connect(runtime: &tokio::runtime::Runtime, bus: &str, reader: Option<&str>) -> Result<Terminal, NationalError> {
    let bus = match bus {
        "system" => Bus::System,
        "session" => Bus::Session,
        address => Bus::Address(address.to_owned()),
    };
    runtime.block_on(async {
        let mut terminal = Terminal::connect(&bus).await?;
        if let Some(reader) = reader {
            terminal = terminal.with_reader(reader);
        }
        Ok(terminal)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, NationalError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NationalError::with(Code::ReaderConnection, format!("cannot start: {e}")))
}

fn execute(
    runtime: &tokio::runtime::Runtime,
    terminal: &Terminal,
    function: &str,
    args: &[String],
    pin_stdin: bool,
    encoding: Encoding,
) -> Result<String, NationalError> {
    // Arguments arrive as a C caller's would: bytes in the library's encoding.
    let arg = |i: usize, name: &str| -> Result<String, NationalError> {
        let raw = args
            .get(i)
            .ok_or_else(|| NationalError::with(Code::BadArgument, format!("{function}: {name} is missing")))?;
        encoding.decode(
            &encoding.encode(raw).map_err(|e| NationalError::with(e.code, format!("{name}: {}", e.detail)))?,
            name,
        )
    };
    let expect = |n: usize| -> Result<(), NationalError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(NationalError::with(Code::BadArgument, format!("{function} takes {n} arguments, not {}", args.len())))
        }
    };
    if function.starts_with("PKI_") || function.contains("Debit") {
        return Err(NationalError::with(Code::Unsupported, format!("{function}: not available")));
    }
    let mut pins: Box<dyn PinSource> = if pin_stdin { Box::new(StdinPins) } else { Box::new(Pinentry::from_env()) };
    runtime.block_on(async {
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
            "iReadCardBas_HSM_Step1" => {
                expect(1)?;
                terminal.read_card_bas_hsm_step1(int(&arg(0, "iType")?, "iType")?).await
            }
            "iReadCardBas_HSM_Step2" => terminal.read_card_bas_hsm_step2(&key(&arg)).await,
            "iReadCard_HSM_Step1" | "iWriteCard_HSM_Step1" => {
                expect(3)?;
                let (t, info, addr) = (int(&arg(0, "iType")?, "iType")?, arg(1, "pCardInfo")?, arg(2, "pFileAddr")?);
                if function == "iReadCard_HSM_Step1" {
                    terminal.read_card_hsm_step1(t, &info, &addr).await
                } else {
                    terminal.write_card_hsm_step1(t, &info, &addr).await
                }
            }
            "iReadCard_HSM_Step2" => terminal.read_card_hsm_step2(&key(&arg)).await,
            "iWriteCard_HSM_Step2" => {
                expect(2)?;
                terminal.write_card_hsm_step2(&arg(0, "pKey")?, &arg(1, "pWriteData")?).await
            }
            "iReloadPIN_HSM_Step1" | "iUnblockPIN_HSM_Step1" => {
                expect(2)?;
                let (t, info) = (int(&arg(0, "iType")?, "iType")?, arg(1, "pCardInfo")?);
                if function == "iReloadPIN_HSM_Step1" {
                    terminal.reload_pin_hsm_step1(t, &info).await
                } else {
                    terminal.unblock_pin_hsm_step1(t, &info).await
                }
            }
            "iReloadPIN_HSM_Step2" => terminal.reload_pin_hsm_step2(&key(&arg), pins.as_mut()).await,
            "iReloadPIN_HSM_Step3" => terminal.reload_pin_hsm_step3(&key(&arg)).await,
            "iUnblockPIN_HSM_Step2" => terminal.unblock_pin_hsm_step2(&key(&arg)).await,
            "iUnblockPIN_HSM_Step3" => terminal.unblock_pin_hsm_step3(&key(&arg)).await,
            other => Err(NationalError::with(Code::Unsupported, format!("{other}: no such function"))),
        }
    })
}

/// A step's `pKey`: its first argument, empty when there is none.
fn key(arg: &dyn Fn(usize, &str) -> Result<String, NationalError>) -> String {
    arg(0, "pKey").unwrap_or_default()
}

/// One line of standard input, read a byte at a time so that the PIN lines
/// after it stay unread; `None` at its end. A photo in `pWriteData` makes a
/// long line: up to 1 MiB.
fn step_line() -> Option<Zeroizing<String>> {
    use std::io::Read;
    use std::os::fd::AsFd;
    const LIMIT: usize = 1 << 20;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let mut input = std::fs::File::from(fd);
    // Sized once, never grown: the line may hold a PIN's digits.
    let mut line = Zeroizing::new(Vec::with_capacity(LIMIT));
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) if line.is_empty() => return None,
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() < LIMIT => line.push(byte[0]),
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    // The buffer moves into the String, uncopied.
    let mut text = Zeroizing::new(String::from_utf8(std::mem::take(&mut *line)).ok()?);
    if text.ends_with('\r') {
        text.pop();
    }
    Some(text)
}

/// The steps after an HSM Step1, in order.
fn later_steps(function: &str) -> &'static [&'static str] {
    match function {
        "iReadCardBas_HSM_Step1" => &["iReadCardBas_HSM_Step2"],
        "iReadCard_HSM_Step1" => &["iReadCard_HSM_Step2"],
        "iWriteCard_HSM_Step1" => &["iWriteCard_HSM_Step2"],
        "iReloadPIN_HSM_Step1" => &["iReloadPIN_HSM_Step2", "iReloadPIN_HSM_Step3"],
        "iUnblockPIN_HSM_Step1" => &["iUnblockPIN_HSM_Step2", "iUnblockPIN_HSM_Step3"],
        _ => &[],
    }
}
