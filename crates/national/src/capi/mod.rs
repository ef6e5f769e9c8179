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

use crate::pinentry::Pinentry;
use crate::{Bus, Code, Encoding, NationalError, OUT_SIZE, READ_OUT_SIZE, Terminal, answer};

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

/// Reads the basic information: the eleven fields of section 3.
///
/// # Safety
/// `pOutInfo` points to at least 1024 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iReadCardBas(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract.
    unsafe { call(pOutInfo, OUT_SIZE, |lib, _| with_terminal(lib, async |t| t.read_card_bas(iType).await)) }
}

/// Reads the items `pFileAddr` names of the card `pCardInfo` names.
///
/// # Safety
/// The string arguments are NUL-terminated; `pOutInfo` points to at least
/// 20480 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iReadCard(
    iType: c_int,
    iAuthType: c_int,
    pCardInfo: *const c_char,
    pFileAddr: *const c_char,
    pOutInfo: *mut c_char,
) -> c_long {
    // SAFETY: the caller's contract.
    unsafe {
        call(pOutInfo, READ_OUT_SIZE, |lib, enc| {
            let card_info = text_arg(pCardInfo, "pCardInfo", enc)?;
            let file_addr = text_arg(pFileAddr, "pFileAddr", enc)?;
            with_terminal(lib, async |t| t.read_card(iType, iAuthType, &card_info, &file_addr).await)
        })
    }
}

/// Writes `pWriteData` into the items `pFileAddr` names.
///
/// # Safety
/// The string arguments are NUL-terminated; `pOutInfo` points to at least
/// 1024 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iWriteCard(
    iType: c_int,
    pCardInfo: *const c_char,
    pFileAddr: *const c_char,
    pWriteData: *const c_char,
    pOutInfo: *mut c_char,
) -> c_long {
    // SAFETY: the caller's contract.
    unsafe {
        call(pOutInfo, OUT_SIZE, |lib, enc| {
            let card_info = text_arg(pCardInfo, "pCardInfo", enc)?;
            let file_addr = text_arg(pFileAddr, "pFileAddr", enc)?;
            let write_data = text_arg(pWriteData, "pWriteData", enc)?;
            with_terminal(lib, async |t| t.write_card(iType, &card_info, &file_addr, &write_data).await)
        })
    }
}

/// Verifies the PIN the holder types (pinentry, section 5).
///
/// # Safety
/// `pOutInfo` points to at least 1024 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iVerifyPIN(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract.
    unsafe {
        call(pOutInfo, OUT_SIZE, |lib, _| {
            let mut pins = Pinentry::from_env();
            with_terminal(lib, async |t| t.verify_pin(iType, &mut pins).await)
        })
    }
}

/// Changes the PIN: the old one, then the new one twice.
///
/// # Safety
/// `pOutInfo` points to at least 1024 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iChangePIN(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract.
    unsafe {
        call(pOutInfo, OUT_SIZE, |lib, _| {
            let mut pins = Pinentry::from_env();
            with_terminal(lib, async |t| t.change_pin(iType, &mut pins).await)
        })
    }
}

/// Sets a new PIN on the card `pCardInfo` names (the PSAM's MAC).
///
/// # Safety
/// `pCardInfo` is NUL-terminated; `pOutInfo` points to at least 1024
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iReloadPIN(iType: c_int, pCardInfo: *const c_char, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract.
    unsafe {
        call(pOutInfo, OUT_SIZE, |lib, enc| {
            let card_info = text_arg(pCardInfo, "pCardInfo", enc)?;
            let mut pins = Pinentry::from_env();
            with_terminal(lib, async |t| t.reload_pin(iType, &card_info, &mut pins).await)
        })
    }
}

/// Resets the try counter of the card `pCardInfo` names (the PSAM's MAC).
///
/// # Safety
/// `pCardInfo` is NUL-terminated; `pOutInfo` points to at least 1024
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iUnblockPIN(iType: c_int, pCardInfo: *const c_char, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract.
    unsafe {
        call(pOutInfo, OUT_SIZE, |lib, enc| {
            let card_info = text_arg(pCardInfo, "pCardInfo", enc)?;
            with_terminal(lib, async |t| t.unblock_pin(iType, &card_info).await)
        })
    }
}

