//! The national dialect on the socket (`docs/unified-interface.md` section
//! 8): `{"function": NAME, "iType": 3, …}` answered with
//! `{"functionName": NAME, "success": "1", "pOutInfo": …}`, each function
//! run by [`sscard::Terminal`].

use serde_json::{Map, Value, json};
use sscard_contract::national::{Arg, Function, Pins};
use zeroize::Zeroizing;

use sscard::dispatch::{Arguments, Call};
use sscard::pinentry::{PinEntryError, PinPrompt, PinSource, Pinentry, checked_pin};
use sscard::{Code, NationalError, Terminal};

/// The PINs a request carries (`pin`, `oldPin`, `newPin`), each taken out
/// of the request into a zeroizing buffer; a PIN the request lacks comes
/// from the bridge's own PIN source (section 5).
pub struct RequestPins {
    pin: Option<Zeroizing<String>>,
    old_pin: Option<Zeroizing<String>>,
    new_pin: Option<Zeroizing<String>>,
    fallback: Option<Pinentry>,
}

/// Takes `key` out of `object`: a string (kept zeroized), absent or null;
/// anything else is the argument error it returns.
pub fn take_pin(object: &mut Map<String, Value>, key: &str) -> Result<Option<Zeroizing<String>>, String> {
    match object.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(pin)) => Ok(Some(Zeroizing::new(pin))),
        Some(_) => Err(format!("{key}: a PIN is a string of digits")),
    }
}

impl RequestPins {
    /// The PINs of `request`, removed from it.
    pub fn take(request: &mut Map<String, Value>) -> Result<RequestPins, NationalError> {
        let mut take = |key| take_pin(request, key).map_err(|m| NationalError::with(Code::BadArgument, m));
        Ok(RequestPins { pin: take("pin")?, old_pin: take("oldPin")?, new_pin: take("newPin")?, fallback: None })
    }

    /// Whether a function needing `current` and/or `new` PINs would have
    /// to ask the bridge's PIN source (which blocks while it asks).
    fn needs_prompt(&self, current: bool, new: bool) -> bool {
        (current && self.pin.is_none() && self.old_pin.is_none()) || (new && self.new_pin.is_none())
    }
}

impl PinSource for RequestPins {
    fn current_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        // iChangePIN's old PIN is `oldPin`; iVerifyPIN's is `pin`.
        match self.old_pin.take().or_else(|| self.pin.take()) {
            Some(pin) => checked_pin(pin),
            None => self.fallback.get_or_insert_with(Pinentry::from_env).current_pin(prompt),
        }
    }

    fn new_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        // The page's keypad asked twice already: `newPin` counts as both.
        match self.new_pin.take() {
            Some(pin) => checked_pin(pin),
            None => self.fallback.get_or_insert_with(Pinentry::from_env).new_pin(prompt),
        }
    }
}

/// An integer argument: a number, or a number sent as a string (`"3"`).
fn int(request: &Map<String, Value>, key: &str) -> Result<i32, NationalError> {
    let bad = || NationalError::with(Code::BadArgument, format!("{key}: not a number"));
    match request.get(key) {
        Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        None | Some(Value::Null) => Err(NationalError::with(Code::BadArgument, format!("{key} is missing"))),
        Some(_) => Err(bad()),
    }
}

/// A text argument; `aliases` are other spellings pages send (`pkey`).
fn text(request: &Map<String, Value>, key: &str, aliases: &[&str]) -> Result<String, NationalError> {
    let value = std::iter::once(key).chain(aliases.iter().copied()).find_map(|k| request.get(k));
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        None | Some(Value::Null) => Err(NationalError::with(Code::BadArgument, format!("{key} is missing"))),
        Some(_) => Err(NationalError::with(Code::BadArgument, format!("{key}: not a string"))),
    }
}

/// A request's arguments, by their names in the interface.
struct RequestArguments<'a>(&'a Map<String, Value>);

