//! The wire contract of sscard, spelled once: what the daemon, its
//! clients (`sscardctl`, `libsscard`, `sscard-bridge`) and the tests say
//! to each other (`docs/interfaces.md`, `docs/unified-interface.md`).
//!
//! - [`bus`]: the bus name, object paths and interface names;
//! - [`error`]: the error names with their exit codes, and the details
//!   every error carries ([`ErrorDetails`]);
//! - [`rule`]: the names of the input rules an `InvalidArgument` names;
//! - [`keys`]: the dictionary keys of replies, options and HSM sessions;
//! - [`polkit`]: the action ids;
//! - [`national`]: the national interface's return codes, the mapping from
//!   an error's name and details to them, and its function table.
//!
//! It depends on nothing: the strings and numbers here are the contract,
//! and every layer takes them from here.

pub mod bus;
pub mod error;
pub mod keys;
pub mod national;
pub mod polkit;
pub mod rule;

pub use error::{ErrorDetails, ErrorName, Slot};
pub use national::Code;
