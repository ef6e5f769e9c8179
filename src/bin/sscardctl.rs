//! `sscardctl`, the operator's D-Bus client. Not built yet: see issue 4.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("sscardctl: not implemented yet; this placeholder exits with status 2");
    ExitCode::from(2)
}
