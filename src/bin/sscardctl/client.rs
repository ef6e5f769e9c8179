//! The commands that talk to `org.sscard.Daemon`.

use std::path::Path;

use serde_json::{Value, json};
use sscard_client::{Dict, Manager1Proxy, Reader1Proxy};
use sscard_contract::bus::BUS_NAME;
use sscard_contract::keys::{self, opts as opt};
use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedVariant};

use crate::failure::{CommandError, one_line};
use crate::output::{
    bytes_of, bytes_variant, columns, dict_json, dict_rows, emit, emit_json, json_value, table, text, text_value,
};
use crate::pins::Pins;
use crate::{Command, Format, PinCommand};

/// The options before (or after) the command.
pub struct Global {
    pub bus: String,
    pub json: bool,
    pub reader: Option<String>,
}

/// A connection to the bus the daemon is on.
pub struct Ctl {
    pub conn: Connection,
    pub bus: String,
    pub json: bool,
    reader: Option<String>,
}

/// What was read from local files before anything goes on the bus.
enum Prepared {
    Nothing,
    Record(Dict),
}

/// Runs a D-Bus command to its end.
pub fn run(global: Global, command: Command) -> Result<(), CommandError> {
    let prepared = prepare(&command)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::Local(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let ctl = Ctl::connect(global).await?;
        ctl.execute(command, prepared).await
    })
}

/// Local input is checked, and read, before any D-Bus call.
fn prepare(command: &Command) -> Result<Prepared, CommandError> {
    match command {
        Command::Write { record, photo } => {
            let text = std::fs::read_to_string(record)
                .map_err(|e| CommandError::Local(format!("{}: cannot read: {e}", record.display())))?;
            let mut dict = crate::output::record_from_json(record, &text)?;
            if let Some(photo) = photo {
                let jpeg = std::fs::read(photo)
                    .map_err(|e| CommandError::Local(format!("{}: cannot read the photo: {e}", photo.display())))?;
                dict.insert(keys::PHOTO.to_owned(), bytes_variant(jpeg)?);
            }
            Ok(Prepared::Record(dict))
        }
        Command::Read { photo: Some(file), .. } => {
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                return Err(CommandError::Local(format!(
                    "{}: cannot write the photo there: {} is not a directory",
                    file.display(),
                    dir.display()
                )));
            }
            Ok(Prepared::Nothing)
        }
        _ => Ok(Prepared::Nothing),
    }
}

fn flag(key: &str, on: bool) -> Dict {
    let mut d = Dict::new();
    if on {
        d.insert(key.to_owned(), OwnedVariant::from(true));
    }
    d
}

impl Ctl {
    async fn connect(global: Global) -> Result<Ctl, CommandError> {
        let bus = global.bus;
        let builder = match bus.as_str() {
            "system" => zbus::connection::Builder::system(),
            "session" => zbus::connection::Builder::session(),
            address => zbus::connection::Builder::address(address),
        };
        let conn = builder.build().await.map_err(|e| {
            CommandError::Unavailable(format!("cannot connect to {}: {}", bus_label(&bus), one_line(&e.to_string())))
        })?;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
        let name = zbus::names::BusName::try_from(BUS_NAME).map_err(|e| CommandError::Bus(e.to_string()))?;
        if !dbus.name_has_owner(name).await? {
            return Err(CommandError::Unavailable(format!(
                "{BUS_NAME} is not on {} (is sscardd running?)",
                bus_label(&bus)
            )));
        }
        Ok(Ctl { conn, bus, json: global.json, reader: global.reader })
    }

