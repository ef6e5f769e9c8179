//! Script profiles: a directory of `.apdu` scripts and a `profile.toml`
//! manifest saying how a card is recognised, the constants the scripts
//! share, the PIN rules and the status table.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use super::status::{StatusClass, StatusTable};
use super::syntax::{ParseError, Pos, Script, captures, parse_with_includes};
use sscard_model::{Field, Generation, Pin, SpecVersion};

/// Why the profiles could not be loaded. The daemon refuses to start.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Manifest { path: String, message: String },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{path}: missing script {name}.apdu, which operation {operation} needs")]
    MissingScript { path: String, name: String, operation: String },
    #[error("{path}: input {input:?} is not one that operation {operation} gives (it gives {given})")]
    UnknownInput { path: String, input: String, operation: String, given: String },
    #[error(
        "{pos}: operation {operation} reads {capture:?}, which this script never captures (expected a step with `=> {capture}`)"
    )]
    MissingCapture { pos: Pos, capture: String, operation: String },
    #[error(
        "{pos}: operation {operation} hands its client {name:?}, which this script never yields (expected `yield {name}`)"
    )]
    MissingYield { pos: Pos, name: String, operation: String },
    #[error("{0}: no profiles found")]
    NoProfiles(String),
    #[error("{first} and {second} recognise the same cards")]
    Overlap { first: String, second: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    name: String,
    #[serde(default)]
    description: String,
    identify: IdentifyFile,
    #[serde(default)]
    constants: BTreeMap<String, String>,
    pin: PinFile,
    #[serde(default)]
    status: BTreeMap<String, String>,
    /// Scripts that stand in for others where extended APDUs cannot go.
    #[serde(default, rename = "short-apdus")]
    short_apdus: BTreeMap<String, String>,
    /// Scripts that stand in for others when the reader's keypad enters
    /// the PINs.
    #[serde(default, rename = "pin-pad")]
    pin_pad: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifyFile {
    aid: String,
    algorithm: String,
    life_cycle: bool,
    spec_version: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinFile {
    initial: String,
    new_length: usize,
}

/// How a profile recognises its cards after SELECT of the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identify {
    pub aid: Vec<u8>,
    /// The FCI's `9F0C` algorithm byte.
    pub algorithm: u8,
    /// Whether the FCI carries an `8A` life-cycle byte.
    pub life_cycle: bool,
    /// EF05 tag 03 when written (a blank card has none).
    pub spec_version: SpecVersion,
}

/// One loaded profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub dir: PathBuf,
    pub identify: Identify,
    pub constants: BTreeMap<String, Vec<u8>>,
    /// The generation its spec version names.
    pub generation: Generation,
    pub initial_pin: Pin,
    pub new_pin_length: usize,
    pub status: StatusTable,
    pub scripts: HashMap<String, Script>,
    /// The scripts as they run where the card or the reader takes only
    /// short APDUs: those the manifest's `[short-apdus]` names replaced by
    /// their stand-ins, in every script that includes them too. Empty when
    /// the profile needs no stand-in.
    pub short_scripts: HashMap<String, Script>,
    /// The manifest's `[pin-pad]`: the script that runs in a script's
    /// place when the reader's keypad enters the PINs.
    pub pin_pad_stand_ins: BTreeMap<String, String>,
}

impl Profile {
    pub fn script(&self, name: &str) -> Option<&Script> {
        self.scripts.get(name)
    }

    /// The script `name` as it runs on a card that takes extended APDUs in
    /// its reader, or does not (`extended`): the stand-in where the
    /// manifest names one.
    pub fn script_for(&self, name: &str, extended: bool) -> Option<&Script> {
        match self.short_scripts.get(name) {
            Some(short) if !extended => Some(short),
            _ => self.scripts.get(name),
        }
    }

    /// As [`Profile::script_for`], with the `[pin-pad]` stand-in in its
    /// place when the keypad enters the PINs (`keypad`).
    pub fn script_for_entry(&self, name: &str, extended: bool, keypad: bool) -> Option<&Script> {
        let name = match self.pin_pad_stand_ins.get(name) {
            Some(stand_in) if keypad => stand_in.as_str(),
            _ => name,
        };
        match self.short_scripts.get(name) {
            Some(short) if !extended => Some(short),
            _ => self.scripts.get(name),
        }
    }
}

