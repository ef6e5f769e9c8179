//! The national interface's functions over the daemon's D-Bus API
//! (`docs/unified-interface.md` sections 2 to 5). Arguments arrive as text
//! (already decoded from the caller's encoding) and results leave as text;
//! the adapters (the C library, `sscardctl unified`) encode them and bound
//! them to the caller's buffers.

use std::collections::HashMap;

use zbus::{Connection, OwnedObjectPath};
use zbus::{OwnedVariant as OwnedValue, Variant as Value};
use zeroize::Zeroizing;

use super::codes::{Code, NationalError};
use super::format::{
    CardInfoArg, CardValues, RecordValue, bas_line, parse_card_info, parse_file_addr, parse_write_data, read_output,
    wants_photo,
};
use super::pinentry::{PinEntryError, PinPrompt, PinSource};
use sscard_client::{CallError, Dict, Manager1Proxy, Reader1Proxy};
use sscard_contract::ErrorName;
use sscard_contract::keys;

use sscard_model::{FieldInput, Generation, HolderRecordUpdate};

/// Which bus the daemon is on: `SSCARD_BUS` (`system`, `session` or an
/// address), the system bus by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    System,
    Session,
    Address(String),
}

impl Bus {
    pub fn from_env() -> Bus {
        match std::env::var("SSCARD_BUS") {
            Ok(v) if v.is_empty() || v == "system" => Bus::System,
            Ok(v) if v == "session" => Bus::Session,
            Ok(address) => Bus::Address(address),
            Err(_) => Bus::System,
        }
    }

    /// A connection to this bus.
    pub async fn connect(&self) -> zbus::Result<Connection> {
        match self {
            Bus::System => Connection::system().await,
            Bus::Session => Connection::session().await,
            Bus::Address(a) => zbus::connection::Builder::address(a.as_str()).build().await,
        }
    }
}

/// The contact card is the only kind: `iType` 1, 3 and 4 use it, 2
/// (contactless) is -1, anything else -14.
pub fn check_type(i_type: i32) -> Result<(), NationalError> {
    match i_type {
        1 | 3 | 4 => Ok(()),
        2 => Err(NationalError::with(Code::WrongCardType, "iType 2: the card is a contact card")),
        other => Err(NationalError::with(Code::BadArgument, format!("iType {other}: 1 to 4"))),
    }
}

/// How `iReadCard` may open a file (`iAuthType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// 1: the holder's PIN.
    Pin,
    /// 2: external authentication with the read key.
    External,
}

/// `iAuthType`: 1 or 2; anything else is -14.
pub fn auth_type(i_auth_type: i32) -> Result<AuthType, NationalError> {
    match i_auth_type {
        1 => Ok(AuthType::Pin),
        2 => Ok(AuthType::External),
        other => Err(NationalError::with(Code::BadArgument, format!("iAuthType {other}: 1 or 2"))),
    }
}

