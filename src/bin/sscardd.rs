//! `sscardd`, the D-Bus daemon. Not built yet: see issue 4.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("sscardd: not implemented yet; this placeholder exits with status 2");
    ExitCode::from(2)
}
