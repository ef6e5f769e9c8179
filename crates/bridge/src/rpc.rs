//! sscard's own API on the socket: JSON-RPC 2.0 whose methods mirror the
//! D-Bus API (`docs/interfaces.md`), the D-Bus error names in `error.data`,
//! and notifications for the daemon's signals.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use zbus::{Connection, OwnedObjectPath};
use zbus::{OwnedVariant as OwnedValue, Variant};
use zeroize::Zeroizing;

use super::national::take_pin;
use sscard::terminal::basic_line;
use sscard_client::{CallError, CallErrorKind, Dict, HsmSession1Proxy, Manager1Proxy, Reader1Proxy};
use sscard_contract::keys;

/// `ReadCard`'s added key: `iReadCardBas`'s eleven-field line.
pub const BASIC_LINE: &str = "basic_line";

/// JSON-RPC's own codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
/// A D-Bus call failed: `error.data.name` names the error.
pub const DBUS_ERROR: i64 = -32000;

/// A failed method.
#[derive(Debug)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    /// The D-Bus error's name: the contract's short name (`NoSam`), or the
    /// full name of a bus error (`org.freedesktop.DBus.Error.ServiceUnknown`).
    pub name: Option<String>,
    /// The daemon's error details (`error.data.details`), boxed: most
    /// errors of the bridge's own have none.
    pub details: Box<sscard_contract::ErrorDetails>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into(), name: None, details: Default::default() }
    }

    fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// The JSON of `error`: `data` holds the D-Bus name, the details as
    /// the daemon gave them, and (as before the details) `statusWord`.
    pub fn to_json(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(name) = &self.name {
            let mut data = json!({"name": name});
            if let Some(sw) = self.details.sw {
                data["statusWord"] = json!(format!("{sw:04X}"));
            }
            if !self.details.is_empty() {
                data["details"] = details_json(&self.details);
            }
            error["data"] = data;
        }
        error
    }
}

/// The daemon's error details as JSON, under the contract's keys and with
/// their D-Bus values (`sw` a number, `SW1·256 + SW2`).
fn details_json(details: &sscard_contract::ErrorDetails) -> Value {
    use sscard_contract::error::detail;
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(key.to_owned(), value);
        }
    };
    put(detail::FIELD, details.field.clone().map(Value::from));
    put(detail::RULE, details.rule.clone().map(Value::from));
    put(detail::TRIES_LEFT, details.tries_left.map(Value::from));
    put(detail::SW, details.sw.map(Value::from));
    put(detail::SLOT, details.slot.map(|s| Value::from(s.as_str())));
    put(detail::STEP, details.step.map(Value::from));
    Value::Object(out)
}

impl From<CallError> for RpcError {
    fn from(e: CallError) -> RpcError {
        let name = Some(e.short_name().to_owned());
        let message = match e.kind {
            CallErrorKind::Daemon(_) => e.message,
            _ => e.to_string(),
        };
        RpcError { code: DBUS_ERROR, message, name, details: Box::new(e.details) }
    }
}

impl From<zbus::Error> for RpcError {
    fn from(e: zbus::Error) -> RpcError {
        RpcError::from(CallError::from(&e))
    }
}

/// A request's response: the result or the error, with its id.
pub fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()}),
    }
}

/// A notification.
pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

/// A D-Bus value as JSON: byte arrays as base64, the rest as they are.
pub fn to_json(value: &Variant<'_>) -> Value {
    match value {
        Variant::Bool(b) => json!(b),
        Variant::U8(n) => json!(n),
        Variant::U16(n) => json!(n),
        Variant::U32(n) => json!(n),
        Variant::U64(n) => json!(n),
        Variant::I16(n) => json!(n),
        Variant::I32(n) => json!(n),
        Variant::I64(n) => json!(n),
        Variant::F64(n) => json!(n),
        Variant::Str(s) => json!(s.as_str()),
        Variant::ObjectPath(p) => json!(p.as_str()),
        Variant::Variant(v) => to_json(v),
        Variant::Array(a) => {
            if a.element_signature().to_string() == "y" {
                let bytes: Vec<u8> =
                    a.inner().iter().filter_map(|e| if let Variant::U8(b) = e { Some(*b) } else { None }).collect();
                json!(BASE64.encode(bytes))
            } else {
                Value::Array(a.inner().iter().map(to_json).collect())
            }
        }
        Variant::Dict(d) => {
            let map: Map<String, Value> = d
                .iter()
                .map(|(k, v)| match k {
                    Variant::Str(s) => (s.to_string(), to_json(v)),
                    other => (format!("{other}"), to_json(v)),
                })
                .collect();
            Value::Object(map)
        }
        other => json!(other.to_string()),
    }
}

