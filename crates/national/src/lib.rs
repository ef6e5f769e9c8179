//! The national terminal interface (`docs/unified-interface.md`): its
//! vocabulary, shared by every adapter (the C library, `sscardctl unified`,
//! the browser bridge). It sits above the D-Bus client and holds no card
//! knowledge beyond the names of the files and tags the model defines.
//!
//! - [`codes`]: the return codes, their messages, and the daemon's errors
//!   mapped to them;
//! - [`format`]: `pCardInfo`, `pFileAddr`, `pWriteData`, the outputs and
//!   the value forms, GBK or UTF-8;
//! - [`pinentry`]: where PINs come from without a PIN pad;
//! - `hsm`: the HSM functions (section 7), `pKey` parsed into the
//!   daemon's session fields and the step outputs formatted;
//! - [`terminal`]: the functions themselves, over the daemon;
//! - [`dispatch`]: a function's name and arguments to its call, by the
//!   contract's function table: the one dispatch every adapter shares.

pub mod capi;
pub mod codes;
pub mod dispatch;
pub mod format;
mod hsm;
pub mod pinentry;
pub mod terminal;

pub use codes::{Code, NationalError};
pub use format::Encoding;
pub use terminal::{Bus, Terminal};

/// `pOutInfo`'s sizes, in bytes with the NUL: the contract's (its function
/// table gives each function's).
pub use sscard_contract::national::{OUT_SIZE, READ_OUT_SIZE};

/// A function's answer as its caller sees it: the return value, and the
/// bytes of `pOutInfo` in `encoding`, without the NUL, fewer than `size`.
/// A result that does not fit is -14, with a short message in its place.
pub fn answer(result: Result<String, NationalError>, size: usize, encoding: Encoding) -> (i32, Vec<u8>) {
    let (code, text) = match result {
        Ok(text) => (0, text),
        Err(failure) => (failure.code.value(), failure.message()),
    };
    let refused = match encoding.encode(&text) {
        Ok(bytes) if bytes.len() < size => return (code, bytes),
        Ok(bytes) => NationalError::with(
            Code::BadArgument,
            format!("the result ({} bytes) does not fit pOutInfo ({size})", bytes.len()),
        ),
        Err(_) => NationalError::with(Code::BadArgument, "the result holds a character the encoding cannot carry"),
    };
    // The interface's own messages are ASCII and GBK: they always encode.
    let mut message = encoding.encode(&refused.message()).unwrap_or_default();
    message.truncate(size.saturating_sub(1));
    (refused.code.value(), message)
}
