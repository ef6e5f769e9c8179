//! `sscard-sim`: the reference social security card or PSAM, as a client
//! of vsmartcard's vpcd reader driver.

use std::fs::OpenOptions;
use std::io::{LineWriter, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use sscard_cli::sscard_sim::{Cli, Common, Role};
use sscard_sim::vpcd::{self, CardDevice, Device, RunEnd, RunOptions};
use sscard_sim::{self as sim, CardImage, Generation, Psam, UserCard};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sscard-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

fn bcd(digits: &str, len: usize, what: &str) -> Result<Vec<u8>, BoxError> {
    if digits.len() != len * 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be {} digits", len * 2).into());
    }
    Ok(hex::decode(digits)?)
}

fn card_device(
    generation: Option<String>,
    image: Option<PathBuf>,
    region: &str,
    serial: Option<String>,
    initial_pin: &str,
) -> Result<CardDevice, BoxError> {
    let wanted = match generation.as_deref() {
        Some("2") => Some(Generation::Gen2),
        Some(_) => Some(Generation::Gen3),
        None => None,
    };
    let existing = match &image {
        Some(path) if path.exists() => Some(CardImage::load(path)?),
        _ => None,
    };
    let card = match existing {
        Some(saved) => {
            let card = UserCard::from_image(saved).map_err(|e| format!("card image: {e}"))?;
            if wanted.is_some_and(|g| g != card.generation()) {
                return Err("--gen differs from the generation in the card image".into());
            }
            card
        }
        None => {
            let region: [u8; 3] = bcd(region, 3, "--region")?.try_into().map_err(|_| "--region")?;
            let serial: [u8; 8] = match serial {
                Some(text) => {
                    hex::decode(&text).ok().and_then(|b| b.try_into().ok()).ok_or("--serial must be 16 hex digits")?
                }
                None => {
                    let mut random = [0u8; 8];
                    getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
                    random
                }
            };
            if !(4..=12).contains(&initial_pin.len()) || !initial_pin.bytes().all(|b| b.is_ascii_digit()) {
                return Err("--initial-pin must be 4 to 12 digits".into());
            }
            UserCard::blank(wanted.unwrap_or(Generation::Gen3), region, serial, initial_pin)
        }
    };
    let mut device = CardDevice { card: sim::user_card(card), image_path: image };
    // A new image is on disk from the start, so tests can always read it.
    device.save()?;
    Ok(device)
}

fn run(cli: Cli) -> Result<(), BoxError> {
    let (common, mut device): (Common, Box<dyn Device>) = match cli.role {
        Role::Hsm { line, first, key_domain } => {
            let answer = sim::hsm::answer(&line, first.as_deref(), key_domain.as_deref())?;
            println!("{answer}");
            return Ok(());
        }
        Role::Card { common, generation, image, region, serial, initial_pin } => {
            let device = card_device(generation, image, &region, serial, &initial_pin)?;
            (common, Box::new(device))
        }
        Role::Psam { common, terminal_number, key_domain } => {
            let number: [u8; 6] =
                bcd(&terminal_number, 6, "--terminal-number")?.try_into().map_err(|_| "--terminal-number")?;
            let psam = match key_domain {
                Some(domain) => Psam::with_key_domain(number, domain),
                None => Psam::new(number),
            };
            (common, Box::new(sim::psam(psam)))
        }
    };

    let mut log_file = match &common.log {
        Some(path) => Some(LineWriter::new(
            OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => None,
    };
    let mut log = |line: &str| {
        if let Some(file) = log_file.as_mut() {
            // A log that cannot be written must not stop the card.
            let _ = writeln!(file, "{line}");
        }
    };

    // SIGTERM and SIGINT shut the socket down; the serve loop then ends
    // and we exit 0. Changes are saved before each answer, so none is lost.
    let connection: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
    let stopping = Arc::new(AtomicBool::new(false));
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    {
        let connection = Arc::clone(&connection);
        let stopping = Arc::clone(&stopping);
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                stopping.store(true, Ordering::SeqCst);
                match connection.lock().ok().and_then(|c| c.as_ref().and_then(|s| s.try_clone().ok())) {
                    Some(stream) => {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                    None => std::process::exit(0),
                }
            }
        });
    }

    let mut stream = vpcd::connect(&common.host, common.port, Duration::from_secs(common.connect_timeout))
        .map_err(|e| format!("cannot reach vpcd at {}:{}: {e}", common.host, common.port))?;
    if let Ok(mut slot) = connection.lock() {
        *slot = stream.try_clone().ok();
    }
    if stopping.load(Ordering::SeqCst) {
        return Ok(());
    }
    let options = RunOptions {
        remove_after: common.remove_after,
        latency: Duration::from_micros(common.latency_us),
        latency_ins: common.latency_ins.clone(),
    };
    let outcome = vpcd::serve(&mut stream, device.as_mut(), &options, &mut log);
    match outcome {
        Ok(RunEnd::Closed | RunEnd::Removed) => Ok(()),
        Err(_) if stopping.load(Ordering::SeqCst) => Ok(()),
        Err(e) => Err(e),
    }
}