/// An operation's contract with the scripts: the script it runs and the
/// inputs it gives. Checked at load, so a script never fails at first use
/// for want of an input.
#[derive(Debug, Clone, Copy)]
pub struct ScriptNeed {
    pub operation: &'static str,
    pub script: &'static str,
    pub gives: &'static [&'static str],
    /// The captures the operation reads from what the script leaves.
    pub reads: &'static [&'static str],
    /// Whether every profile must have it (some steps are gen3 only).
    pub required: bool,
    /// The values a session's script hands its client (`yield`).
    pub yields: &'static [&'static str],
}

fn hex_bytes(path: &str, what: &str, text: &str) -> Result<Vec<u8>, LoadError> {
    hex::decode(text.replace(' ', ""))
        .map_err(|e| LoadError::Manifest { path: path.to_owned(), message: format!("{what}: not hex: {e}") })
}

/// Parses a profile's scripts on demand, so `include` can name any of
/// them, and refuses include cycles.
struct ScriptLoader<'a> {
    sources: &'a BTreeMap<String, (String, String)>,
    constants: &'a [(&'a str, usize)],
    /// Scripts whose source is another's (`[short-apdus]`), where named
    /// or included.
    stand_ins: &'a BTreeMap<String, String>,
    done: HashMap<String, Script>,
    active: Vec<String>,
}

impl ScriptLoader<'_> {
    fn load(&mut self, name: &str) -> Result<Script, ParseError> {
        if let Some(script) = self.done.get(name) {
            return Ok(script.clone());
        }
        let source = self.stand_ins.get(name).map_or(name, String::as_str);
        let Some((path, text)) = self.sources.get(source) else {
            return Err(ParseError {
                pos: super::syntax::Pos { file: name.to_owned(), line: 1, column: 1 },
                expected: "an existing script".into(),
                found: format!("{name:?}"),
            });
        };
        if self.active.iter().any(|a| a == name) {
            return Err(ParseError {
                pos: super::syntax::Pos { file: path.clone(), line: 1, column: 1 },
                expected: "no include cycle".into(),
                found: format!("{} -> {name}", self.active.join(" -> ")),
            });
        }
        self.active.push(name.to_owned());
        let sources = self.sources;
        let constants = self.constants;
        let result = parse_with_includes(path, text, constants, &mut |included: &str| {
            if sources.contains_key(included) { Some(self.load(included)) } else { None }
        });
        self.active.pop();
        let script = result?;
        self.done.insert(name.to_owned(), script.clone());
        Ok(script)
    }
}

