//! `libsscard`: the national terminal interface with the C ABI
//! (`docs/unified-interface.md` section 1, `include/sscard.h`). A thin
//! adapter of [`crate`]: it decodes the caller's strings, runs the
//! function over the daemon, and writes the answer into the caller's buffer,
//! never past the interface's sizes.
//!
//! - One bus connection per process, opened at the first call and opened
//!   again when the bus went away; calls are serialized per process.
//! - No panic crosses the boundary: a panic answers -14.
//! - No PIN ever reaches a log; `SSCARD_LOG` (a `tracing` filter) turns the
//!   library's own logging on, to standard error.

// The exported names are the interface's, not Rust's.
#![allow(non_snake_case)]

use std::ffi::{CStr, c_char, c_int, c_long};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};

use sscard_contract::national::{Arg, Function};
use zeroize::Zeroizing;

use crate::dispatch::{Arguments, Call};
use crate::pinentry::Pinentry;
use crate::{Bus, Code, Encoding, NationalError, OUT_SIZE, Terminal, answer};

/// What the library keeps between calls.
struct Library {
    runtime: tokio::runtime::Runtime,
    terminal: Option<Terminal>,
}

static LIBRARY: Mutex<Option<Library>> = Mutex::new(None);

impl Library {
    fn new() -> Result<Library, NationalError> {
        init_logging();
        // One worker thread keeps the bus connection driven between calls,
        // so that a lost bus is noticed before the next call, not by it.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sscard-bus")
            .enable_all()
            .build()
            .map_err(|e| {
                NationalError::with(Code::ReaderConnection, format!("cannot start the library's runtime: {e}"))
            })?;
        Ok(Library { runtime, terminal: None })
    }

    /// The connection to the daemon's bus, opened when missing or lost.
    fn terminal(&mut self) -> Result<&Terminal, NationalError> {
        if self.terminal.as_ref().is_none_or(|t| !t.is_connected()) {
            self.terminal = None;
            let terminal = self.runtime.block_on(Terminal::connect(&Bus::from_env()))?;
            self.terminal = Some(terminal);
        }
        self.terminal.as_ref().ok_or_else(|| NationalError::with(Code::ReaderConnection, "no bus connection"))
    }
}

/// `SSCARD_LOG`, once per process.
fn init_logging() {
    if let Ok(filter) = std::env::var("SSCARD_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

/// The caller's string argument, decoded; a null pointer is -14.
///
/// # Safety
/// `arg` is null or a NUL-terminated string that lives for the call.
unsafe fn text_arg(arg: *const c_char, name: &str, encoding: Encoding) -> Result<String, NationalError> {
    if arg.is_null() {
        return Err(NationalError::with(Code::BadArgument, format!("{name}: a null pointer")));
    }
    // SAFETY: the caller's contract, above.
    let bytes = unsafe { CStr::from_ptr(arg) }.to_bytes();
    encoding.decode(bytes, name)
}

/// Copies at most `size - 1` bytes and a NUL.
///
/// # Safety
/// `out` is null or points to at least `size` writable bytes.
unsafe fn copy_bounded(out: *mut c_char, size: usize, bytes: &[u8]) {
    if out.is_null() || size == 0 {
        return;
    }
    let n = bytes.len().min(size - 1);
    // SAFETY: `n < size`, and `out` has `size` bytes (the caller's contract).
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), n);
        *out.add(n) = 0;
    }
}

/// Runs one interface function: serialized, panics caught, the answer or
/// the failure's message written into `out` (at most `size` bytes).
///
/// # Safety
/// `out` is null or points to at least `size` writable bytes; every string
/// argument `run` reads is null or NUL-terminated.
unsafe fn call(
    out: *mut c_char,
    size: usize,
    run: impl FnOnce(&mut Library, Encoding) -> Result<String, NationalError>,
) -> c_long {
    let encoding = Encoding::from_env();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut guard = LIBRARY.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(Library::new()?);
        }
        match guard.as_mut() {
            Some(library) => run(library, encoding),
            None => Err(NationalError::with(Code::ReaderConnection, "the library could not start")),
        }
    }));
    let result = outcome.unwrap_or_else(|_| Err(NationalError::with(Code::BadArgument, "internal error")));
    let (code, bytes) = answer(result, size, encoding);
    // SAFETY: the caller's contract, above; `bytes` is shorter than `size`.
    unsafe { copy_bounded(out, size, &bytes) };
    c_long::from(code)
}

/// The terminal and the runtime, for one function's body.
fn with_terminal<T>(
    library: &mut Library,
    body: impl AsyncFnOnce(&Terminal) -> Result<T, NationalError>,
) -> Result<T, NationalError> {
    library.terminal()?;
    let Library { runtime, terminal } = library;
    let terminal = terminal.as_ref().ok_or_else(|| NationalError::with(Code::ReaderConnection, "no bus connection"))?;
    runtime.block_on(body(terminal))
}

