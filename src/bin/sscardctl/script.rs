//! `sscardctl script`: an APDU script run directly through pcscd, without
//! the daemon.

use std::path::Path;

use sscard_model::{Field, Pin};
use sscard_script::{Cards, Profile, Script, TraceEntry, Values};
use sscard_transport::{CardConnection, PcscConnection, Transport};

/// The profile script that selects the application; every operation of
/// the daemon starts with it.
const IDENTIFY: &str = "identify";

/// What runs: the profile's `identify` script unless skipped, then the
/// script, with the profile's constants and status table.
struct Loaded {
    /// The identify script, with the constants alone: it takes no inputs.
    identify: Option<(Script, Values)>,
    script: Script,
    values: Values,
    table: sscard_script::StatusTable,
}

/// The profile's constants, as values the scripts may name.
fn constants(profile: &Profile) -> Values {
    let mut values = Values::new();
    for (name, bytes) in &profile.constants {
        values.set(name, bytes.clone());
    }
    values
}

/// The script, its profile's constants and status table, and, if `select`,
/// the profile's `identify` script to run first.
fn load(file: &Path, select: bool) -> Result<Loaded, String> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.join("profile.toml").is_file() {
        let profile = sscard_script::load_profile(dir, &[]).map_err(|e| e.to_string())?;
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let script = profile.script(&stem).cloned().ok_or_else(|| format!("{}: not found", file.display()))?;
        // The identify script itself needs no second run before it.
        let identify = if select && stem != IDENTIFY {
            let identify = profile.script(IDENTIFY).cloned().ok_or_else(|| {
                format!(
                    "{}: the profile has no {IDENTIFY}.apdu to select the application first; \
                     give --no-select to run the script as it is",
                    dir.display()
                )
            })?;
            Some((identify, constants(&profile)))
        } else {
            None
        };
        return Ok(Loaded { identify, script, values: constants(&profile), table: profile.status });
    }
    if select {
        return Err(format!(
            "{}: not inside a profile directory (no profile.toml beside it), so there is no {IDENTIFY} \
             script to select the application first; give --no-select to run the script as it is",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let script = sscard_script::parse(&file.display().to_string(), &text, &[]).map_err(|e| e.to_string())?;
    Ok(Loaded { identify: None, script, values: Values::new(), table: sscard_script::StatusTable::default() })
}

pub fn run_script(
    file: &Path,
    reader: &str,
    sam_reader: Option<&str>,
    vars: &[String],
    select: bool,
) -> Result<(), String> {
    let Loaded { identify, script, mut values, table } = load(file, select)?;
    for var in vars {
        let (name, hex_value) = var.split_once('=').ok_or_else(|| format!("--var {var:?}: expected NAME=HEX"))?;
        if script.secrets.contains(name) {
            return Err(format!(
                "--var {name}: a secret input is read from standard input, never from the command line"
            ));
        }
        let bytes = hex::decode(hex_value.replace(' ', "")).map_err(|e| format!("--var {name}: not hex: {e}"))?;
        values.set(name, bytes);
    }
    // Secret inputs (PINs): digits from standard input, packed BCD.
    for name in script.inputs.iter().filter(|n| script.secrets.contains(*n)) {
        let line = crate::pins::stdin_line(name)?;
        let pin = Pin::parse(&line, Field::Pin).map_err(|e| format!("{name}: {e}"))?;
        values.put(name, pin.to_bcd());
    }
    if let Some(missing) = script.inputs.iter().find(|n| values.get(n).is_none()) {
        return Err(format!("input {missing:?} was not given (--var {missing}=HEX)"));
    }

    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| format!("pcscd: {e}"))?;
    let mut card = PcscConnection::connect(&ctx, reader).map_err(|e| format!("{reader}: {e}"))?;
    let mut sam = match sam_reader {
        Some(name) => Some(PcscConnection::connect(&ctx, name).map_err(|e| format!("{name}: {e}"))?),
        None => None,
    };
    let mut card_tx = card.begin().map_err(|e| e.to_string())?;
    let mut sam_tx = match sam.as_mut() {
        Some(s) => Some(s.begin().map_err(|e| e.to_string())?),
        None => None,
    };
    println!("card: {reader}  ATR {}", hex::encode_upper(card_tx.atr()));
    let mut cards = Cards::new(&mut card_tx, sam_tx.as_mut().map(|t| t as &mut dyn Transport));
    let mut trace = |e: &TraceEntry<'_>| {
        println!("{}:{}", e.step.pos.file, e.step.pos.line);
        println!("  {} > {}", e.step.slot, e.command_shown());
        println!(
            "  {} < {}{}{}",
            e.step.slot,
            hex::encode_upper(e.response_data),
            if e.response_data.is_empty() { "" } else { " " },
            e.sw
        );
    };
    // The SELECT of the application first, printed like any other step.
    let mut ran = Vec::new();
    let (identify, identify_values) = identify.unzip();
    if let (Some(identify), Some(identify_values)) = (&identify, identify_values) {
        let done =
            sscard_script::run(identify, &table, &mut cards, identify_values, &mut trace).map_err(|e| e.to_string())?;
        ran.push((identify, done));
    }
    let done = sscard_script::run(&script, &table, &mut cards, values, &mut trace).map_err(|e| e.to_string())?;
    ran.push((&script, done));
    println!("ok: {} APDUs", ran.iter().map(|(_, done)| done.apdus).sum::<u64>());
    for (script, done) in &ran {
        let mut names: Vec<&str> = sscard_script::syntax::captures(script).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            if let Some(bytes) = done.values.get(name) {
                println!("  {name} = {}", hex::encode_upper(bytes));
            }
        }
    }
    Ok(())
}
