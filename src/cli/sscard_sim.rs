//! `sscard-sim`'s command line, here so that its manual page and shell
//! completions are generated from the same definitions (`tests/docs.rs`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sscard-sim", version, about = "Reference SSSE social security card and PSAM for vpcd")]
pub struct Cli {
    #[command(subcommand)]
    pub role: Role,
}

#[derive(clap::Args)]
pub struct Common {
    /// vpcd's TCP port for the slot to insert into.
    #[arg(long)]
    pub port: u16,
    /// vpcd's host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Append every APDU and its response to FILE (PIN data redacted).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Close the connection instead of answering the Nth APDU: a card
    /// pulled out mid-operation. The APDU itself is still executed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub remove_after: Option<u64>,
    /// Delay each answer by N microseconds, to imitate a real card.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_us: u64,
    /// Delay only the APDUs with this instruction byte (hex, e.g. DC for
    /// UPDATE RECORD); may be given more than once.
    #[arg(long, value_name = "INS", value_parser = parse_ins)]
    pub latency_ins: Vec<u8>,
    /// How long to keep retrying while vpcd is not listening yet.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub connect_timeout: u64,
}

#[derive(Subcommand)]
pub enum Role {
    /// A social security card (blank unless --image names an existing image).
    Card {
        #[command(flatten)]
        common: Common,
        /// Card generation: 3 (T=1, SM4, life cycle) or 2 (T=0, 3DES).
        #[arg(long = "gen", value_parser = ["2", "3"])]
        generation: Option<String>,
        /// JSON card image: loaded if it exists, and saved atomically
        /// before every answer that changed the card.
        #[arg(long, value_name = "FILE")]
        image: Option<PathBuf>,
        /// Region code of a blank card's identifier (6 digits).
        #[arg(long, default_value = "110100")]
        region: String,
        /// Chip serial of a blank card's identifier (16 hex digits);
        /// random when not given.
        #[arg(long, value_name = "HEX")]
        serial: Option<String>,
        /// Initial PIN of a blank card.
        #[arg(long, default_value = "123456")]
        initial_pin: String,
    },
    /// A PSAM for the terminal's SAM slot.
    Psam {
        #[command(flatten)]
        common: Common,
        /// The terminal number in EF16 (12 digits).
        #[arg(long, default_value = "440300000001")]
        terminal_number: String,
        /// Hold another card centre's master keys (any name): the
        /// reference cards then refuse its cryptograms, as a real card
        /// refuses a foreign PSAM.
        #[arg(long, value_name = "NAME")]
        key_domain: Option<String>,
    },
    /// The encryption machine (HSM) of a counter without a PSAM, for tests
    /// and demos: reads an HSM step's output line (as the national
    /// functions print it) and prints the back end's answer, the next
    /// step's pKey, computed with the test keys.
    Hsm {
        /// The step's output, e.g. iReadCardBas_HSM_Step1's eight fields.
        line: String,
        /// For a reload or unblock's Step2 output: its Step1 output (F).
        first: Option<String>,
        /// Another card centre's master keys, as for `psam --key-domain`.
        #[arg(long, value_name = "NAME")]
        key_domain: Option<String>,
    },
}

/// An instruction byte in hex, e.g. `DC`.
fn parse_ins(text: &str) -> Result<u8, String> {
    u8::from_str_radix(text, 16).map_err(|_| format!("{text:?} is not an instruction byte in hex (e.g. DC)"))
}
