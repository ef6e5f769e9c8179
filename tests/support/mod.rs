//! Shared code for the integration tests and the demo.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bench;
pub mod client;
pub mod daemon;
pub mod polkit;
pub mod removal;
pub mod terminal;
