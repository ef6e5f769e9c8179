//! `sscardctl`, the operator's client: a D-Bus client of `org.sscard.Daemon`
//! (`docs/interfaces.md`), plus `script`, which runs an APDU script directly
//! through pcscd without the daemon.

#[path = "sscardctl/client.rs"]
mod client;
#[path = "sscardctl/failure.rs"]
mod failure;
#[path = "sscardctl/monitor.rs"]
mod monitor;
#[path = "sscardctl/output.rs"]
mod output;
#[path = "sscardctl/pins.rs"]
mod pins;
#[path = "sscardctl/script.rs"]
mod script;
#[path = "sscardctl/unified.rs"]
mod unified;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use failure::Failure;

#[derive(Parser)]
#[command(
    name = "sscardctl",
    version,
    about = "Operator's client for sscardd, the social security card daemon",
    after_help = failure::exit_codes_help()
)]
struct Cli {
    /// The bus of the daemon: `system` (default), `session`, or a D-Bus
    /// address such as `unix:path=/tmp/x/bus`.
    #[arg(long, global = true, value_name = "system|session|ADDRESS")]
    bus: Option<String>,
    /// Print JSON (`monitor`: one object per line). Byte strings are
    /// upper-case hex; the photo is never printed, only `photo_len`.
    #[arg(long, global = true)]
    json: bool,
    /// The reader, by PC/SC name or D-Bus object path. Default: the one
    /// that holds a social security card (FindCard). `script` needs it, as
    /// a PC/SC name.
    #[arg(long, global = true, value_name = "NAME_OR_PATH")]
    reader: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    #[command(after_help = unified::FUNCTIONS)]
    Unified {
        /// iReadCardBas, iReadCard, iWriteCard, iVerifyPIN, iChangePIN,
        /// iReloadPIN or iUnblockPIN (the others answer -13).
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
enum PinCommand {
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
enum Format {
    Table,
    Json,
    Bas,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Unified { function, args, pin_stdin } => {
            if cli.json {
                usage("unified prints what a C caller gets; --json is not available for it");
            }
            let bus = cli.bus.unwrap_or_else(|| "system".to_owned());
            unified::run(&bus, cli.reader.as_deref(), &function, &args, pin_stdin)
        }
        Command::Script { file, no_select, sam_reader, vars } => {
            if cli.json {
                usage("script prints its trace as text; --json is not available for it");
            }
            let Some(reader) = cli.reader else {
                usage("script needs --reader NAME, the PC/SC reader of the card");
            };
            script::run_script(&file, &reader, sam_reader.as_deref(), &vars, !no_select).map_err(Failure::Local)
        }
        command => {
            if let Command::Read { format: Some(format), .. } = &command
                && cli.json
                && *format != Format::Json
            {
                usage("--json and --format table|bas contradict each other");
            }
            let global = client::Global {
                bus: cli.bus.unwrap_or_else(|| "system".to_owned()),
                json: cli.json,
                reader: cli.reader,
            };
            client::run(global, command)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Quiet) => ExitCode::from(Failure::Quiet.code()),
        Err(failure) => {
            eprintln!("sscardctl: {}", failure.message());
            ExitCode::from(failure.code())
        }
    }
}

/// A usage error found after parsing: clap's format and exit code 2.
fn usage(message: &str) -> ! {
    Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_lists_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for (name, code) in failure::daemon_errors() {
            assert!(help.contains(&format!("{code:>3}  {name}")), "{name} = {code} is not in --help");
        }
        assert!(help.contains("  69  "), "69 is not in --help");
    }

    #[test]
    fn a_pin_is_never_an_argument() {
        for argv in [
            &["sscardctl", "pin", "verify", "123456"][..],
            &["sscardctl", "pin", "change", "123456", "802413"],
            &["sscardctl", "activate", "--ssn", "11010519491231002X", "123456", "802413"],
            &["sscardctl", "pin", "verify", "--pin", "123456"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?} was accepted");
        }
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        for argv in [
            &["sscardctl", "--bus", "session", "--json", "--reader", "R", "read"][..],
            &["sscardctl", "read", "--bus", "session", "--json", "--reader", "R"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(cli.bus.as_deref(), Some("session"));
            assert!(cli.json);
            assert_eq!(cli.reader.as_deref(), Some("R"));
        }
    }

    #[test]
    fn script_keeps_its_command_line() {
        let cli = Cli::try_parse_from([
            "sscardctl",
            "script",
            "x.apdu",
            "--reader",
            "SSCard Bench 00 00",
            "--sam-reader",
            "SSCard Bench 00 01",
            "--var",
            "tag=07",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.reader.as_deref(), Some("SSCard Bench 00 00"));
        assert!(matches!(cli.command, Command::Script { sam_reader: Some(_), no_select: false, .. }));
        let cli = Cli::try_parse_from(["sscardctl", "script", "x.apdu", "--no-select", "--reader", "R"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cli.command, Command::Script { no_select: true, .. }));
    }
}
