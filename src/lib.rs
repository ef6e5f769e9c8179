//! sscard: the card side of the Chinese IC social security card (SSSE).
//!
//! Layers, each using only the ones below it:
//! - [`transport`]: PC/SC and in-process card connections, T=0 rules
//! - [`apdu`] and [`model`]: APDUs, status words, and the card's data
//! - [`sim`]: the reference card and PSAM that the tests and demo run

pub mod apdu;
pub mod dbus;
pub mod model;
pub mod ops;
pub mod script;
pub mod service;
pub mod sim;
pub mod transport;
