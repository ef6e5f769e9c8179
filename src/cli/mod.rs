//! The command lines of the four programs (clap definitions only, no
//! behaviour), in the library so that their manual pages and shell
//! completions are generated from the very definitions the programs parse
//! with (`tests/docs.rs` writes and checks `man/` and `completions/`).

pub mod sscard_bridge;
pub mod sscard_sim;
pub mod sscardctl;
pub mod sscardd;
