//! sscardd's command line and life cycle: refusals at start-up, and a
//! clean exit on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::bench::Bench;
use support::daemon::{PrivateBus, Sscardd, daemon_binary, scripts_dir};

fn refused(args: &[&str]) -> String {
    let out = Command::new(daemon_binary()).args(args).output().expect("run sscardd");
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn refuses_no_authorization_on_the_system_bus() {
    let err = refused(&["--bus", "system", "--authorization", "none"]);
    assert!(err.contains("--authorization none is refused on the system bus"), "{err}");
}

#[test]
fn refuses_bad_configuration_and_profiles() {
    let dir = tempfile::tempdir().expect("dir");
    let scripts = scripts_dir();
    let scripts = scripts.to_string_lossy();
    let config = dir.path().join("sscardd.toml");
    std::fs::write(&config, "terminal_device = \"T01\"\ncolour = \"red\"\n").expect("write");
    let err = refused(&["--bus", "session", "--scripts", &scripts, "--config", &config.to_string_lossy()]);
    assert!(err.contains("colour") && err.contains("sscardd.toml"), "{err}");
    std::fs::write(&config, "[timeouts]\noperation_ms = 0\n").expect("write");
    let err = refused(&["--bus", "session", "--scripts", &scripts, "--config", &config.to_string_lossy()]);
    assert!(err.contains("timeouts.operation_ms"), "{err}");
    let missing = dir.path().join("missing.toml");
    let err = refused(&["--bus", "session", "--scripts", &scripts, "--config", &missing.to_string_lossy()]);
    assert!(err.contains("missing.toml"), "{err}");
    let err = refused(&["--bus", "session", "--scripts", &dir.path().to_string_lossy()]);
    assert!(err.contains("profiles"), "{err}");
}

#[test]
fn exits_cleanly_on_sigterm() {
    let bench = Bench::start();
    let bus = PrivateBus::start(bench.dir(), None);
    let mut daemon = Sscardd::start(&bench, &bus, &[]);
    assert!(bus.has_owner("org.sscard.Daemon"));
    let asked = Instant::now();
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log_text());
    // Idle workers end at once; the shutdown grace is for operations under way.
    assert!(asked.elapsed() < Duration::from_secs(2), "{:?}", asked.elapsed());
    assert!(!bus.has_owner("org.sscard.Daemon"));
}
