//! sscard: the card side of the Chinese IC social security card (SSSE).
//!
//! The contract is the project's `docs/`: `card-profile.md` (the card),
//! `interfaces.md` (D-Bus and the command lines) and `benchmarks.md`.
//!
//! Layers, each using only the ones below it:
//! - [`transport`]: the backend seam. A [`transport::CardConnection`] begins
//!   transactions and reconnects; only a [`transport::CardTransaction`]
//!   transmits, and it ends explicitly, leaving the card or resetting it.
//!   PC/SC through pcscd ([`transport::PcscBackend`]) and in-process readers
//!   ([`transport::VirtualBackend`]) implement it; T=0 continuations are
//!   resolved here.
//! - [`apdu`] and [`model`]: command and response APDUs, typed status
//!   words, and the card's data (EF05, EF06, EF08, PINs, the SSN, GBK names,
//!   the consistency rules). The model is the only place that knows them.
//! - [`script`]: the script engine. Profiles of declarative APDU scripts
//!   (`apdu-scripts/`), parsed and checked at load, run over a card and a
//!   PSAM slot; scripts declare their effects (a PIN try, an open security
//!   state), and a run reports them.
//! - [`ops`]: typed operations (read, personalise, PIN, activate) that join
//!   the model with the profile's scripts. Each returns its value, its APDU
//!   count and its effects. No PC/SC, no D-Bus.
//! - [`service`]: readers and their workers, generic over the backend: one
//!   transaction per call, FIFO per reader, readers in parallel, the PSAM
//!   shared, the session ended as the effects say, the audit trail, and the
//!   contract's error names ([`service::ErrorName`], defined once).
//! - [`dbus`]: `org.sscard.Manager1` and `org.sscard.Reader1` over the
//!   service, and the typed proxies clients use. It holds no card knowledge.
//! - [`unified`]: the national terminal interface's vocabulary (return
//!   codes, `pCardInfo`/`pFileAddr`/`pWriteData`, the value forms, GBK) and
//!   its functions over the D-Bus client; the C library and
//!   `sscardctl unified` are thin adapters of it.
//! - The binaries `sscardd`, `sscardctl` and `sscard-sim` sit on top; their
//!   command lines are defined in [`cli`] (clap only), where their manual
//!   pages and shell completions are generated from.
//! - [`sim`]: the reference card and PSAM, for vpcd (`sscard-sim`) and in
//!   process; it shares with the terminal side only generic ISO 7816 parsing
//!   and the model's element tables.

pub mod apdu;
pub mod bridge;
pub mod capi;
pub mod cli;
pub mod dbus;
pub mod model;
pub mod ops;
pub mod script;
pub mod service;
pub mod sim;
pub mod transport;
pub mod unified;