/// A C caller's argument, as it arrived.
#[derive(Clone, Copy)]
enum Raw {
    Int(c_int),
    Text(*const c_char),
}

/// A C caller's arguments by their names in the interface.
struct CArguments<'a> {
    raw: &'a [(&'static str, Raw)],
    encoding: Encoding,
}

impl CArguments<'_> {
    fn get(&self, arg: Arg) -> Result<Raw, NationalError> {
        let found = self.raw.iter().find(|(name, _)| *name == arg.name()).map(|(_, raw)| *raw);
        found.ok_or_else(|| NationalError::with(Code::BadArgument, format!("{}: not an argument", arg.name())))
    }
}

impl Arguments for CArguments<'_> {
    fn int(&self, arg: Arg) -> Result<i32, NationalError> {
        match self.get(arg)? {
            Raw::Int(value) => Ok(value),
            Raw::Text(_) => Err(NationalError::with(Code::BadArgument, format!("{}: not a number", arg.name()))),
        }
    }

    fn text(&self, arg: Arg) -> Result<Zeroizing<String>, NationalError> {
        match self.get(arg)? {
            // SAFETY: each text pointer is null or NUL-terminated for the
            // call (the exported function's contract), and the arguments
            // live only for the call.
            Raw::Text(pointer) => unsafe { text_arg(pointer, arg.name(), self.encoding) }.map(Zeroizing::new),
            Raw::Int(_) => Err(NationalError::with(Code::BadArgument, format!("{}: not text", arg.name()))),
        }
    }
}

/// Runs the function `name` with the caller's arguments: parsed whole
/// first (a malformed one never reaches the bus), then run over the daemon
/// with the PINs from pinentry.
///
/// # Safety
/// As [`call`]'s, for `pOutInfo` and every text in `raw`.
unsafe fn national(name: &'static str, raw: &[(&'static str, Raw)], out: *mut c_char) -> c_long {
    let size = Function::find(name).map_or(OUT_SIZE, |f| f.out_size);
    // SAFETY: the caller's contract.
    unsafe {
        call(out, size, |lib, encoding| {
            let call = Call::parse(name, &CArguments { raw, encoding })?;
            let mut pins = Pinentry::from_env();
            with_terminal(lib, async move |t| call.run(t, &mut pins).await)
        })
    }
}

/// The exported functions of section 1, each the contract's function of
/// the same name with its arguments in the table's order (a test holds the
/// two equal), then `pOutInfo`.
macro_rules! national_functions {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $kind:ident),*);)*) => {
        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// The string arguments are null or NUL-terminated; `pOutInfo`
            /// points to at least as many writable bytes as section 1 says
            /// (20480 for `iReadCard` and `iReadCard_HSM_Step2`, else 1024).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name($($arg: national_functions!(@ty $kind),)* pOutInfo: *mut c_char) -> c_long {
                // SAFETY: the caller's contract.
                unsafe {
                    national(stringify!($name), &[$((stringify!($arg), national_functions!(@raw $kind, $arg))),*], pOutInfo)
                }
            }
        )*

        /// What this file exports: each name with its arguments' names.
        #[cfg(test)]
        const EXPORTED: &[(&str, &[&str])] = &[$((stringify!($name), &[$(stringify!($arg)),*])),*];
    };
    (@ty int) => { c_int };
    (@ty text) => { *const c_char };
    (@raw int, $arg:ident) => { Raw::Int($arg) };
    (@raw text, $arg:ident) => { Raw::Text($arg) };
}

national_functions! {
    /// Reads the basic information: the eleven fields of section 3.
    iReadCardBas(iType: int);
    /// Reads the items `pFileAddr` names of the card `pCardInfo` names.
    iReadCard(iType: int, iAuthType: int, pCardInfo: text, pFileAddr: text);
    /// Writes `pWriteData` into the items `pFileAddr` names.
    iWriteCard(iType: int, pCardInfo: text, pFileAddr: text, pWriteData: text);
    /// Verifies the PIN the holder types (pinentry, section 5).
    iVerifyPIN(iType: int);
    /// Changes the PIN: the old one, then the new one twice.
    iChangePIN(iType: int);
    /// Sets a new PIN on the card `pCardInfo` names (the PSAM's MAC).
    iReloadPIN(iType: int, pCardInfo: text);
    /// Resets the try counter of the card `pCardInfo` names (the PSAM's MAC).
    iUnblockPIN(iType: int, pCardInfo: text);
    /// Step1 of reading the basic information without a PSAM (section 7):
    /// the daemon holds the session; the library keeps its object path
    /// between the steps, one per process.
    iReadCardBas_HSM_Step1(iType: int);
    /// Step2: the back end's `pKey`; the eleven fields.
    iReadCardBas_HSM_Step2(pKey: text);
    /// Step1 of a generic read without a PSAM.
    iReadCard_HSM_Step1(iType: int, pCardInfo: text, pFileAddr: text);
    /// Step2: the back end's cryptogram; the items read.
    iReadCard_HSM_Step2(pKey: text);
    /// Step1 of a generic write without a PSAM.
    iWriteCard_HSM_Step1(iType: int, pCardInfo: text, pFileAddr: text);
    /// Step2: the back end's cryptogram and the data to write.
    iWriteCard_HSM_Step2(pKey: text, pWriteData: text);
    /// Step1 of a PIN reload without a PSAM.
    iReloadPIN_HSM_Step1(iType: int, pCardInfo: text);
    /// Step2: the new PIN (pinentry), and the command for the back end to MAC.
    iReloadPIN_HSM_Step2(pKey: text);
    /// Step3: the back end's command with its MAC.
    iReloadPIN_HSM_Step3(pKey: text);
    /// Step1 of a PIN unblock without a PSAM.
    iUnblockPIN_HSM_Step1(iType: int, pCardInfo: text);
    /// Step2: the command for the back end to MAC.
    iUnblockPIN_HSM_Step2(pKey: text);
    /// Step3: the back end's command with its MAC.
    iUnblockPIN_HSM_Step3(pKey: text);
}

