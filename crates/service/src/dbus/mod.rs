//! The D-Bus surface of the daemon (`docs/interfaces.md`): its objects over
//! the reader service, and the encoding of its errors. Clients use the
//! proxies of `sscard-client`.

pub mod error;
pub mod server;

pub use error::Error;
pub use server::{Authorization, BUS_NAME, Daemon, MANAGER_PATH, reader_path, register, serve};
