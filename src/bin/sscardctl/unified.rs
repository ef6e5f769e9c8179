//! `sscardctl unified FUNCTION [ARGS…]`: a function of the national
//! interface, through the same vocabulary module as `libsscard` but
//! without the C ABI, so that an operator can try any of them from a
//! shell. It prints what a C caller gets: the return value on the first
//! line, then `pOutInfo` in the library's encoding (GBK unless
//! `SSCARD_ENCODING=UTF-8`), bounded as the library bounds it.

use std::io::Write;

use sscard::dispatch::{self, Arguments, Call};
use sscard::pinentry::{PinEntryError, PinPrompt, PinSource, Pinentry, checked_pin};
use sscard::{Bus, Code, Encoding, NationalError, OUT_SIZE, Terminal, answer};
use sscard_contract::national::{Arg, DEBIT_FUNCTIONS, Function};
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
    let later_steps = Function::find(function).into_iter().flat_map(Function::later_steps);
    for step in later_steps.map(|f| f.name) {
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

/// A command line's arguments, in the table's order, arriving as a C
/// caller's would: bytes in the library's encoding.
struct CommandLineArguments<'a> {
    function: &'static Function,
    args: &'a [String],
    encoding: Encoding,
}

impl CommandLineArguments<'_> {
    /// The arguments the function takes; an HSM step's `pKey` may be left
    /// out at the end (Step2 of a reload or unblock takes an empty one).
    fn check_count(&self) -> Result<(), NationalError> {
        let (name, takes, given) = (self.function.name, self.function.args.len(), self.args.len());
        let left_out = self.function.args.get(given..).unwrap_or_default();
        if given == takes || (given < takes && left_out.iter().all(|a| *a == Arg::Key)) {
            Ok(())
        } else {
            Err(NationalError::with(Code::BadArgument, format!("{name} takes {takes} arguments, not {given}")))
        }
    }

    fn raw(&self, arg: Arg) -> Option<&str> {
        let at = self.function.args.iter().position(|a| *a == arg)?;
        self.args.get(at).map(String::as_str)
    }
}

impl Arguments for CommandLineArguments<'_> {
    fn int(&self, arg: Arg) -> Result<i32, NationalError> {
        let name = arg.name();
        let raw = self.raw(arg).ok_or_else(|| NationalError::with(Code::BadArgument, format!("{name} is missing")))?;
        int(&self.text_of(name, raw)?, name)
    }

    fn text(&self, arg: Arg) -> Result<Zeroizing<String>, NationalError> {
        match self.raw(arg) {
            Some(raw) => self.text_of(arg.name(), raw).map(Zeroizing::new),
            None if arg == Arg::Key => Ok(Zeroizing::new(String::new())),
            None => Err(NationalError::with(Code::BadArgument, format!("{} is missing", arg.name()))),
        }
    }
}

impl CommandLineArguments<'_> {
    fn text_of(&self, name: &str, raw: &str) -> Result<String, NationalError> {
        let encoding = self.encoding;
        let bytes = encoding.encode(raw).map_err(|e| NationalError::with(e.code, format!("{name}: {}", e.detail)))?;
        encoding.decode(&bytes, name)
    }
}

fn execute(
    runtime: &tokio::runtime::Runtime,
    terminal: &Terminal,
    function: &str,
    args: &[String],
    pin_stdin: bool,
    encoding: Encoding,
) -> Result<String, NationalError> {
    let args = CommandLineArguments { function: dispatch::function(function)?, args, encoding };
    args.check_count()?;
    let call = Call::parse(function, &args)?;
    let mut pins: Box<dyn PinSource> = if pin_stdin { Box::new(StdinPins) } else { Box::new(Pinentry::from_env()) };
    runtime.block_on(call.run(terminal, pins.as_mut()))
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
