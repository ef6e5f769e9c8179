//! The D-Bus surface (`docs/interfaces.md`): the daemon's objects, and the
//! proxies that `sscardctl` and the tests use.

pub mod client;
pub mod error;
pub mod server;

pub use error::Error;
pub use server::{Authorization, BUS_NAME, Daemon, MANAGER_PATH, reader_path, register, serve};
