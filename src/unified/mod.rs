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
//! - [`terminal`]: the functions themselves, over the daemon.

pub mod codes;
pub mod format;
pub mod pinentry;
pub mod terminal;

pub use codes::{Code, Failure};
pub use format::Encoding;
pub use terminal::{Bus, Terminal};
