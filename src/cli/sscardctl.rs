//! `sscardctl`'s command line: its options, commands and help texts, here
//! so that its manual page and shell completions are generated from the
//! same definitions (`tests/docs.rs`).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use sscard_service::ErrorName;

#[derive(Parser)]
#[command(
    name = "sscardctl",
    version,
    about = "Operator's client for sscardd, the social security card daemon",
    after_help = exit_codes_help()
)]
pub struct Cli {
    /// The bus of the daemon: `system` (default), `session`, or a D-Bus
    /// address such as `unix:path=/tmp/x/bus`.
    #[arg(long, global = true, value_name = "system|session|ADDRESS")]
    pub bus: Option<String>,
    /// Print JSON (`monitor`: one object per line). Byte strings are
    /// upper-case hex; the photo is never printed, only `photo_len`.
    #[arg(long, global = true)]
    pub json: bool,
    /// The reader, by PC/SC name or D-Bus object path. Default: the one
    /// that holds a social security card (FindCard). `script` needs it, as
    /// a PC/SC name.
    #[arg(long, global = true, value_name = "NAME_OR_PATH")]
    pub reader: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the readers: name, card present, kind, profile, busy; and the
    /// PSAM's reader.
    Readers,
    /// Read the card info and the holder info.
    Read {
        /// Also read the photo and write its JPEG bytes to FILE.
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
        /// `table` (default), `json` (as --json) or `bas`: the legacy
        /// iReadCardBas line of 11 fields, each followed by `|`.
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Run INTERNAL AUTHENTICATE against the PSAM and report
        /// `authentic`.
        #[arg(long)]
        authenticate: bool,
    },
    /// Personalise: write a holder record, read it back and compare.
    Write {
        /// A JSON object of the writable keys: strings, except `nation`, a
        /// number from 0 to 255.
        #[arg(value_name = "RECORD.json")]
        record: PathBuf,
        /// The holder's photo, a JPEG file (at most 8190 bytes).
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
    },
    /// The holder's PIN: status, verify, change, reload or unblock.
    Pin {
        #[command(subcommand)]
        command: PinCommand,
    },
    /// Activate the card with the holder's new PIN.
    ///
    /// Checks the holder's SSN against the card, verifies the initial PIN,
    /// sets the new PIN and, on gen3, runs ACTIVATE FILE. Reads the initial
    /// PIN, then the new one.
    Activate {
        /// The SSN on the holder's identity document.
        #[arg(long, value_name = "SSN")]
        ssn: String,
        /// Spend the PIN's last try if it comes to that.
        #[arg(long)]
        allow_last_try: bool,
        /// Read the PINs from standard input, one a line, instead of
        /// prompting.
        #[arg(long)]
        pin_stdin: bool,
        /// Type the PIN on this computer even when the reader has a PIN
        /// pad (without it, a reader's keypad collects the PINs; --pin-stdin
        /// types them on the host).
        #[arg(long)]
        no_pin_pad: bool,
    },
    /// Print the daemon's events until interrupted.
    ///
    /// One line per event, with a UTC timestamp: readers added and removed,
    /// cards inserted and removed, properties changed, the daemon started
    /// or stopped.
    Monitor,
    /// Call a function of the national terminal interface, as libsscard
    /// would, and print the return value and pOutInfo.
    ///
    /// The first line is the return value (0, or a negative code); the
    /// second is pOutInfo as a C caller gets it, in the library's encoding
    /// (GBK unless SSCARD_ENCODING=UTF-8). Exits 0 when the function
    /// answered 0, 1 otherwise. Example:
    /// sscardctl unified iReadCard 3 2 'CARDID|CARDNUMBER|' 'SSSEEF06|08|09|$'
    #[command(after_help = FUNCTIONS)]
    Unified {
        /// iReadCardBas, iReadCard, iWriteCard, iVerifyPIN, iChangePIN,
        /// iReloadPIN, iUnblockPIN, or an HSM Step1 (its later steps follow
        /// on standard input; a Step2 or Step3 alone answers -14, the debit
        /// and certificate functions -13).
        function: String,
        /// The function's arguments after its name, as a C caller passes
        /// them (pOutInfo excluded).
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
        /// Read PINs from standard input, one a line (a new PIN twice),
        /// instead of asking through pinentry.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Run an APDU script through pcscd, without the daemon.
    ///
    /// Runs the profile's `identify` script first (the SELECT of the
    /// application, from the profile directory FILE is in), as every
    /// operation of the daemon does, so that a freshly reset card answers;
    /// --no-select skips it. Prints each command, response and status word,
    /// the identify script's included. Needs --reader NAME, a PC/SC reader
    /// name.
    Script {
        /// The `.apdu` file, in a profile directory (beside `profile.toml`):
        /// its constants, status table and includes apply. A file outside
        /// one needs --no-select.
        file: PathBuf,
        /// Do not run the profile's `identify` script first: the card stays
        /// in the state the last program left it in.
        #[arg(long)]
        no_select: bool,
        /// The PC/SC reader of the PSAM, for `sam:` steps.
        #[arg(long)]
        sam_reader: Option<String>,
        /// An input as hex: `--var tag=07`. Secret inputs (PINs) are never
        /// taken here: they are read from standard input, one per line.
        #[arg(long = "var", value_name = "NAME=HEX")]
        vars: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum PinCommand {
    /// The PIN's tries left and whether it is blocked; spends no try.
    Status,
    /// Check the holder's PIN; a wrong one exits with 11.
    Verify {
        /// Spend the PIN's last try if it comes to that.
        #[arg(long)]
        allow_last_try: bool,
        /// Read the PIN from standard input instead of prompting.
        #[arg(long)]
        pin_stdin: bool,
        /// Type the PIN on this computer even when the reader has a PIN
        /// pad (without it, a reader's keypad collects the PINs; --pin-stdin
        /// types them on the host).
        #[arg(long)]
        no_pin_pad: bool,
    },
    /// Change the PIN: reads the old PIN, then the new one.
    Change {
        /// Spend the PIN's last try if it comes to that.
        #[arg(long)]
        allow_last_try: bool,
        /// Read the PINs from standard input, one a line, instead of
        /// prompting.
        #[arg(long)]
        pin_stdin: bool,
        /// Type the PIN on this computer even when the reader has a PIN
        /// pad (without it, a reader's keypad collects the PINs; --pin-stdin
        /// types them on the host).
        #[arg(long)]
        no_pin_pad: bool,
    },
    /// Set a forgotten PIN; needs the PSAM.
    ///
    /// The operator checks the holder's identity first. Reads the new PIN.
    Reload {
        /// Read the new PIN from standard input instead of prompting.
        #[arg(long)]
        pin_stdin: bool,
    },
    /// Reset the PIN's try counter; needs the PSAM.
    Unblock,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Bas,
}

/// The exit code of each of the daemon's errors (`org.sscard.Error.<Name>`),
/// in the contract's order.
pub fn daemon_errors() -> impl Iterator<Item = (&'static str, u8)> {
    ErrorName::ALL.iter().map(|e| (e.as_str(), e.exit_code()))
}

const HELP_HEAD: &str = "\
Exit codes:
   0  success
   1  a local error (bad JSON, an unreadable file, no terminal for a PIN prompt),
      or a D-Bus failure that is not one of the daemon's errors
   2  usage error
";

const HELP_TAIL: &str = "  69  the daemon is not on the bus, or the bus is not there (EX_UNAVAILABLE)
The daemon's errors (3 to 23) are printed as `sscardctl: <ErrorName>: <message>`.
`pin verify` with a wrong PIN is not an error of the daemon, but it prints
`wrong PIN, <n> tries left` and exits with 11 all the same.

PINs are never taken from the command line: they are prompted for without
echo, or read from standard input with --pin-stdin, one a line, in the order
of the method's arguments.

Audit trail: sscardd records every call as one event (caller uid and pid,
operation, reader, a salted hash of the card number, outcome, APDU count;
never a name, SSN, PIN or photo). Read it with journalctl:
  journalctl -u sscardd.service -g 'sscard::audit'            # as text
  journalctl -u sscardd.service -o json-pretty -g 'sscard::audit'
  journalctl -u sscardd.service -g 'sscard::audit.*outcome=\"NotAuthorized\"'   # refusals only";

/// `sscardctl --help`'s exit codes, the daemon's errors in two columns by
/// code.
pub fn exit_codes_help() -> String {
    let mut errors: Vec<(String, u8)> = daemon_errors()
        .map(|(name, code)| {
            let shown = if code == ErrorName::Internal.exit_code() {
                format!("{name}, or an error name this client does not know")
            } else {
                name.to_owned()
            };
            (shown, code)
        })
        .collect();
    errors.sort_by_key(|(_, code)| *code);
    let (left, right) = errors.split_at(errors.len().div_ceil(2));
    let mut out = HELP_HEAD.to_owned();
    for (i, (name, code)) in left.iter().enumerate() {
        let line = match right.get(i) {
            Some((other, other_code)) => format!("{code:>4}  {name:<24}{other_code}  {other}"),
            None => format!("{code:>4}  {name}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(HELP_TAIL);
    out
}

/// The functions, with the arguments each takes after its name.
pub const FUNCTIONS: &str = "\
Functions and their arguments (docs/unified-interface.md section 1):
  iReadCardBas  ITYPE
  iReadCard     ITYPE IAUTHTYPE PCARDINFO PFILEADDR
  iWriteCard    ITYPE PCARDINFO PFILEADDR PWRITEDATA
  iVerifyPIN    ITYPE
  iChangePIN    ITYPE
  iReloadPIN    ITYPE PCARDINFO
  iUnblockPIN   ITYPE PCARDINFO
  iReadCardBas_HSM_Step1  ITYPE
  iReadCard_HSM_Step1     ITYPE PCARDINFO PFILEADDR
  iWriteCard_HSM_Step1    ITYPE PCARDINFO PFILEADDR
  iReloadPIN_HSM_Step1    ITYPE PCARDINFO
  iUnblockPIN_HSM_Step1   ITYPE PCARDINFO
An HSM Step1 keeps its session: after its answer, each later step's
arguments are read from standard input, one line a step (pKey; for
iWriteCard_HSM_Step2 pKey TAB pWriteData), and each answer printed the same
way. The debit (iDoDebit, iReadDebitRecord) and certificate functions answer
-13. PINs come from pinentry (SSCARD_PINENTRY), or with --pin-stdin from
standard input, one a line (a new PIN twice), after the step's line.";