impl Arguments for RequestArguments<'_> {
    fn int(&self, arg: Arg) -> Result<i32, NationalError> {
        int(self.0, arg.name())
    }

    fn text(&self, arg: Arg) -> Result<Zeroizing<String>, NationalError> {
        match arg {
            Arg::Key => step_key(self.0),
            _ => text(self.0, arg.name(), &[]),
        }
        .map(Zeroizing::new)
    }
}

/// Runs one request of the dialect (its PINs already taken out into
/// `pins`) and gives `(code, pOutInfo)`.
pub async fn run(
    terminal: &Terminal,
    function: &str,
    request: &Map<String, Value>,
    mut pins: RequestPins,
) -> Result<String, NationalError> {
    let call = Call::parse(function, &RequestArguments(request))?;
    let (current, new) = match Function::find(function).map(|f| f.pins) {
        Some(Pins::Current) => (true, false),
        Some(Pins::New) => (false, true),
        Some(Pins::CurrentAndNew) => (true, true),
        Some(Pins::None) | None => (false, false),
    };
    if pins.needs_prompt(current, new) {
        with_prompt(async { call.run(terminal, &mut pins).await }).await
    } else {
        call.run(terminal, &mut pins).await
    }
}

/// Runs `call`, which may block on a PIN prompt, off the runtime's
/// workers.
async fn with_prompt<F>(call: F) -> Result<String, NationalError>
where
    F: std::future::Future<Output = Result<String, NationalError>>,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(move || handle.block_on(call))
}

/// The dialect's answer.
pub fn answer(function: &str, result: Result<String, NationalError>) -> Value {
    let (success, out) = match result {
        Ok(out) => ("1".to_owned(), out),
        Err(failure) => (failure.code.value().to_string(), failure.message()),
    };
    json!({"functionName": function, "success": success, "pOutInfo": out})
}

/// The code of an answer, for the log (never its `pOutInfo`).
pub fn code_of(result: &Result<String, NationalError>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(failure) => failure.code.value(),
    }
}

/// An HSM step's `pKey`: absent is empty (Step2 of a reload or unblock
/// takes an empty one).
fn step_key(request: &Map<String, Value>) -> Result<String, NationalError> {
    match request.get("pKey").or_else(|| request.get("pkey")) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => text(request, "pKey", &["pkey"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn numbers_may_come_as_strings() {
        let r = object(json!({"iType": "3", "iAuthType": 2, "x": "a"}));
        assert_eq!(int(&r, "iType").ok(), Some(3));
        assert_eq!(int(&r, "iAuthType").ok(), Some(2));
        assert_eq!(int(&r, "x").map_err(|f| f.code.value()), Err(-14));
        assert_eq!(int(&r, "missing").map_err(|f| f.code.value()), Err(-14));
    }

    #[test]
    fn pkey_is_pkey() {
        assert_eq!(step_key(&object(json!({"pkey": "00|"}))).ok().as_deref(), Some("00|"));
        assert_eq!(step_key(&object(json!({"pKey": "11|"}))).ok().as_deref(), Some("11|"));
        assert_eq!(step_key(&object(json!({}))).ok().as_deref(), Some(""));
    }

    #[test]
    fn request_pins_are_taken_out_and_checked() {
        let mut r = object(json!({"function": "iChangePIN", "oldPin": "123456", "newPin": "80241x"}));
        let mut pins = RequestPins::take(&mut r).unwrap_or_else(|_| panic!("pins"));
        assert!(!r.contains_key("oldPin") && !r.contains_key("newPin"));
        let prompt = PinPrompt { description: "", tries_left: None };
        assert_eq!(pins.current_pin(&prompt).ok().as_deref().map(|p| p.as_str()), Some("123456"));
        assert!(matches!(pins.new_pin(&prompt), Err(PinEntryError::WrongLength)));
        let mut r = object(json!({"pin": 123456}));
        assert!(RequestPins::take(&mut r).is_err());
    }
}