fn dict_json(dict: &Dict) -> Value {
    Value::Object(dict.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
}

fn boolean(params: &Map<String, Value>, key: &str) -> Result<bool, RpcError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(RpcError::params(format!("{key}: true or false"))),
    }
}

fn owned(value: Variant<'_>) -> Result<OwnedValue, RpcError> {
    OwnedValue::try_from(value).map_err(|e| RpcError::params(e.to_string()))
}

/// The options dictionary: each of `names` given as its camelCase key
/// (`allowLastTry`) or the contract's (`allow_last_try`).
fn options(params: &Map<String, Value>, names: &[(&str, &str)]) -> Result<Dict, RpcError> {
    let mut opts = Dict::new();
    for (camel, key) in names {
        let value = boolean(params, camel)? || boolean(params, key)?;
        if value {
            opts.insert((*key).to_owned(), owned(Variant::from(true))?);
        }
    }
    Ok(opts)
}

/// A PIN parameter: required, unless the reader's keypad collects it
/// (`pinPad`), when it may be left out.
fn pin_param(params: &mut Map<String, Value>, key: &str, keypad: bool) -> Result<Zeroizing<String>, RpcError> {
    if keypad {
        return Ok(take_pin(params, key).map_err(RpcError::params)?.unwrap_or_default());
    }
    required_pin(params, key)
}

fn required_pin(params: &mut Map<String, Value>, key: &str) -> Result<Zeroizing<String>, RpcError> {
    take_pin(params, key).map_err(RpcError::params)?.ok_or_else(|| RpcError::params(format!("{key} is missing")))
}

fn string(params: &Map<String, Value>, key: &str) -> Result<String, RpcError> {
    match params.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(RpcError::params(format!("{key}: a string is required"))),
    }
}

/// A holder record (`WriteHolderRecord`) from JSON: strings as `s`,
/// `nation` as `y`, `photo` as base64 of the JPEG.
fn record(value: Option<&Value>) -> Result<Dict, RpcError> {
    let Some(Value::Object(fields)) = value else {
        return Err(RpcError::params("record: an object of the holder's keys is required"));
    };
    let mut dict = Dict::new();
    for (key, value) in fields {
        let variant = match (key.as_str(), value) {
            (keys::NATION, Value::Number(n)) => {
                let n = n.as_u64().and_then(|n| u8::try_from(n).ok());
                Variant::from(n.ok_or_else(|| RpcError::params("nation: 1 to 255"))?)
            }
            (keys::PHOTO, Value::String(b64)) => {
                Variant::from(BASE64.decode(b64).map_err(|e| RpcError::params(format!("photo: not base64: {e}")))?)
            }
            (_, Value::String(s)) => Variant::from(s.clone()),
            (key, _) => return Err(RpcError::params(format!("record.{key}: a string is required"))),
        };
        dict.insert(key.clone(), owned(variant)?);
    }
    Ok(dict)
}

/// The reader `params.reader` names (an object path or a PC/SC name), else
/// the one `FindCard` answers.
async fn reader(connection: &Connection, params: &Map<String, Value>) -> Result<Reader1Proxy<'static>, RpcError> {
    let manager = Manager1Proxy::new(connection).await?;
    let path: OwnedObjectPath = match params.get("reader") {
        None | Some(Value::Null) => manager.find_card().await?,
        Some(Value::String(path)) if path.starts_with('/') => OwnedObjectPath::try_from(path.as_str())
            .map_err(|_| RpcError::params(format!("reader {path:?}: not an object path")))?,
        Some(Value::String(name)) => {
            let readers = manager.list_readers().await?;
            readers.into_iter().find(|(_, n)| n == name).map(|(p, _)| p).ok_or_else(|| RpcError {
                code: DBUS_ERROR,
                message: format!("no reader named {name:?}"),
                name: Some("NoCard".to_owned()),
                details: Default::default(),
            })?
        }
        Some(_) => return Err(RpcError::params("reader: an object path or a reader's name")),
    };
    reader_at(connection, path).await
}

/// The reader at `path`, its properties read fresh at each access.
async fn reader_at(connection: &Connection, path: OwnedObjectPath) -> Result<Reader1Proxy<'static>, RpcError> {
    Ok(Reader1Proxy::builder(connection).path(path).cache_properties(zbus::proxy::CacheProperties::No).build().await?)
}

const LAST_TRY: (&str, &str) = ("allowLastTry", keys::opts::ALLOW_LAST_TRY);
/// The reader's keypad collects the PINs; the PIN parameters are then left
/// out (or empty), and the daemon refuses one that is given.
const PIN_PAD: (&str, &str) = ("pinPad", keys::opts::PIN_PAD);

