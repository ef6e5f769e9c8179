//! The HSM functions of the national interface (`docs/unified-interface.md`
//! section 7) over the daemon's HSM sessions (`Reader1.BeginHsm`,
//! `HsmSession1`). The session lives in the daemon; the [`Terminal`] holds
//! only its object path between steps, one per process (the library) or per
//! connection (the bridge). Here the national text forms meet the
//! session's byte fields: `pKey` is parsed into named values, and the
//! hand-overs are formatted as the `|`-separated outputs. No key and no
//! cryptography: the values are relayed.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant as OwnedValue, Variant as Value};

use super::codes::{Code, NationalError};
use super::format::{CardInfoArg, FileGroup, parse_card_info, parse_file_addr, parse_write_data};
use super::pinentry::{PinPrompt, PinSource};
use super::terminal::{Terminal, card_values, check_record, check_type, pin_failure, record_dict};
use sscard_client::{Dict, HsmSession1Proxy};
use sscard_contract::keys;
// The session's field names are the scripts' own variables.
use sscard_contract::keys::hsm as field;
use sscard_contract::keys::hsm::operation;

/// Which function's next step the held session waits for.
#[derive(Debug, Clone)]
pub(super) enum Awaiting {
    ReadBasStep2,
    ReadStep2 {
        groups: Vec<FileGroup>,
        wanted: CardInfoArg,
    },
    WriteStep2 {
        groups: Vec<FileGroup>,
    },
    ReloadStep2,
    UnblockStep2,
    /// Step3 of a reload (`true`) or an unblock.
    MacStep3 {
        reload: bool,
    },
}

/// The session a process or connection holds between steps.
#[derive(Debug, Clone)]
pub(super) struct Held {
    path: OwnedObjectPath,
    awaiting: Awaiting,
}

/// A byte value of an answer, or empty.
fn value(out: &Dict, key: &str) -> Vec<u8> {
    match out.get(key).map(|v| &**v) {
        Some(Value::Array(a)) => {
            a.inner().iter().filter_map(|e| if let Value::U8(b) = e { Some(*b) } else { None }).collect()
        }
        _ => Vec::new(),
    }
}

fn hex(out: &Dict, key: &str) -> String {
    hex::encode_upper(value(out, key))
}

fn bytes_arg(bytes: Vec<u8>) -> Result<OwnedValue, NationalError> {
    OwnedValue::try_from(Value::from(bytes)).map_err(|e| NationalError::with(Code::BadArgument, format!("pKey: {e}")))
}

/// One `pKey` part: hex, upper or lower case.
fn key_hex(part: &str) -> Result<Vec<u8>, NationalError> {
    hex::decode(part.trim()).map_err(|_| NationalError::with(Code::BadArgument, "pKey: not hex"))
}

/// `result + original` (hex): the original is its last 8 bytes.
fn result_and_original(part: &str) -> Result<(Vec<u8>, Vec<u8>), NationalError> {
    let mut bytes = key_hex(part)?;
    if bytes.len() <= 8 {
        return Err(NationalError::with(Code::BadArgument, "pKey: a result followed by its 8-byte original"));
    }
    let original = bytes.split_off(bytes.len() - 8);
    Ok((bytes, original))
}

/// The parts of a `|`-separated `pKey`, the trailing `|` optional.
fn parts(key: &str) -> Vec<&str> {
    let key = key.trim();
    let key = key.strip_suffix('|').unwrap_or(key);
    key.split('|').collect()
}

fn no_session() -> NationalError {
    NationalError::with(Code::BadArgument, "no HSM session: call this function's Step1 first")
}

impl Terminal {
    fn take_held(&self) -> Option<Held> {
        self.hsm.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn hold(&self, held: Held) {
        *self.hsm.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(held);
    }

    async fn session(&self, path: OwnedObjectPath) -> Result<HsmSession1Proxy<'static>, NationalError> {
        HsmSession1Proxy::builder(&self.connection)
            .path(path)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(NationalError::from)
    }

    /// Abandons the session still held, if any: a Step1 starts anew.
    async fn abandon(&self) {
        if let Some(held) = self.take_held()
            && let Ok(session) = self.session(held.path).await
        {
            // It may have ended already (idle, removed): nothing to abandon then.
            let _ = session.abort().await;
        }
    }

    /// Abandons the HSM session this terminal holds, if any (the bridge's
    /// connection has closed).
    pub async fn end_hsm(&self) {
        self.abandon().await;
    }