/// The encryption-machine (HSM) functions of section 7: each step of a
/// session the daemon holds; the library keeps its object path between the
/// steps, one per process.
macro_rules! hsm_functions {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $kind:ident),*) $size:ident => |$t:ident, $pins:ident| $body:expr;)*) => {
        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// The string arguments are NUL-terminated; `pOutInfo` points to at
            /// least as many writable bytes as section 1 says (20480 for
            /// `iReadCard_HSM_Step2`, else 1024).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name($($arg: hsm_functions!(@ty $kind),)* pOutInfo: *mut c_char) -> c_long {
                // SAFETY: the caller's contract.
                unsafe {
                    call(pOutInfo, $size, |lib, enc| {
                        let _ = enc;
                        $(let $arg = hsm_functions!(@arg $kind, $arg, enc);)*
                        #[allow(unused_mut, unused_variables)]
                        let mut $pins = Pinentry::from_env();
                        with_terminal(lib, async |$t| $body)
                    })
                }
            }
        )*
    };
    (@ty int) => { c_int };
    (@ty text) => { *const c_char };
    (@arg int, $arg:ident, $enc:ident) => { $arg };
    (@arg text, $arg:ident, $enc:ident) => { text_arg($arg, stringify!($arg), $enc)? };
}

hsm_functions! {
    /// Step1 of reading the basic information without a PSAM.
    iReadCardBas_HSM_Step1(iType: int) OUT_SIZE => |t, pins| t.read_card_bas_hsm_step1(iType).await;
    /// Step2: the back end's `pKey`; the eleven fields.
    iReadCardBas_HSM_Step2(pKey: text) OUT_SIZE => |t, pins| t.read_card_bas_hsm_step2(&pKey).await;
    /// Step1 of a generic read without a PSAM.
    iReadCard_HSM_Step1(iType: int, pCardInfo: text, pFileAddr: text) OUT_SIZE
        => |t, pins| t.read_card_hsm_step1(iType, &pCardInfo, &pFileAddr).await;
    /// Step2: the back end's cryptogram; the items read.
    iReadCard_HSM_Step2(pKey: text) READ_OUT_SIZE => |t, pins| t.read_card_hsm_step2(&pKey).await;
    /// Step1 of a generic write without a PSAM.
    iWriteCard_HSM_Step1(iType: int, pCardInfo: text, pFileAddr: text) OUT_SIZE
        => |t, pins| t.write_card_hsm_step1(iType, &pCardInfo, &pFileAddr).await;
    /// Step2: the back end's cryptogram and the data to write.
    iWriteCard_HSM_Step2(pKey: text, pWriteData: text) OUT_SIZE
        => |t, pins| t.write_card_hsm_step2(&pKey, &pWriteData).await;
    /// Step1 of a PIN reload without a PSAM.
    iReloadPIN_HSM_Step1(iType: int, pCardInfo: text) OUT_SIZE => |t, pins| t.reload_pin_hsm_step1(iType, &pCardInfo).await;
    /// Step2: the new PIN (pinentry), and the command for the back end to MAC.
    iReloadPIN_HSM_Step2(pKey: text) OUT_SIZE => |t, pins| t.reload_pin_hsm_step2(&pKey, &mut pins).await;
    /// Step3: the back end's command with its MAC.
    iReloadPIN_HSM_Step3(pKey: text) OUT_SIZE => |t, pins| t.reload_pin_hsm_step3(&pKey).await;
    /// Step1 of a PIN unblock without a PSAM.
    iUnblockPIN_HSM_Step1(iType: int, pCardInfo: text) OUT_SIZE
        => |t, pins| t.unblock_pin_hsm_step1(iType, &pCardInfo).await;
    /// Step2: the command for the back end to MAC.
    iUnblockPIN_HSM_Step2(pKey: text) OUT_SIZE => |t, pins| t.unblock_pin_hsm_step2(&pKey).await;
    /// Step3: the back end's command with its MAC.
    iUnblockPIN_HSM_Step3(pKey: text) OUT_SIZE => |t, pins| t.unblock_pin_hsm_step3(&pKey).await;
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
}
