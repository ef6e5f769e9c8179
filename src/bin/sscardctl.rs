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

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use sscard_cli::sscardctl::{Cli, Command, Format, PinCommand};

use failure::CommandError;

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
            script::run_script(&file, &reader, sam_reader.as_deref(), &vars, !no_select).map_err(CommandError::Local)
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
        Err(CommandError::Quiet) => ExitCode::from(CommandError::Quiet.code()),
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