    /// Starts a session for `operation`, holding it for the next step.
    async fn begin(&self, operation: &str, args: Dict, awaiting: Awaiting) -> Result<Dict, NationalError> {
        self.abandon().await;
        let reader = self.reader().await?;
        let (path, out) = reader.begin_hsm(operation, args).await.map_err(NationalError::from)?;
        self.hold(Held { path, awaiting });
        Ok(out)
    }

    /// The next step of the held session, which must wait for `matches`;
    /// -14 without one. The session stays held if the step answers a
    /// hand-over for a later step, as `next` says.
    async fn step(
        &self,
        matches: impl Fn(&Awaiting) -> bool,
        args: impl FnOnce(&Awaiting) -> Result<Dict, NationalError>,
        next: Option<Awaiting>,
    ) -> Result<(Dict, Awaiting), NationalError> {
        let Some(held) = self.take_held() else { return Err(no_session()) };
        if !matches(&held.awaiting) {
            // Another function's session: it stays as it was.
            self.hold(held);
            return Err(no_session());
        }
        let session = self.session(held.path.clone()).await?;
        let args = match args(&held.awaiting) {
            Ok(args) => args,
            Err(e) => {
                // A step that cannot be sent fails like any other: the session ends.
                let _ = session.abort().await;
                return Err(e);
            }
        };
        let out = session.continue_(args).await.map_err(NationalError::from)?;
        if let Some(next) = next {
            self.hold(Held { path: held.path, awaiting: next });
        }
        Ok((out, held.awaiting))
    }

    /// Checks `pCardInfo`'s card identifier against the one the session's
    /// first step handed out: -22 when it is not this card (the session is
    /// then abandoned).
    async fn check_card_id(&self, out: &Dict, wanted: &CardInfoArg) -> Result<(), NationalError> {
        if !hex(out, keys::CARD_ID).eq_ignore_ascii_case(&wanted.card_id) {
            self.abandon().await;
            return Err(NationalError::with(Code::Mismatch, "pCardInfo: the card identifier is not this card's"));
        }
        Ok(())
    }

    /// `iReadCardBas_HSM_Step1`: `region|ATR historical bytes|algorithm|card
    /// identifier|internal factor|internal original|external factor|external original|`.
    pub async fn read_card_bas_hsm_step1(&self, i_type: i32) -> Result<String, NationalError> {
        check_type(i_type)?;
        let out = self.begin(operation::READ_BASIC, HashMap::new(), Awaiting::ReadBasStep2).await?;
        let card_id = value(&out, keys::CARD_ID);
        let region = sscard_model::CardId::from_bytes(&card_id).map(|id| id.region().to_string()).unwrap_or_default();
        let atr = self.reader().await?.atr().await.map_err(NationalError::from)?;
        let historical = hex::encode_upper(sscard_model::Atr::parse(&atr).historical);
        let fields = [
            region,
            historical,
            hex(&out, field::ALGORITHM),
            hex::encode_upper(&card_id),
            hex(&out, field::INTERNAL_FACTOR),
            hex(&out, field::INTERNAL_ORIGINAL),
            hex(&out, field::EXTERNAL_FACTOR),
            hex(&out, field::EXTERNAL_ORIGINAL),
        ];
        Ok(fields.iter().map(|f| format!("{f}|")).collect())
    }

    /// `iReadCardBas_HSM_Step2`: `pKey` = `internal result + internal
    /// original|external result + external original|`; the eleven fields
    /// of section 3, the terminal number `000000000000`.
    pub async fn read_card_bas_hsm_step2(&self, key: &str) -> Result<String, NationalError> {
        let args = |_: &Awaiting| {
            let p = parts(key);
            let (Some(internal), external) = (p.first(), p.get(1).copied().unwrap_or_default()) else {
                return Err(NationalError::with(Code::BadArgument, "pKey: internal part|external part|"));
            };
            let (internal_result, internal_original) = result_and_original(internal)?;
            let (external_result, external_original) =
                if external.trim().is_empty() { (Vec::new(), Vec::new()) } else { result_and_original(external)? };
            let mut d = Dict::new();
            d.insert(field::INTERNAL_RESULT.into(), bytes_arg(internal_result)?);
            d.insert(field::INTERNAL_ORIGINAL.into(), bytes_arg(internal_original)?);
            d.insert(field::EXTERNAL_RESULT.into(), bytes_arg(external_result)?);
            d.insert(field::EXTERNAL_ORIGINAL.into(), bytes_arg(external_original)?);
            Ok(d)
        };
        let (out, _) = self.step(|a| matches!(a, Awaiting::ReadBasStep2), args, None).await?;
        let (card, terminal_device) = card_values(&out);
        card.check_separators()?;
        Ok(super::format::bas_line(&card, &terminal_device))
    }