/// The HSM sessions one WebSocket connection began through JSON-RPC. Every
/// connection shares the bridge's one bus connection, which the daemon
/// sees as the sessions' owner, so the bridge keeps each session to the
/// connection that began it, and abandons them when it closes.
#[derive(Debug, Default)]
pub struct HsmSessions(std::sync::Mutex<Vec<String>>);

impl HsmSessions {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session `params.session` names, if this connection began it.
    async fn session(
        &self,
        connection: &Connection,
        params: &Map<String, Value>,
    ) -> Result<HsmSession1Proxy<'static>, RpcError> {
        let path = string(params, "session")?;
        if !self.list().contains(&path) {
            return Err(RpcError {
                code: DBUS_ERROR,
                message: "the session belongs to another connection, or has ended".into(),
                name: Some("NotAuthorized".into()),
                details: Default::default(),
            });
        }
        let path = OwnedObjectPath::try_from(path.as_str()).map_err(|_| RpcError::params("session: an object path"))?;
        Ok(HsmSession1Proxy::builder(connection)
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?)
    }

    fn forget(&self, path: &str) {
        self.list().retain(|p| p != path);
    }

    /// Abandons every session the connection still holds: it has closed.
    pub async fn abort_all(&self, connection: &Connection) {
        let paths = std::mem::take(&mut *self.list());
        for path in paths {
            let Ok(path) = OwnedObjectPath::try_from(path.as_str()) else { continue };
            if let Ok(session) = HsmSession1Proxy::builder(connection).path(path).build().await {
                let _ = session.abort().await;
            }
        }
    }
}

/// `HsmContinue`'s `args`: byte values as base64, `newPin` (or `new_pin`)
/// as a string of digits, `record` as `WriteHolderRecord`'s.
fn step_args(params: &mut Map<String, Value>) -> Result<Dict, RpcError> {
    let mut args = match params.remove("args") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(args)) => args,
        Some(_) => return Err(RpcError::params("args: an object")),
    };
    let mut dict = Dict::new();
    for key in ["newPin", keys::hsm::NEW_PIN] {
        if let Some(pin) = take_pin(&mut args, key).map_err(RpcError::params)? {
            dict.insert(keys::hsm::NEW_PIN.to_owned(), owned(Variant::from(pin.as_str()))?);
        }
    }
    if let Some(value) = args.remove(keys::hsm::RECORD) {
        dict.insert(keys::hsm::RECORD.to_owned(), owned(Variant::from(record(Some(&value))?))?);
    }
    for (key, value) in &args {
        let Value::String(b64) = value else { return Err(RpcError::params(format!("args.{key}: base64 bytes"))) };
        let bytes = BASE64.decode(b64).map_err(|e| RpcError::params(format!("args.{key}: not base64: {e}")))?;
        dict.insert(key.clone(), owned(Variant::from(bytes))?);
    }
    Ok(dict)
}

/// The HSM session methods (`docs/unified-interface.md` section 8).
async fn call_hsm(
    connection: &Connection,
    hsm: &HsmSessions,
    method: &str,
    p: &mut Map<String, Value>,
) -> Option<Result<Value, RpcError>> {
    Some(match method {
        "BeginHsm" => {
            async {
                let operation = string(p, "operation")?;
                let opts = options(p, &[(keys::opts::PHOTO, keys::opts::PHOTO)])?;
                let reader = reader(connection, p).await?;
                // A new session abandons the ones this connection still
                // holds, as a national Step1 does: calls on a connection
                // are answered in order, so one left open on the same
                // reader would hold this call until its idle limit.
                hsm.abort_all(connection).await;
                let (path, output) = reader.begin_hsm(&operation, opts).await?;
                let done = output.get(keys::hsm::DONE).and_then(|v| bool::try_from(v).ok()).unwrap_or(false);
                if !done {
                    hsm.list().push(path.to_string());
                }
                Ok(json!({"session": path.as_str(), "output": dict_json(&output)}))
            }
            .await
        }
        "HsmContinue" => {
            async {
                let session = hsm.session(connection, p).await?;
                let path = session.inner().path().to_string();
                let args = match step_args(p) {
                    Ok(args) => args,
                    Err(e) => {
                        // A step that cannot be sent fails like any other:
                        // the session ends, and the reader is free at once.
                        hsm.forget(&path);
                        let _ = session.abort().await;
                        return Err(e);
                    }
                };
                let result = session.continue_(args).await;
                let ended = match &result {
                    Ok(out) => out.get(keys::hsm::DONE).and_then(|v| bool::try_from(v).ok()).unwrap_or(true),
                    Err(_) => true,
                };
                if ended {
                    hsm.forget(&path);
                }
                Ok(dict_json(&result?))
            }
            .await
        }
        "HsmAbort" => {
            async {
                let session = hsm.session(connection, p).await?;
                hsm.forget(session.inner().path().as_str());
                session.abort().await?;
                Ok(Value::Null)
            }
            .await
        }
        _ => return None,
    })
}

