//! The national terminal interface (`docs/unified-interface.md`): its
//! vocabulary, shared by every adapter (the C library, `sscardctl unified`,
//! the browser bridge). It sits above the D-Bus client and holds no card
//! knowledge beyond the names of the files and tags the model defines.

pub mod codes;
pub mod pinentry;

pub use codes::{Code, Failure};