    /// Step1 of a generic read or write: `algorithm|key address|factor|original|`.
    async fn auth_step1(
        &self,
        operation: &str,
        i_type: i32,
        card_info: &str,
        file_addr: &str,
        awaiting: impl FnOnce(Vec<FileGroup>, CardInfoArg) -> Awaiting,
    ) -> Result<String, NationalError> {
        check_type(i_type)?;
        let wanted = parse_card_info(card_info)?;
        let groups = parse_file_addr(file_addr)?;
        let photo = super::format::wants_photo(&groups);
        let mut args = Dict::new();
        if operation == operation::READ && photo {
            args.insert(keys::opts::PHOTO.into(), OwnedValue::from(true));
        }
        let out = self.begin(operation, args, awaiting(groups, wanted.clone())).await?;
        self.check_card_id(&out, &wanted).await?;
        let fields =
            [hex(&out, field::ALGORITHM), hex(&out, field::KEY), hex(&out, field::FACTOR), hex(&out, field::ORIGINAL)];
        Ok(fields.iter().map(|f| format!("{f}|")).collect())
    }

    /// The cryptogram + original of a generic read's or write's Step2.
    fn auth_args(key: &str) -> Result<Dict, NationalError> {
        let first = parts(key).first().copied().unwrap_or_default();
        let (cryptogram, original) = result_and_original(first)?;
        let mut d = Dict::new();
        d.insert(field::CRYPTOGRAM.into(), bytes_arg(cryptogram)?);
        d.insert(field::ORIGINAL.into(), bytes_arg(original)?);
        Ok(d)
    }

    /// `iReadCard_HSM_Step1`; the card identifier of `pCardInfo` is checked
    /// now, the card number with the data Step2 reads.
    pub async fn read_card_hsm_step1(
        &self,
        i_type: i32,
        card_info: &str,
        file_addr: &str,
    ) -> Result<String, NationalError> {
        self.auth_step1(operation::READ, i_type, card_info, file_addr, |groups, wanted| Awaiting::ReadStep2 {
            groups,
            wanted,
        })
        .await
    }

    /// `iReadCard_HSM_Step2`: the output of `iReadCard` (section 4).
    pub async fn read_card_hsm_step2(&self, key: &str) -> Result<String, NationalError> {
        let (out, awaiting) =
            self.step(|a| matches!(a, Awaiting::ReadStep2 { .. }), |_| Self::auth_args(key), None).await?;
        let Awaiting::ReadStep2 { groups, wanted } = awaiting else { return Err(no_session()) };
        let (card, _) = card_values(&out);
        card.check(&wanted)?;
        card.check_separators()?;
        Ok(super::format::read_output(&groups, &card))
    }

    /// `iWriteCard_HSM_Step1`; the card identifier of `pCardInfo` is checked.
    pub async fn write_card_hsm_step1(
        &self,
        i_type: i32,
        card_info: &str,
        file_addr: &str,
    ) -> Result<String, NationalError> {
        self.auth_step1(operation::WRITE, i_type, card_info, file_addr, |groups, _| Awaiting::WriteStep2 { groups })
            .await
    }

    /// `iWriteCard_HSM_Step2`: writes `pWriteData` (every consistency rule
    /// applies); empty output.
    pub async fn write_card_hsm_step2(&self, key: &str, write_data: &str) -> Result<String, NationalError> {
        let args = |awaiting: &Awaiting| {
            let Awaiting::WriteStep2 { groups } = awaiting else { return Err(no_session()) };
            let record = parse_write_data(write_data, groups)?;
            check_record(&record)?;
            let dict = record_dict(record)?;
            let mut d = Self::auth_args(key)?;
            let record = OwnedValue::try_from(Value::from(dict))
                .map_err(|e| NationalError::with(Code::BadArgument, format!("pWriteData: {e}")))?;
            d.insert(keys::hsm::RECORD.into(), record);
            Ok(d)
        };
        self.step(|a| matches!(a, Awaiting::WriteStep2 { .. }), args, None).await?;
        Ok(String::new())
    }

    /// Step1 of a reload or unblock: `algorithm|000B|F||` (no external
    /// authentication).
    async fn mac_step1(
        &self,
        operation: &str,
        i_type: i32,
        card_info: &str,
        awaiting: Awaiting,
    ) -> Result<String, NationalError> {
        check_type(i_type)?;
        let wanted = parse_card_info(card_info)?;
        let out = self.begin(operation, HashMap::new(), awaiting).await?;
        self.check_card_id(&out, &wanted).await?;
        Ok(format!("{}|{}|{}||", hex(&out, field::ALGORITHM), hex(&out, field::KEY), hex(&out, field::FACTOR)))
    }