/// `pWriteData`'s values as `WriteHolderRecord`'s record dictionary.
pub(super) fn record_dict(record: Vec<(&'static str, RecordValue)>) -> Result<Dict, NationalError> {
    let mut dict = Dict::new();
    for (key, value) in record {
        let value = match value {
            RecordValue::Str(s) => OwnedValue::try_from(Value::from(s)),
            RecordValue::Byte(b) => Ok(OwnedValue::from(b)),
            RecordValue::Bytes(b) => OwnedValue::try_from(Value::from(b)),
        }
        .map_err(|e| NationalError::with(Code::BadArgument, format!("{key}: {e}")))?;
        dict.insert(key.to_owned(), value);
    }
    Ok(dict)
}

/// Checks a record against the model's rules for every generation the
/// model knows, as the daemon does before it knows the card: -23 naming
/// the field and the rule when none could take it. The daemon checks again
/// against the card's own generation.
pub(super) fn check_record(record: &[(&'static str, RecordValue)]) -> Result<(), NationalError> {
    let fields = record.iter().map(|(key, value)| {
        let input = match value {
            RecordValue::Str(s) => FieldInput::Str(s.clone()),
            RecordValue::Byte(b) => FieldInput::Byte(*b),
            RecordValue::Bytes(b) => FieldInput::Bytes(b.clone()),
        };
        ((*key).to_owned(), input)
    });
    let invalid = |e: &dyn std::fmt::Display| NationalError::with(Code::InvalidData, format!("invalid argument: {e}"));
    let update = HolderRecordUpdate::from_fields(fields).map_err(|e| invalid(&e))?;
    if update.is_empty() {
        return Err(NationalError::with(Code::BadArgument, "pWriteData: nothing to write"));
    }
    update.validate_for_any(&Generation::ALL).map_err(|e| invalid(&e))
}

/// A `ReadCard` dictionary as the interface's values, and the terminal
/// device number the daemon is configured with (empty when none is).
pub fn card_values(info: &Dict) -> (CardValues, String) {
    let mut card = CardValues::default();
    let mut terminal_device = String::new();
    for (key, value) in info {
        match (key.as_str(), &**value) {
            (keys::NATION, Value::U8(n)) => card.nation = Some(*n),
            (keys::PHOTO, Value::Array(a)) => {
                card.photo =
                    Some(a.inner().iter().filter_map(|e| if let Value::U8(b) = e { Some(*b) } else { None }).collect());
            }
            (keys::TERMINAL_DEVICE, Value::Str(s)) => terminal_device = s.to_string(),
            (_, Value::Str(s)) => {
                card.text.insert(key.clone(), s.to_string());
            }
            _ => {}
        }
    }
    (card, terminal_device)
}

/// The legacy eleven-field line of a `ReadCard` answer, as `iReadCardBas`
/// gives it (section 3); -23 when a value on the card holds `|` or `$`.
pub fn basic_line(info: &Dict) -> Result<String, NationalError> {
    let (card, terminal_device) = card_values(info);
    card.check_separators()?;
    Ok(bas_line(&card, &terminal_device))
}

/// Whether the connection itself is gone (the bus went away): the next
/// call opens a new one.
pub fn connection_lost(e: &zbus::Error) -> bool {
    matches!(e, zbus::Error::InputOutput(_) | zbus::Error::Connection(..))
}

fn no_opts() -> Dict {
    HashMap::new()
}

fn flag(key: &str) -> Result<Dict, NationalError> {
    let value = OwnedValue::try_from(Value::from(true))
        .map_err(|e| NationalError::with(Code::BadArgument, format!("building the options: {e}")))?;
    Ok(HashMap::from([(key.to_owned(), value)]))
}

/// The PIN source's refusal as the interface's code.
pub(super) fn pin_failure(e: PinEntryError) -> NationalError {
    match e {
        PinEntryError::Cancelled => NationalError::new(Code::PinCancelled),
        PinEntryError::TimedOut => NationalError::new(Code::PinTimeout),
        PinEntryError::WrongLength => NationalError::with(Code::PinLength, "a PIN is 4 to 12 digits"),
        PinEntryError::EntriesDiffer => NationalError::new(Code::PinEntriesDiffer),
        PinEntryError::Unavailable => {
            NationalError::with(Code::ReaderConnection, "no pinentry program to ask for the PIN")
        }
    }
}

/// Whether the reader's keypad collects the PINs (`Reader1.PinPad`).
async fn keypad(reader: &Reader1Proxy<'_>) -> Result<bool, NationalError> {
    reader.pin_pad().await.map_err(NationalError::from)
}

/// The options of a PIN function on the keypad: the holder types knowing
/// the tries left, as with pinentry.
fn keypad_opts() -> Result<Dict, NationalError> {
    let mut opts = flag(keys::opts::ALLOW_LAST_TRY)?;
    opts.extend(flag(keys::opts::PIN_PAD)?);
    Ok(opts)
}

/// A failed keypad call, as the PIN prompt's codes: the pad's timeout is
/// -32 (not a card's that did not answer, -4), and a PIN of a length the
/// pad does not take -33, as pinentry's are.
fn keypad_failure(e: zbus::Error) -> NationalError {
    let failure = NationalError::from(e);
    match failure.code {
        Code::NoAnswer => NationalError::with(Code::PinTimeout, failure.detail),
        Code::InvalidData if failure.broke(sscard_contract::rule::PIN_LENGTH) => {
            NationalError::with(Code::PinLength, failure.detail)
        }
        _ => failure,
    }
}

/// A session with the daemon: one bus connection, the reader chosen as
/// `SSCARD_READER` says (a PC/SC name) or the one `FindCard` answers.
pub struct Terminal {
    pub(super) connection: Connection,
    /// A PC/SC reader name, or a reader's object path (starting with `/`).
    reader_name: Option<String>,
    /// The HSM session held between steps (section 7), one per terminal.
    pub(super) hsm: std::sync::Mutex<Option<super::hsm::Held>>,
}

impl Terminal {
    /// Connects to the bus; the daemon is looked for at each call.
    pub async fn connect(bus: &Bus) -> Result<Terminal, NationalError> {
        let connection = bus
            .connect()
            .await
            .map_err(|e| NationalError::with(Code::ReaderConnection, format!("cannot reach the bus: {e}")))?;
        let reader_name = std::env::var("SSCARD_READER").ok().filter(|n| !n.is_empty());
        Ok(Terminal { connection, reader_name, hsm: std::sync::Mutex::new(None) })
    }

    /// A session over a connection the caller already holds (the bridge's
    /// one connection for the process); the reader as [`Terminal::connect`]
    /// chooses it.
    pub fn with_connection(connection: Connection) -> Terminal {
        let reader_name = std::env::var("SSCARD_READER").ok().filter(|n| !n.is_empty());
        Terminal { connection, reader_name, hsm: std::sync::Mutex::new(None) }
    }

    /// Uses the reader named so (a PC/SC name or an object path), not
    /// `SSCARD_READER`'s or `FindCard`'s.
    pub fn with_reader(mut self, reader: &str) -> Terminal {
        self.reader_name = Some(reader.to_owned());
        self
    }

    /// Whether the bus connection still works.
    pub fn is_connected(&self) -> bool {
        !self.connection.is_closed()
    }

    pub(super) async fn reader(&self) -> Result<Reader1Proxy<'static>, NationalError> {
        let manager = Manager1Proxy::new(&self.connection).await.map_err(NationalError::from)?;
        let path: OwnedObjectPath = match &self.reader_name {
            Some(path) if path.starts_with('/') => OwnedObjectPath::try_from(path.as_str())
                .map_err(|_| NationalError::with(Code::BadArgument, format!("{path:?}: not an object path")))?,
            Some(name) => {
                let readers = manager.list_readers().await.map_err(NationalError::from)?;
                let found = readers.into_iter().find(|(_, n)| n == name).map(|(p, _)| p);
                found.ok_or_else(|| {
                    NationalError::with(Code::ReaderConnection, format!("reader {name:?}: no such reader"))
                })?
            }
            None => manager.find_card().await.map_err(|e| match CallError::from(&e).name() {
                Some(ErrorName::Ambiguous) => NationalError::with(
                    Code::BadArgument,
                    "more than one reader holds a social security card: name one in SSCARD_READER",
                ),
                _ => NationalError::from(e),
            })?,
        };
        Reader1Proxy::builder(&self.connection)
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(NationalError::from)
    }

    /// `ReadCard`, as the interface's values.
    async fn read(&self, reader: &Reader1Proxy<'_>, photo: bool) -> Result<(CardValues, String), NationalError> {
        let opts = if photo { flag(keys::PHOTO)? } else { no_opts() };
        let info = reader.read_card(opts).await.map_err(NationalError::from)?;
        Ok(card_values(&info))
    }

    /// `iReadCardBas`: the eleven fields.
    pub async fn read_card_bas(&self, i_type: i32) -> Result<String, NationalError> {
        check_type(i_type)?;
        let reader = self.reader().await?;
        let (card, terminal_device) = self.read(&reader, false).await.map_err(NationalError::for_read)?;
        card.check_separators()?;
        Ok(bas_line(&card, &terminal_device))
    }

    /// `iReadCard`: the items `pFileAddr` names, of the card `pCardInfo`
    /// names.
    pub async fn read_card(
        &self,
        i_type: i32,
        i_auth_type: i32,
        card_info: &str,
        file_addr: &str,
    ) -> Result<String, NationalError> {
        check_type(i_type)?;
        // The reference profile opens nothing by a PIN: every file either
        // way can open, external authentication opens (section 2), which
        // is what `ReadCard` runs. A profile with PIN-opened files would
        // make this a choice of script.
        match auth_type(i_auth_type)? {
            AuthType::Pin | AuthType::External => {}
        }
        let wanted = parse_card_info(card_info)?;
        let groups = parse_file_addr(file_addr)?;
        let reader = self.reader().await?;
        let (card, _) = self.read(&reader, wants_photo(&groups)).await.map_err(NationalError::for_read)?;
        card.check(&wanted)?;
        card.check_separators()?;
        Ok(read_output(&groups, &card))
    }

    /// `iWriteCard`: writes `pWriteData` through `WriteHolderRecord`, so
    /// every consistency rule applies; empty output on success.
    pub async fn write_card(
        &self,
        i_type: i32,
        card_info: &str,
        file_addr: &str,
        write_data: &str,
    ) -> Result<String, NationalError> {
        check_type(i_type)?;
        let wanted = parse_card_info(card_info)?;
        let groups = parse_file_addr(file_addr)?;
        let record = parse_write_data(write_data, &groups)?;
        // The model's rules first, so that a record no card could take is
        // refused before the card is read, with no APDU sent.
        check_record(&record)?;
        let dict = record_dict(record)?;
        let reader = self.reader().await?;
        self.check_card(&reader, &wanted).await?;
        reader.write_holder_record(dict, no_opts()).await.map_err(NationalError::from)?;
        Ok(String::new())
    }

    /// Reads the card and compares it with `pCardInfo`: -22 when it is not
    /// the one meant.
    async fn check_card(&self, reader: &Reader1Proxy<'_>, wanted: &CardInfoArg) -> Result<(), NationalError> {
        let (card, _) = self.read(reader, false).await?;
        card.check(wanted)
    }

    /// The counter, and -52 when the PIN is blocked.
    async fn tries_left(&self, reader: &Reader1Proxy<'_>) -> Result<u32, NationalError> {
        let (tries_left, blocked) = reader.get_pin_status(no_opts()).await.map_err(NationalError::from)?;
        if blocked {
            return Err(NationalError::new(Code::PinBlocked));
        }
        Ok(tries_left)
    }

    /// `iVerifyPIN`: the holder types the PIN knowing the tries left, so it
    /// is verified on the last try too.
    pub async fn verify_pin(&self, i_type: i32, pins: &mut dyn PinSource) -> Result<String, NationalError> {
        check_type(i_type)?;
        let reader = self.reader().await?;
        let tries_left = self.tries_left(&reader).await?;
        let (ok, tries_left) = if keypad(&reader).await? {
            // As the vendor DLLs do: the reader's keypad, never the host.
            reader.verify_pin("", keypad_opts()?).await.map_err(keypad_failure)?
        } else {
            let prompt = PinPrompt { description: "请输入社保卡密码", tries_left: Some(tries_left) };
            let pin = pins.current_pin(&prompt).map_err(pin_failure)?;
            let answer = reader.verify_pin(pin.as_str(), flag(keys::opts::ALLOW_LAST_TRY)?).await;
            drop(pin);
            answer.map_err(NationalError::from)?
        };
        match (ok, tries_left) {
            (true, _) => Ok(String::new()),
            (false, 0) => Err(NationalError::new(Code::PinBlocked)),
            (false, n) => Err(NationalError::new(Code::WrongPin { tries_left: n })),
        }
    }

    /// `iChangePIN`: the old PIN, then the new one twice.
    pub async fn change_pin(&self, i_type: i32, pins: &mut dyn PinSource) -> Result<String, NationalError> {
        check_type(i_type)?;
        let reader = self.reader().await?;
        let tries_left = self.tries_left(&reader).await?;
        if keypad(&reader).await? {
            reader.change_pin("", "", keypad_opts()?).await.map_err(keypad_failure)?;
            return Ok(String::new());
        }
        let old: Zeroizing<String> = pins
            .current_pin(&PinPrompt { description: "请输入原密码", tries_left: Some(tries_left) })
            .map_err(pin_failure)?;
        let new = pins.new_pin(&PinPrompt { description: "请输入新密码", tries_left: None }).map_err(pin_failure)?;
        reader
            .change_pin(old.as_str(), new.as_str(), flag(keys::opts::ALLOW_LAST_TRY)?)
            .await
            .map_err(NationalError::from)?;
        Ok(String::new())
    }

    /// -2201 unless a PSAM is present: reload and unblock need its MAC
    /// (section 5), and the holder should not type a PIN for nothing.
    async fn need_psam(&self) -> Result<(), NationalError> {
        let manager = Manager1Proxy::new(&self.connection).await.map_err(NationalError::from)?;
        let sam = manager.sam_reader().await.map_err(NationalError::from)?;
        if sam.as_str() == "/" {
            return Err(NationalError::with(Code::NoPsam, "reload and unblock need the PSAM's MAC"));
        }
        Ok(())
    }

    /// `iReloadPIN`: the card `pCardInfo` names gets a new PIN (needs the
    /// PSAM).
    pub async fn reload_pin(
        &self,
        i_type: i32,
        card_info: &str,
        pins: &mut dyn PinSource,
    ) -> Result<String, NationalError> {
        check_type(i_type)?;
        let wanted = parse_card_info(card_info)?;
        self.need_psam().await?;
        let reader = self.reader().await?;
        self.check_card(&reader, &wanted).await?;
        let new = pins.new_pin(&PinPrompt { description: "请输入新密码", tries_left: None }).map_err(pin_failure)?;
        reader.reload_pin(new.as_str(), no_opts()).await.map_err(NationalError::from)?;
        Ok(String::new())
    }

    /// `iUnblockPIN`: resets the counter of the card `pCardInfo` names
    /// (needs the PSAM).
    pub async fn unblock_pin(&self, i_type: i32, card_info: &str) -> Result<String, NationalError> {
        check_type(i_type)?;
        let wanted = parse_card_info(card_info)?;
        self.need_psam().await?;
        let reader = self.reader().await?;
        self.check_card(&reader, &wanted).await?;
        reader.unblock_pin(no_opts()).await.map_err(NationalError::from)?;
        Ok(String::new())
    }
}