/// Runs one method; `params` is an object (absent params are `{}`). The
/// PIN arguments are taken out of it into zeroizing buffers.
pub async fn call(
    connection: &Connection,
    hsm: &HsmSessions,
    method: &str,
    mut params: Map<String, Value>,
) -> Result<Value, RpcError> {
    let p = &mut params;
    if let Some(result) = call_hsm(connection, hsm, method, p).await {
        return result;
    }
    match method {
        "ListReaders" => {
            let readers = Manager1Proxy::new(connection).await?.list_readers().await?;
            let mut list = Vec::with_capacity(readers.len());
            for (path, name) in readers {
                // What the reader holds now, so that a page opened with a
                // card already in shows it before any notification.
                let card = reader_at(connection, path.clone()).await?.card_kind().await?;
                list.push(json!({"path": path.as_str(), "name": name, "card": card}));
            }
            Ok(Value::Array(list))
        }
        "ReadCard" => {
            let opts =
                options(p, &[(keys::opts::PHOTO, keys::opts::PHOTO), ("authenticate", keys::opts::AUTHENTICATE)])?;
            let info = reader(connection, p).await?.read_card(opts).await?;
            let mut result = dict_json(&info);
            // The legacy line, from the national interface's own formatter.
            if let Value::Object(map) = &mut result {
                map.insert(BASIC_LINE.to_owned(), basic_line(&info).map_or(Value::Null, Value::String));
            }
            Ok(result)
        }
        "GetPinStatus" => {
            let (tries_left, blocked) = reader(connection, p).await?.get_pin_status(Dict::new()).await?;
            Ok(json!({"tries_left": tries_left, "blocked": blocked}))
        }
        "VerifyPin" => {
            let opts = options(p, &[LAST_TRY, PIN_PAD])?;
            let pin = pin_param(p, "pin", opts.contains_key(keys::opts::PIN_PAD))?;
            let (ok, tries_left) = reader(connection, p).await?.verify_pin(pin.as_str(), opts).await?;
            Ok(json!({"ok": ok, "tries_left": tries_left}))
        }
        "ChangePin" => {
            let opts = options(p, &[LAST_TRY, PIN_PAD])?;
            let keypad = opts.contains_key(keys::opts::PIN_PAD);
            let (old, new) = (pin_param(p, "oldPin", keypad)?, pin_param(p, "newPin", keypad)?);
            reader(connection, p).await?.change_pin(old.as_str(), new.as_str(), opts).await?;
            Ok(Value::Null)
        }
        "ReloadPin" => {
            let new = required_pin(p, "newPin")?;
            reader(connection, p).await?.reload_pin(new.as_str(), Dict::new()).await?;
            Ok(Value::Null)
        }
        "UnblockPin" => {
            reader(connection, p).await?.unblock_pin(Dict::new()).await?;
            Ok(Value::Null)
        }
        "Activate" => {
            let opts = options(p, &[LAST_TRY, PIN_PAD])?;
            let keypad = opts.contains_key(keys::opts::PIN_PAD);
            let (initial, new) = (pin_param(p, "initialPin", keypad)?, pin_param(p, "newPin", keypad)?);
            let ssn = Zeroizing::new(string(p, "ssn")?);
            let reader = reader(connection, p).await?;
            Ok(dict_json(&reader.activate(ssn.as_str(), initial.as_str(), new.as_str(), opts).await?))
        }
        "WriteHolderRecord" => {
            let record = record(p.get("record"))?;
            Ok(dict_json(&reader(connection, p).await?.write_holder_record(record, Dict::new()).await?))
        }
        other => Err(RpcError::new(METHOD_NOT_FOUND, format!("{other}: no such method"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_arrays_are_base64_and_errors_carry_the_name() {
        let bytes = Variant::from(vec![0xFFu8, 0xD8]);
        assert_eq!(to_json(&bytes), json!("/9g="));
        assert_eq!(to_json(&Variant::from(vec!["a", "b"])), json!(["a", "b"]));
        let error =
            RpcError { code: DBUS_ERROR, message: "m".into(), name: Some("NoSam".into()), details: Default::default() };
        assert_eq!(error.to_json(), json!({"code": -32000, "message": "m", "data": {"name": "NoSam"}}));
    }

    #[test]
    fn records_take_nation_as_a_byte_and_photo_as_base64() {
        let dict =
            record(Some(&json!({"name": "张三", "nation": 1, "photo": "/9g="}))).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(u8::try_from(&dict["nation"]).ok(), Some(1));
        assert!(record(Some(&json!({"nation": 300}))).is_err());
        assert!(record(Some(&json!({"photo": "!"}))).is_err());
        assert!(record(None).is_err());
    }
}