/// The debit functions: the profile has no debit application, so each
/// answers -13. Their other arguments differ between deployments, so they
/// write nothing anywhere: no buffer of an unknown size is touched.
macro_rules! no_debit {
    ($($name:ident),*) => {
        $(
            /// No debit application in the profile: -13, nothing written.
            #[unsafe(no_mangle)]
            pub extern "C" fn $name() -> c_long {
                c_long::from(Code::Unsupported.value())
            }
        )*
    };
}

no_debit!(iDoDebit, iReadDebitRecord, iDoDebit_HSM_Step1, iDoDebit_HSM_Step2);

#[cfg(test)]
mod tests {
    use sscard_contract::national::FUNCTIONS;

    use super::*;

    fn text(buffer: &[c_char]) -> String {
        // SAFETY: `call` NUL-terminates within the buffer.
        unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_is_minus_14_and_never_crosses_the_boundary() {
        let mut out = [0x55 as c_char; OUT_SIZE];
        // SAFETY: `out` has OUT_SIZE bytes.
        let code = unsafe { call(out.as_mut_ptr(), OUT_SIZE, |_, _| panic!("a bug")) };
        assert_eq!(code, -14);
        let bytes = &out[..out.iter().position(|b| *b == 0).unwrap()];
        let bytes: Vec<u8> = bytes.iter().map(|b| *b as u8).collect();
        let message = Encoding::Gbk.decode(&bytes, "pOutInfo").unwrap();
        assert!(message.starts_with("命令参数错"), "{message}");
        // The lock a panic poisoned serves the next call.
        // SAFETY: `out` has OUT_SIZE bytes.
        let code = unsafe { call(out.as_mut_ptr(), OUT_SIZE, |_, _| Ok("next".into())) };
        assert_eq!((code, text(&out).as_str()), (0, "next"));
    }

    #[test]
    fn an_answer_never_passes_the_buffer() {
        // A buffer of 16 with a guard after it: a long answer is -14, cut.
        let mut buffer = [0x55 as c_char; 32];
        // SAFETY: the first 16 bytes are the buffer.
        let code = unsafe { call(buffer.as_mut_ptr(), 16, |_, _| Ok("x".repeat(100))) };
        assert_eq!(code, -14);
        assert!(buffer[16..].iter().all(|b| *b == 0x55), "nothing written past the bound");
        assert_eq!(buffer[15], 0, "NUL-terminated within it");
        // SAFETY: as above.
        let code = unsafe { call(buffer.as_mut_ptr(), 16, |_, _| Ok("fits".into())) };
        assert_eq!((code, text(&buffer).as_str()), (0, "fits"));
    }

    #[test]
    fn the_exports_are_the_tables_functions_with_its_arguments() {
        let table: Vec<(&str, Vec<&str>)> =
            FUNCTIONS.iter().map(|f| (f.name, f.args.iter().map(|a| a.name()).collect())).collect();
        let exported: Vec<(&str, Vec<&str>)> = EXPORTED.iter().map(|(n, a)| (*n, a.to_vec())).collect();
        assert_eq!(exported, table);
    }

    #[test]
    fn a_null_text_argument_is_minus_14_naming_it_before_the_bus_is_reached() {
        let mut out = [0x55 as c_char; OUT_SIZE];
        let card_info = c"123|";
        // SAFETY: `out` has OUT_SIZE bytes; the texts are null or NUL-terminated.
        let code = unsafe { iReloadPIN_HSM_Step1(3, std::ptr::null(), out.as_mut_ptr()) };
        assert_eq!(code, -14);
        assert!(text(&out).contains("pCardInfo"), "{}", text(&out));
        // SAFETY: as above.
        let code = unsafe { iReadCard(3, 1, card_info.as_ptr(), std::ptr::null(), out.as_mut_ptr()) };
        assert_eq!(code, -14);
        assert!(text(&out).contains("pFileAddr"), "{}", text(&out));
    }
}