    /// Step2's `pKey` must be empty, or all its parts.
    fn empty_key(key: &str) -> Result<(), NationalError> {
        if parts(key).iter().all(|p| p.trim().is_empty()) {
            Ok(())
        } else {
            Err(NationalError::with(Code::BadArgument, "pKey: empty at this step (no external authentication)"))
        }
    }

    /// `algorithm|000B|challenge|command header|plain data|`.
    fn mac_output(out: &Dict) -> String {
        let fields = [
            hex(out, field::ALGORITHM),
            hex(out, field::KEY),
            hex(out, field::CHALLENGE),
            hex(out, field::HEADER),
            hex(out, field::DATA),
        ];
        fields.iter().map(|f| format!("{f}|")).collect()
    }

    /// Step3 of a reload or unblock: `pKey` is the whole command with its MAC.
    async fn mac_step3(&self, reload: bool, key: &str) -> Result<String, NationalError> {
        let args = |_: &Awaiting| {
            let apdu = key_hex(parts(key).first().copied().unwrap_or_default())?;
            let mut d = Dict::new();
            d.insert(field::APDU.into(), bytes_arg(apdu)?);
            Ok(d)
        };
        self.step(|a| matches!(a, Awaiting::MacStep3 { reload: r } if *r == reload), args, None).await?;
        Ok(String::new())
    }

    /// `iReloadPIN_HSM_Step1`.
    pub async fn reload_pin_hsm_step1(&self, i_type: i32, card_info: &str) -> Result<String, NationalError> {
        self.mac_step1(operation::RELOAD_PIN, i_type, card_info, Awaiting::ReloadStep2).await
    }

    /// `iReloadPIN_HSM_Step2`: the new PIN twice (section 5), then the
    /// command to MAC.
    pub async fn reload_pin_hsm_step2(&self, key: &str, pins: &mut dyn PinSource) -> Result<String, NationalError> {
        Self::empty_key(key)?;
        if !matches!(self.peek(), Some(Awaiting::ReloadStep2)) {
            return Err(no_session());
        }
        let pin = match pins.new_pin(&PinPrompt { description: "请输入新密码", tries_left: None }) {
            Ok(pin) => pin,
            Err(e) => {
                self.abandon().await;
                return Err(pin_failure(e));
            }
        };
        let args = |_: &Awaiting| {
            let mut d = Dict::new();
            let pin = OwnedValue::try_from(Value::from(pin.as_str()))
                .map_err(|e| NationalError::with(Code::BadArgument, format!("new PIN: {e}")))?;
            d.insert(keys::hsm::NEW_PIN.into(), pin);
            Ok(d)
        };
        let (out, _) =
            self.step(|a| matches!(a, Awaiting::ReloadStep2), args, Some(Awaiting::MacStep3 { reload: true })).await?;
        Ok(Self::mac_output(&out))
    }

    /// `iReloadPIN_HSM_Step3`.
    pub async fn reload_pin_hsm_step3(&self, key: &str) -> Result<String, NationalError> {
        self.mac_step3(true, key).await
    }

    /// `iUnblockPIN_HSM_Step1`.
    pub async fn unblock_pin_hsm_step1(&self, i_type: i32, card_info: &str) -> Result<String, NationalError> {
        self.mac_step1(operation::UNBLOCK_PIN, i_type, card_info, Awaiting::UnblockStep2).await
    }

    /// `iUnblockPIN_HSM_Step2`: the command to MAC.
    pub async fn unblock_pin_hsm_step2(&self, key: &str) -> Result<String, NationalError> {
        Self::empty_key(key)?;
        let (out, _) = self
            .step(
                |a| matches!(a, Awaiting::UnblockStep2),
                |_| Ok(Dict::new()),
                Some(Awaiting::MacStep3 { reload: false }),
            )
            .await?;
        Ok(Self::mac_output(&out))
    }

    /// `iUnblockPIN_HSM_Step3`.
    pub async fn unblock_pin_hsm_step3(&self, key: &str) -> Result<String, NationalError> {
        self.mac_step3(false, key).await
    }

    /// What the held session waits for.
    fn peek(&self) -> Option<Awaiting> {
        self.hsm.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().map(|h| h.awaiting.clone())
    }
}
