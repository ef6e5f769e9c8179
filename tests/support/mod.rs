//! Shared code for the integration tests and the demo.

pub mod bench;
pub mod client;
pub mod daemon;
pub mod polkit;
pub mod removal;
pub mod terminal;