/// Loads one profile directory and checks every script in it.
pub fn load_profile(dir: &Path, needs: &[ScriptNeed]) -> Result<Profile, LoadError> {
    let manifest_path = dir.join("profile.toml");
    let shown = manifest_path.display().to_string();
    let text = fs::read_to_string(&manifest_path).map_err(|source| LoadError::Io { path: shown.clone(), source })?;
    let m: ManifestFile =
        toml::from_str(&text).map_err(|e| LoadError::Manifest { path: shown.clone(), message: e.to_string() })?;
    let bad = |message: String| LoadError::Manifest { path: shown.clone(), message };
    let algorithm = hex_bytes(&shown, "identify.algorithm", &m.identify.algorithm)?;
    let [algorithm] = algorithm[..] else { return Err(bad("identify.algorithm must be one byte".into())) };
    let spec_version =
        SpecVersion::parse(&m.identify.spec_version).map_err(|e| bad(format!("identify.spec_version: {e}")))?;
    let Some(generation) = spec_version.generation() else {
        return Err(bad(format!(
            "identify.spec_version: {:?} is no generation this daemon knows (3.00 or 2.00)",
            m.identify.spec_version
        )));
    };
    let identify = Identify {
        aid: hex_bytes(&shown, "identify.aid", &m.identify.aid)?,
        algorithm,
        life_cycle: m.identify.life_cycle,
        spec_version,
    };
    let mut constants = BTreeMap::new();
    for (name, value) in &m.constants {
        constants.insert(name.clone(), hex_bytes(&shown, &format!("constants.{name}"), value)?);
    }
    let mut status = StatusTable::default();
    for (key, class) in &m.status {
        let class =
            StatusClass::from_name(class).ok_or_else(|| bad(format!("status.{key}: unknown outcome {class:?}")))?;
        status.add(key, class).map_err(bad)?;
    }
    let initial_pin =
        Pin::parse(&m.pin.initial, Field::Pin).map_err(|_| bad("pin.initial must be 4 to 12 digits".into()))?;
    if !(4..=12).contains(&m.pin.new_length) {
        return Err(bad("pin.new_length must be 4 to 12".into()));
    }

    let constant_lengths: Vec<(&str, usize)> = constants.iter().map(|(n, v)| (n.as_str(), v.len())).collect();
    let entries = fs::read_dir(dir).map_err(|source| LoadError::Io { path: dir.display().to_string(), source })?;
    let mut sources = BTreeMap::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "apdu"))
    {
        let shown_path = path.display().to_string();
        let text = fs::read_to_string(&path).map_err(|source| LoadError::Io { path: shown_path.clone(), source })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        sources.insert(name, (shown_path, text));
    }
    let no_stand_ins = BTreeMap::new();
    let mut loader = ScriptLoader {
        sources: &sources,
        constants: &constant_lengths,
        stand_ins: &no_stand_ins,
        done: HashMap::new(),
        active: Vec::new(),
    };
    for name in sources.keys() {
        loader.load(name)?;
    }
    let scripts = loader.done;
    let short_scripts = short_apdu_scripts(&shown, &sources, &constant_lengths, &m.short_apdus, &scripts)?;
    for (name, stand_in) in &m.pin_pad {
        check_stand_in(&shown, "pin-pad", name, stand_in, &scripts)?;
    }
    for need in needs {
        match scripts.get(need.script) {
            None if need.required => {
                return Err(LoadError::MissingScript {
                    path: dir.display().to_string(),
                    name: need.script.to_owned(),
                    operation: need.operation.to_owned(),
                });
            }
            None => {}
            Some(script) => {
                let awaited = script.awaits().map(str::to_owned);
                let inputs: Vec<String> = script.inputs.iter().cloned().chain(awaited).collect();
                if let Some(input) = inputs.iter().find(|i| !need.gives.contains(&i.as_str())) {
                    return Err(LoadError::UnknownInput {
                        path: script.file.clone(),
                        input: input.clone(),
                        operation: need.operation.to_owned(),
                        given: need.gives.join(", "),
                    });
                }
                let yielded: Vec<&str> = script.yields().collect();
                if let Some(missing) = need.yields.iter().find(|y| !yielded.contains(y)) {
                    // Where the value was expected: the script's last `yield`.
                    let last_yield = script.items.iter().rev().find_map(|item| match item {
                        super::syntax::Item::Directive(super::syntax::Directive::Yield { pos, .. }) => {
                            Some(pos.clone())
                        }
                        _ => None,
                    });
                    let pos = last_yield.unwrap_or(Pos { file: script.file.clone(), line: 1, column: 1 });
                    return Err(LoadError::MissingYield {
                        pos,
                        name: (*missing).to_owned(),
                        operation: need.operation.to_owned(),
                    });
                }
                let captured: Vec<&str> = captures(script).collect();
                if let Some(missing) = need.reads.iter().find(|r| !captured.contains(r)) {
                    // Where the capture was expected: the script's last step.
                    let pos = script.steps().last().map(|s| s.pos.clone()).unwrap_or(Pos {
                        file: script.file.clone(),
                        line: 1,
                        column: 1,
                    });
                    return Err(LoadError::MissingCapture {
                        pos,
                        capture: (*missing).to_owned(),
                        operation: need.operation.to_owned(),
                    });
                }
            }
        }
    }
    Ok(Profile {
        name: m.name,
        description: m.description,
        dir: dir.to_owned(),
        identify,
        constants,
        generation,
        initial_pin,
        new_pin_length: m.pin.new_length,
        status,
        scripts,
        short_scripts,
        pin_pad_stand_ins: m.pin_pad,
    })
}

