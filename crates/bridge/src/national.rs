//! The national dialect on the socket (`docs/unified-interface.md` section
//! 8): `{"function": NAME, "iType": 3, …}` answered with
//! `{"functionName": NAME, "success": "1", "pOutInfo": …}`, each function
//! run by [`sscard::Terminal`].

use serde_json::{Map, Value, json};
use sscard_contract::national::unavailable;
use zeroize::Zeroizing;

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

/// Runs one request of the dialect (its PINs already taken out into
/// `pins`) and gives `(code, pOutInfo)`.
pub async fn run(
    terminal: &Terminal,
    function: &str,
    request: &Map<String, Value>,
    mut pins: RequestPins,
) -> Result<String, NationalError> {
    if unavailable(function) {
        return Err(NationalError::with(Code::Unsupported, format!("{function}: not available")));
    }
    match function {
        "iReadCardBas" => terminal.read_card_bas(int(request, "iType")?).await,
        "iReadCard" => {
            let (t, a) = (int(request, "iType")?, int(request, "iAuthType")?);
            terminal.read_card(t, a, &text(request, "pCardInfo", &[])?, &text(request, "pFileAddr", &[])?).await
        }
        "iWriteCard" => {
            let t = int(request, "iType")?;
            let (info, addr) = (text(request, "pCardInfo", &[])?, text(request, "pFileAddr", &[])?);
            terminal.write_card(t, &info, &addr, &text(request, "pWriteData", &[])?).await
        }
        "iVerifyPIN" => {
            let t = int(request, "iType")?;
            let prompt = pins.needs_prompt(true, false);
            let call = async { terminal.verify_pin(t, &mut pins).await };
            if prompt { with_prompt(call).await } else { call.await }
        }
        "iChangePIN" => {
            let t = int(request, "iType")?;
            let prompt = pins.needs_prompt(true, true);
            let call = async { terminal.change_pin(t, &mut pins).await };
            if prompt { with_prompt(call).await } else { call.await }
        }
        "iReloadPIN" => {
            let (t, info) = (int(request, "iType")?, text(request, "pCardInfo", &[])?);
            let prompt = pins.needs_prompt(false, true);
            let call = async { terminal.reload_pin(t, &info, &mut pins).await };
            if prompt { with_prompt(call).await } else { call.await }
        }
        "iUnblockPIN" => terminal.unblock_pin(int(request, "iType")?, &text(request, "pCardInfo", &[])?).await,
        // HSM mode (section 7): the connection's terminal holds the session.
        "iReadCardBas_HSM_Step1" => terminal.read_card_bas_hsm_step1(int(request, "iType")?).await,
        "iReadCardBas_HSM_Step2" => terminal.read_card_bas_hsm_step2(&step_key(request)?).await,
        "iReadCard_HSM_Step1" | "iWriteCard_HSM_Step1" => {
            let t = int(request, "iType")?;
            let (info, addr) = (text(request, "pCardInfo", &[])?, text(request, "pFileAddr", &[])?);
            if function == "iReadCard_HSM_Step1" {
                terminal.read_card_hsm_step1(t, &info, &addr).await
            } else {
                terminal.write_card_hsm_step1(t, &info, &addr).await
            }
        }
        "iReadCard_HSM_Step2" => terminal.read_card_hsm_step2(&step_key(request)?).await,
        "iWriteCard_HSM_Step2" => {
            terminal.write_card_hsm_step2(&step_key(request)?, &text(request, "pWriteData", &[])?).await
        }
        "iReloadPIN_HSM_Step1" => {
            terminal.reload_pin_hsm_step1(int(request, "iType")?, &text(request, "pCardInfo", &[])?).await
        }
        "iReloadPIN_HSM_Step2" => {
            let key = step_key(request)?;
            let prompt = pins.needs_prompt(false, true);
            let call = async { terminal.reload_pin_hsm_step2(&key, &mut pins).await };
            if prompt { with_prompt(call).await } else { call.await }
        }
        "iReloadPIN_HSM_Step3" => terminal.reload_pin_hsm_step3(&step_key(request)?).await,
        "iUnblockPIN_HSM_Step1" => {
            terminal.unblock_pin_hsm_step1(int(request, "iType")?, &text(request, "pCardInfo", &[])?).await
        }
        "iUnblockPIN_HSM_Step2" => terminal.unblock_pin_hsm_step2(&step_key(request)?).await,
        "iUnblockPIN_HSM_Step3" => terminal.unblock_pin_hsm_step3(&step_key(request)?).await,
        other => Err(NationalError::with(Code::Unsupported, format!("{other}: no such function"))),
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

/// The `pKey` of a request, under either spelling (for the HSM steps).
pub fn key(request: &Map<String, Value>) -> Option<String> {
    text(request, "pKey", &["pkey"]).ok()
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
        assert_eq!(key(&object(json!({"pkey": "00|"}))).as_deref(), Some("00|"));
        assert_eq!(key(&object(json!({"pKey": "11|"}))).as_deref(), Some("11|"));
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

    #[test]
    fn debit_and_pki_are_unavailable() {
        for f in ["iDoDebit", "iReadDebitRecord", "PKI_Sign", "iDoDebit_HSM_Step1"] {
            assert!(unavailable(f), "{f}");
        }
        assert!(!unavailable("iReadCardBas"));
        assert!(!unavailable("iReadCardBas_HSM_Step1"));
    }
}