    pub async fn manager(&self) -> Result<Manager1Proxy<'static>, CommandError> {
        Ok(Manager1Proxy::builder(&self.conn).cache_properties(CacheProperties::No).build().await?)
    }

    /// The reader of `--reader` (a name or a path), else FindCard's.
    async fn reader(&self) -> Result<Reader1Proxy<'static>, CommandError> {
        let manager = self.manager().await?;
        let path = match &self.reader {
            None => manager.find_card().await?,
            Some(wanted) => {
                let readers = manager.list_readers().await?;
                match readers.iter().find(|(path, name)| path.as_str() == wanted || name == wanted) {
                    Some((path, _)) => path.clone(),
                    None => {
                        let known: Vec<String> = readers.iter().map(|(_, n)| format!("{n:?}")).collect();
                        return Err(CommandError::Local(format!(
                            "no reader {wanted:?}; the daemon's readers: {}",
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        )));
                    }
                }
            }
        };
        Ok(Reader1Proxy::builder(&self.conn).path(path).cache_properties(CacheProperties::No).build().await?)
    }

    async fn execute(&self, command: Command, prepared: Prepared) -> Result<(), CommandError> {
        match command {
            Command::Readers => self.readers().await,
            Command::Read { photo, format, authenticate } => {
                let format = format.unwrap_or(if self.json { Format::Json } else { Format::Table });
                self.read(photo.as_deref(), format, authenticate).await
            }
            Command::Write { .. } => match prepared {
                Prepared::Record(record) => self.write(record).await,
                Prepared::Nothing => Err(CommandError::Local("write: no record was read".to_owned())),
            },
            Command::Pin { command } => self.pin(command).await,
            Command::Activate { ssn, allow_last_try, pin_stdin, no_pin_pad } => {
                self.activate(&ssn, allow_last_try, pin_stdin, no_pin_pad).await
            }
            Command::Monitor => crate::monitor::monitor(self).await,
            Command::Script { .. } | Command::Unified { .. } => {
                Err(CommandError::Local("this command does not run through the client".to_owned()))
            }
        }
    }

    async fn readers(&self) -> Result<(), CommandError> {
        let manager = self.manager().await?;
        let listed = manager.list_readers().await?;
        let sam = manager.sam_reader().await?;
        let interface = zbus::names::InterfaceName::from_static_str_unchecked("org.sscard.Reader1");
        let mut readers = Vec::new();
        for (path, name) in listed {
            let props = zbus::fdo::PropertiesProxy::builder(&self.conn)
                .destination(BUS_NAME)
                .path(path.clone())
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            match props.get_all(interface.clone()).await {
                Ok(p) => readers.push((path, name, p)),
                // It left between the two calls.
                Err(zbus::fdo::Error::UnknownObject(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let prop = |p: &Dict, key: &str| p.get(key).map(|v| json_value(v)).unwrap_or(Value::Null);
        let sam_name = readers.iter().find(|(path, _, _)| *path == sam).map(|(_, name, _)| name.clone());
        if self.json {
            let list: Vec<Value> = readers
                .iter()
                .map(|(path, name, p)| {
                    json!({
                        "path": path.as_str(),
                        "name": name,
                        "card_present": prop(p, "CardPresent"),
                        "atr": prop(p, "Atr"),
                        "card_kind": prop(p, "CardKind"),
                        "profile": prop(p, "Profile"),
                        "busy": prop(p, "Busy"),
                        "pin_pad": prop(p, "PinPad"),
                        "extended_apdu": prop(p, "ExtendedApdu"),
                        "features": prop(p, "Features"),
                    })
                })
                .collect();
            return emit_json(&json!({ "readers": list, "sam_reader": sam.as_str() }));
        }
        let shown = |p: &Dict, key: &str| {
            let v = p.get(key).map(|v| text_value(v)).unwrap_or_default();
            match v.as_str() {
                "true" => "yes".to_owned(),
                "false" => "no".to_owned(),
                "" => "-".to_owned(),
                _ => v,
            }
        };
        let rows: Vec<Vec<String>> = readers
            .iter()
            .map(|(path, name, p)| {
                vec![
                    path.to_string(),
                    name.clone(),
                    shown(p, "CardPresent"),
                    shown(p, "CardKind"),
                    shown(p, "Profile"),
                    shown(p, "Busy"),
                    shown(p, "PinPad"),
                    shown(p, "ExtendedApdu"),
                ]
            })
            .collect();
        let mut out = columns(&["PATH", "NAME", "CARD", "KIND", "PROFILE", "BUSY", "PINPAD", "EXTENDED"], &rows);
        out.push_str(&match (sam.as_str(), sam_name) {
            ("/", _) => "SamReader: none\n".to_owned(),
            (path, Some(name)) => format!("SamReader: {path} ({name})\n"),
            (path, None) => format!("SamReader: {path}\n"),
        });
        emit(&out)
    }

    async fn read(&self, photo: Option<&Path>, format: Format, authenticate: bool) -> Result<(), CommandError> {
        let reader = self.reader().await?;
        let mut opts = flag(opt::PHOTO, photo.is_some());
        opts.extend(flag(opt::AUTHENTICATE, authenticate));
        let info = reader.read_card(opts).await?;
        let saved = match (photo, info.get(keys::PHOTO).and_then(|v| bytes_of(v))) {
            (None, _) => Ok(None),
            (Some(file), Some(jpeg)) => std::fs::write(file, &jpeg)
                .map(|()| Some(file.to_path_buf()))
                .map_err(|e| CommandError::Local(format!("{}: cannot write the photo: {e}", file.display()))),
            (Some(file), None) => {
                Err(CommandError::Local(format!("the card holds no photo; {} was not written", file.display())))
            }
        };
        match format {
            Format::Json => emit_json(&dict_json(&info))?,
            Format::Bas => {
                // The same line as iReadCardBas gives (docs/unified-interface.md section 3).
                let (card, device) = sscard::terminal::card_values(&info);
                emit(&sscard::format::bas_line(&card, &device))?;
            }
            Format::Table => {
                let mut rows = dict_rows(&info);
                if let (Some(row), Ok(Some(file))) = (rows.iter_mut().find(|(k, _)| k == keys::PHOTO), &saved) {
                    row.1 = format!("{}, written to {}", row.1, file.display());
                }
                emit(&table(&rows))?;
            }
        }
        saved.map(drop)
    }

    async fn write(&self, record: Dict) -> Result<(), CommandError> {
        let reader = self.reader().await?;
        let out = reader.write_holder_record(record, Dict::new()).await?;
        if self.json {
            return emit_json(&dict_json(&out));
        }
        emit(&table(&dict_rows(&out)))
    }

    async fn pin(&self, command: PinCommand) -> Result<(), CommandError> {
        let reader = self.reader().await?;
        match command {
            PinCommand::Status => {
                let (tries_left, blocked) = reader.get_pin_status(Dict::new()).await?;
                if self.json {
                    return emit_json(&json!({ "tries_left": tries_left, "blocked": blocked }));
                }
                if blocked {
                    emit(&format!("PIN: blocked ({}); `pin unblock` resets it", tries(tries_left)))
                } else {
                    emit(&format!("PIN: {}, not blocked", tries(tries_left)))
                }
            }
            PinCommand::Verify { allow_last_try, pin_stdin, no_pin_pad } => {
                let opts = flag(opt::ALLOW_LAST_TRY, allow_last_try);
                let (ok, tries_left) = if use_keypad(&reader, pin_stdin, no_pin_pad).await? {
                    reader.verify_pin("", with_keypad(opts)).await?
                } else {
                    let pin = Pins::new(pin_stdin).existing("PIN")?;
                    reader.verify_pin(pin.as_str(), opts).await?
                };
                if self.json {
                    emit_json(&json!({ "ok": ok, "tries_left": tries_left }))?;
                } else if ok {
                    emit(&format!("PIN correct, {}", tries(tries_left)))?;
                }
                if ok { Ok(()) } else { Err(CommandError::WrongPin { tries_left }) }
            }
            PinCommand::Change { allow_last_try, pin_stdin, no_pin_pad } => {
                let opts = flag(opt::ALLOW_LAST_TRY, allow_last_try);
                if use_keypad(&reader, pin_stdin, no_pin_pad).await? {
                    reader.change_pin("", "", with_keypad(opts)).await?;
                } else {
                    let mut pins = Pins::new(pin_stdin);
                    let old = pins.existing("old PIN")?;
                    let new = pins.new_pin("new PIN")?;
                    reader.change_pin(old.as_str(), new.as_str(), opts).await?;
                }
                self.done("PIN changed")
            }
            PinCommand::Reload { pin_stdin } => {
                let new = Pins::new(pin_stdin).new_pin("new PIN")?;
                reader.reload_pin(new.as_str(), Dict::new()).await?;
                self.done("PIN reloaded: the card has the new PIN")
            }
            PinCommand::Unblock => {
                reader.unblock_pin(Dict::new()).await?;
                self.done("PIN unblocked: its try counter is reset")
            }
        }
    }

    async fn activate(
        &self,
        ssn: &str,
        allow_last_try: bool,
        pin_stdin: bool,
        no_pin_pad: bool,
    ) -> Result<(), CommandError> {
        let reader = self.reader().await?;
        let opts = flag(opt::ALLOW_LAST_TRY, allow_last_try);
        let info = if use_keypad(&reader, pin_stdin, no_pin_pad).await? {
            reader.activate(ssn, "", "", with_keypad(opts)).await?
        } else {
            let mut pins = Pins::new(pin_stdin);
            let initial = pins.existing("initial PIN")?;
            let new = pins.new_pin("new PIN")?;
            reader.activate(ssn, initial.as_str(), new.as_str(), opts).await?
        };
        if self.json {
            return emit_json(&dict_json(&info));
        }
        let state = text(&info, keys::STATE).unwrap_or_default();
        let left = info.get(keys::PIN_TRIES_LEFT).map(|v| text_value(v)).unwrap_or_else(|| "?".to_owned());
        emit(&format!("card activated: state {state}, {left} PIN tries left"))
    }

    fn done(&self, what: &str) -> Result<(), CommandError> {
        if self.json { emit_json(&json!({ "ok": true })) } else { emit(what) }
    }
}

/// "the system bus", "the session bus", "the bus at ADDRESS".
pub fn bus_label(bus: &str) -> String {
    match bus {
        "system" | "session" => format!("the {bus} bus"),
        address => format!("the bus at {address}"),
    }
}

/// Whether the reader's keypad collects the PINs: when it has one, unless
/// the operator asked for host entry (`--no-pin-pad`, `--pin-stdin`). Says
/// so on standard error, where the holder's prompt belongs.
async fn use_keypad(reader: &Reader1Proxy<'_>, pin_stdin: bool, no_pin_pad: bool) -> Result<bool, CommandError> {
    if pin_stdin || no_pin_pad || !reader.pin_pad().await? {
        return Ok(false);
    }
    eprintln!("Enter the PIN on the reader's keypad");
    Ok(true)
}

/// `opts` with `pin_pad`.
fn with_keypad(mut opts: Dict) -> Dict {
    opts.insert(opt::PIN_PAD.to_owned(), OwnedVariant::from(true));
    opts
}

fn tries(n: u32) -> String {
    if n == 1 { "1 try left".to_owned() } else { format!("{n} tries left") }
}