/// The profile's scripts as they run without extended APDUs: each script
/// `[short-apdus]` names is replaced by its stand-in, which must take the
/// same inputs and capture at least what it captures, so that no caller
/// can tell the two apart but by the APDUs.
fn short_apdu_scripts(
    manifest: &str,
    sources: &BTreeMap<String, (String, String)>,
    constants: &[(&str, usize)],
    stand_ins: &BTreeMap<String, String>,
    scripts: &HashMap<String, Script>,
) -> Result<HashMap<String, Script>, LoadError> {
    if stand_ins.is_empty() {
        return Ok(HashMap::new());
    }
    let bad = |message: String| LoadError::Manifest { path: manifest.to_owned(), message };
    for (name, stand_in) in stand_ins {
        if stand_ins.contains_key(stand_in) {
            return Err(bad(format!("short-apdus.{name}: {stand_in} has a stand-in of its own")));
        }
        check_stand_in(manifest, "short-apdus", name, stand_in, scripts)?;
    }
    let mut loader = ScriptLoader { sources, constants, stand_ins, done: HashMap::new(), active: Vec::new() };
    for name in sources.keys() {
        loader.load(name)?;
    }
    Ok(loader.done)
}

/// A stand-in (`[table]`'s `name = "stand_in"`) must take the same inputs
/// as the script it stands in for, capture at least what it captures and
/// agree on the PSAM, so that no caller can tell the two apart.
fn check_stand_in(
    manifest: &str,
    table: &str,
    name: &str,
    stand_in: &str,
    scripts: &HashMap<String, Script>,
) -> Result<(), LoadError> {
    let bad = |message: String| LoadError::Manifest { path: manifest.to_owned(), message };
    let (Some(original), Some(replacement)) = (scripts.get(name), scripts.get(stand_in)) else {
        let missing = if scripts.contains_key(name) { stand_in } else { name };
        return Err(bad(format!("{table}.{name}: no script {missing}.apdu")));
    };
    let inputs = |s: &Script| {
        let mut i: Vec<String> = s.inputs.iter().cloned().chain(s.awaits().map(str::to_owned)).collect();
        i.sort();
        i
    };
    if inputs(original) != inputs(replacement) {
        return Err(bad(format!(
            "{table}.{name}: {stand_in}.apdu takes [{}], not the same inputs as {name}.apdu ([{}])",
            inputs(replacement).join(", "),
            inputs(original).join(", ")
        )));
    }
    let uses_sam = |s: &Script| s.steps().any(|step| step.slot == super::syntax::Slot::Sam);
    if uses_sam(original) != uses_sam(replacement) {
        return Err(bad(format!("{table}.{name}: {stand_in}.apdu and {name}.apdu must agree on using the PSAM")));
    }
    let captured: Vec<&str> = captures(replacement).collect();
    if let Some(missing) = captures(original).find(|c| !captured.contains(c)) {
        return Err(bad(format!("{table}.{name}: {stand_in}.apdu never captures {missing:?}")));
    }
    Ok(())
}

/// Loads every profile under `root` (each subdirectory with a
/// `profile.toml`), in name order.
pub fn load_profiles(root: &Path, needs: &[ScriptNeed]) -> Result<Vec<Profile>, LoadError> {
    let entries = fs::read_dir(root).map_err(|source| LoadError::Io { path: root.display().to_string(), source })?;
    let mut dirs: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("profile.toml").is_file()).collect();
    dirs.sort();
    let profiles = dirs.iter().map(|d| load_profile(d, needs)).collect::<Result<Vec<_>, _>>()?;
    if profiles.is_empty() {
        return Err(LoadError::NoProfiles(root.display().to_string()));
    }
    for (i, a) in profiles.iter().enumerate() {
        if let Some(b) = profiles[i + 1..].iter().find(|b| b.identify == a.identify) {
            return Err(LoadError::Overlap { first: a.name.clone(), second: b.name.clone() });
        }
    }
    Ok(profiles)
}
