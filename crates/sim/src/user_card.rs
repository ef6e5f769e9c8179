//! The simulated social security card: docs/card-profile.md sections 2 to 4 and
//! 9, for gen2 and gen3.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::crypto::{self, Algorithm};
use super::image::{CardImage, HexBytes};
use super::protocol::{Applet, AppletAnswer};
use sscard_apdu::{Command, StatusWord};
use sscard_model::Pin;
use sscard_model::elements::{EF05_ELEMENTS, EF06_ELEMENTS, ElementSpec};

/// The SSSE application identifier: "sx1.sh." + GBK "社会保障".
pub const SSSE_AID: [u8; 15] =
    [0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF];
/// gen3: T=1, card capabilities 73 00 00 C0 (extended Lc/Le).
pub const GEN3_ATR: [u8; 10] = [0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0x00, 0x00, 0xC0, 0x37];
/// gen2: T=0, short APDUs only.
pub const GEN2_ATR: [u8; 17] =
    [0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x4E, 0x43, 0x23, 0x86, 0x97, 0x15, 0x99, 0x00, 0xBF, 0x7C, 0x7A];

const PHOTO_SIZE: usize = 8192;
const SFI_EF05: u8 = 0x05;
const SFI_EF06: u8 = 0x06;
const SFI_EF07: u8 = 0x07;
const SFI_EF08: u8 = 0x08;
/// External-authentication keys the card knows.
const EXTERNAL_KEYS: [u8; 3] = [0x04, 0x0A, 0x0C];
const KEY_WRITE: u8 = 0x04;
const KEY_READ: u8 = 0x0A;
const KEY_LIFECYCLE: u8 = 0x0C;
const KEY_INTERNAL: u8 = 0x09;
const KEY_PIN_ADMIN: u8 = 0x0B;
const LCS_INACTIVE: u8 = 0x04;
const LCS_ACTIVE: u8 = 0x05;
const TAG_SPEC_VERSION: u8 = 0x03;

/// The card's generation: the model's (one type for both sides of the
/// wire; the simulator's behaviour per generation is its own).
pub use sscard_model::Generation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    Nothing,
    MasterFile,
    Ssse,
}

/// The volatile security state (docs/card-profile.md section 2).
#[derive(Debug, Default)]
struct SecurityState {
    /// Key ids authenticated by EXTERNAL AUTHENTICATE.
    external: Vec<u8>,
    pin_verified: bool,
    challenge: Option<[u8; 8]>,
}

type Outcome = Result<AppletAnswer, StatusWord>;

/// A social security card.
pub struct UserCard {
    generation: Generation,
    image: CardImage,
    /// Set when the persistent image changed since [`UserCard::take_dirty`].
    dirty: bool,
    selected: Selected,
    current_ef: Option<u8>,
    security: SecurityState,
}

impl UserCard {
    /// A blank card: only the card identifier is written, the PIN is the
    /// initial PIN, and a gen3 card's LCS is 04.
    pub fn blank(generation: Generation, region_bcd: [u8; 3], serial: [u8; 8], initial_pin: &str) -> UserCard {
        let mut card_id = region_bcd.to_vec();
        card_id.extend_from_slice(&[0xD1, 0x56, 0x00, 0x00, 0x05]);
        card_id.extend_from_slice(&serial);
        let mut ef05 = BTreeMap::new();
        ef05.insert(tag_key(0x01), HexBytes(card_id));
        let image = CardImage {
            generation: match generation {
                Generation::Gen2 => 2,
                Generation::Gen3 => 3,
            },
            ef05,
            ef06: BTreeMap::new(),
            photo: HexBytes(Vec::new()),
            pin: initial_pin.to_owned(),
            initial_pin: initial_pin.to_owned(),
            pin_max_tries: 3,
            pin_tries_left: 3,
            lcs: (generation == Generation::Gen3).then_some(LCS_INACTIVE),
        };
        UserCard::with_image(generation, image)
    }

    /// A card from a saved image; the image is checked for consistency.
    pub fn from_image(image: CardImage) -> Result<UserCard, String> {
        let generation = match image.generation {
            2 => Generation::Gen2,
            3 => Generation::Gen3,
            g => return Err(format!("generation {g} is neither 2 nor 3")),
        };
        for (file, specs) in [(&image.ef05, &EF05_ELEMENTS), (&image.ef06, &EF06_ELEMENTS)] {
            for (tag, value) in file {
                let spec = specs.iter().find(|s| tag_key(s.tag) == *tag).ok_or(format!("unknown record tag {tag}"))?;
                if value.0.len() != spec.len {
                    return Err(format!("record {tag} holds {} bytes, not {}", value.0.len(), spec.len));
                }
            }
        }
        if image.ef05.get("01").is_none_or(|id| id.0.len() != 16) {
            return Err("the card identifier (EF05 tag 01) is missing".into());
        }
        if !image.photo.0.is_empty() && image.photo.0.len() != PHOTO_SIZE {
            return Err(format!("the photo file holds {} bytes, not {PHOTO_SIZE}", image.photo.0.len()));
        }
        if !valid_pin_digits(&image.pin) || !valid_pin_digits(&image.initial_pin) {
            return Err("pin and initial_pin must be 4 to 12 digits".into());
        }
        if image.pin_tries_left > image.pin_max_tries || image.pin_max_tries == 0 || image.pin_max_tries > 15 {
            return Err("pin_tries_left must be at most pin_max_tries, which is 1 to 15".into());
        }
        if (generation == Generation::Gen3) != image.lcs.is_some() {
            return Err("a gen3 card has an lcs, a gen2 card has none".into());
        }
        Ok(UserCard::with_image(generation, image))
    }

    fn with_image(generation: Generation, image: CardImage) -> UserCard {
        UserCard {
            generation,
            image,
            dirty: false,
            selected: Selected::Nothing,
            current_ef: None,
            security: SecurityState::default(),
        }
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    pub fn image(&self) -> &CardImage {
        &self.image
    }

    /// Whether the image changed since the last call.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The specification version this card's generation carries in EF05 tag 03.
    fn spec_version(&self) -> &'static [u8; 4] {
        match self.generation {
            Generation::Gen2 => b"2.00",
            Generation::Gen3 => b"3.00",
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self.generation {
            Generation::Gen2 => Algorithm::Tdes,
            Generation::Gen3 => Algorithm::Sm4,
        }
    }

    fn card_id(&self) -> [u8; 16] {
        let mut id = [0u8; 16];
        if let Some(v) = self.image.ef05.get("01") {
            id.copy_from_slice(&v.0[..16]);
        }
        id
    }

    /// The diversified card key `key_id`.
    fn card_key(&self, key_id: u8) -> crypto::Key {
        let id = self.card_id();
        let mut f = [0u8; 8];
        f.copy_from_slice(&id[8..]);
        crypto::diversify(self.algorithm(), &crypto::master_key(key_id), &f)
    }

    fn has_external(&self, key_id: u8) -> bool {
        self.security.external.contains(&key_id)
    }

    fn clear_security(&mut self) {
        self.security = SecurityState::default();
    }

    fn fci(&self) -> Vec<u8> {
        let mut body = vec![0x84, SSSE_AID.len() as u8];
        body.extend_from_slice(&SSSE_AID);
        body.extend_from_slice(&[0xA5, 0x06, 0x9F, 0x0C, 0x03, 0x86, 0x01, self.algorithm().code()]);
        if let Some(lcs) = self.image.lcs {
            body.extend_from_slice(&[0x8A, 0x01, lcs]);
        }
        let mut fci = vec![0x6F, body.len() as u8];
        fci.extend_from_slice(&body);
        fci
    }

    fn select(&mut self, c: &Command) -> Outcome {
        match (c.p1, c.p2) {
            (0x04, 0x00) => {
                // Every SELECT by AID clears the security state, found or not.
                self.clear_security();
                self.current_ef = None;
                if c.data() == SSSE_AID {
                    self.selected = Selected::Ssse;
                    Ok(AppletAnswer::ok(self.fci()))
                } else {
                    self.selected = Selected::Nothing;
                    Err(StatusWord::FileNotFound)
                }
            }
            (0x00, 0x00) if c.data() == [0x3F, 0x00] => {
                self.selected = Selected::MasterFile;
                self.current_ef = None;
                Ok(AppletAnswer::status(StatusWord::Success))
            }
            (0x02, 0x00) | (0x00, 0x00) => {
                let [0xEF, sfi] = c.data() else { return Err(StatusWord::FileNotFound) };
                self.require_application()?;
                match *sfi {
                    SFI_EF07 => Err(StatusWord::SecurityStatusNotSatisfied),
                    SFI_EF05 | SFI_EF06 | SFI_EF08 => {
                        self.current_ef = Some(*sfi);
                        Ok(AppletAnswer::status(StatusWord::Success))
                    }
                    _ => Err(StatusWord::FileNotFound),
                }
            }
            _ => Err(StatusWord::WrongP1P2),
        }
    }

    /// Commands other than SELECT need the application. After a failed
    /// SELECT by AID none is selected (6985); under the MF the files are
    /// not there (6A82).
    fn require_application(&self) -> Result<(), StatusWord> {
        match self.selected {
            Selected::Ssse => Ok(()),
            Selected::MasterFile => Err(StatusWord::FileNotFound),
            Selected::Nothing => Err(StatusWord::ConditionsOfUseNotSatisfied),
        }
    }

    /// Resolves the SFI in P2 (0 means the current EF) to a record file.
    fn record_file(&mut self, p2: u8) -> Result<(u8, &'static [ElementSpec; 7]), StatusWord> {
        let sfi = match p2 >> 3 {
            0 => self.current_ef.ok_or(StatusWord::CommandNotAllowed)?,
            sfi => sfi,
        };
        match sfi {
            SFI_EF05 => Ok((SFI_EF05, &EF05_ELEMENTS)),
            SFI_EF06 => Ok((SFI_EF06, &EF06_ELEMENTS)),
            SFI_EF07 => Err(StatusWord::SecurityStatusNotSatisfied),
            SFI_EF08 => Err(StatusWord::CommandNotAllowed),
            _ => Err(StatusWord::FileNotFound),
        }
    }

    /// P1 is a record number when P2's low bits are 100, a tag when 000.
    fn find_record(specs: &'static [ElementSpec; 7], p1: u8, p2: u8) -> Result<&'static ElementSpec, StatusWord> {
        match p2 & 0x07 {
            0b100 => specs.iter().find(|s| s.record_number == p1).ok_or(StatusWord::RecordNotFound),
            0b000 => specs.iter().find(|s| s.tag == p1).ok_or(StatusWord::RecordNotFound),
            _ => Err(StatusWord::WrongP1P2),
        }
    }

    fn records(&self, sfi: u8) -> &BTreeMap<String, HexBytes> {
        if sfi == SFI_EF05 { &self.image.ef05 } else { &self.image.ef06 }
    }

    fn read_record(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        let (sfi, specs) = self.record_file(c.p2)?;
        self.current_ef = Some(sfi);
        if sfi == SFI_EF06 && self.generation == Generation::Gen3 && !self.has_external(KEY_READ) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let spec = Self::find_record(specs, c.p1, c.p2)?;
        let mut tlv = vec![spec.tag, spec.len as u8];
        match self.records(sfi).get(&tag_key(spec.tag)) {
            Some(value) => tlv.extend_from_slice(&value.0),
            None => tlv.resize(2 + spec.len, 0x00),
        }
        Ok(AppletAnswer::ok(tlv))
    }

    fn update_record(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        let (sfi, specs) = self.record_file(c.p2)?;
        self.current_ef = Some(sfi);
        // The security condition comes before every other rule.
        if !self.has_external(KEY_WRITE) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let spec = Self::find_record(specs, c.p1, c.p2)?;
        if !spec.writable {
            return Err(StatusWord::ConditionsOfUseNotSatisfied);
        }
        let data = c.data();
        if data.len() != 2 + spec.len || data[1] as usize != spec.len {
            return Err(StatusWord::WrongLength);
        }
        if data[0] != spec.tag {
            return Err(StatusWord::IncorrectData);
        }
        if spec.tag == TAG_SPEC_VERSION && data[2..] != *self.spec_version() {
            return Err(StatusWord::IncorrectData);
        }
        let value = HexBytes(data[2..].to_vec());
        let file = if sfi == SFI_EF05 { &mut self.image.ef05 } else { &mut self.image.ef06 };
        file.insert(tag_key(spec.tag), value);
        self.dirty = true;
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    /// Resolves a READ/UPDATE BINARY address: by SFI in P1 (offset P2), or
    /// by offset in P1-P2 within the current EF, which must be EF08.
    fn binary_offset(&mut self, c: &Command) -> Result<usize, StatusWord> {
        if c.p1 & 0x80 != 0 {
            match c.p1 & 0x1F {
                SFI_EF08 => {
                    self.current_ef = Some(SFI_EF08);
                    Ok(c.p2 as usize)
                }
                SFI_EF07 => Err(StatusWord::SecurityStatusNotSatisfied),
                sfi @ (SFI_EF05 | SFI_EF06) => {
                    // Any access by SFI makes the EF current, even a refused one.
                    self.current_ef = Some(sfi);
                    Err(StatusWord::CommandNotAllowed)
                }
                _ => Err(StatusWord::FileNotFound),
            }
        } else if self.current_ef == Some(SFI_EF08) {
            Ok(u16::from_be_bytes([c.p1, c.p2]) as usize)
        } else {
            Err(StatusWord::CommandNotAllowed)
        }
    }

    fn read_binary(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        let offset = self.binary_offset(c)?;
        if !self.has_external(KEY_READ) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        if offset >= PHOTO_SIZE {
            return Err(StatusWord::WrongOffset);
        }
        let photo = &self.image.photo.0;
        let data = if photo.is_empty() { vec![0u8; PHOTO_SIZE - offset] } else { photo[offset..].to_vec() };
        Ok(AppletAnswer::ok(data))
    }

    fn update_binary(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        let offset = self.binary_offset(c)?;
        if !self.has_external(KEY_WRITE) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        if offset >= PHOTO_SIZE {
            return Err(StatusWord::WrongOffset);
        }
        let data = c.data();
        if data.is_empty() || offset + data.len() > PHOTO_SIZE {
            return Err(StatusWord::WrongLength);
        }
        let photo = &mut self.image.photo.0;
        if photo.is_empty() {
            photo.resize(PHOTO_SIZE, 0);
        }
        photo[offset..offset + data.len()].copy_from_slice(data);
        self.dirty = true;
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    fn get_challenge(&mut self, c: &Command) -> Outcome {
        if (c.p1, c.p2) != (0, 0) {
            return Err(StatusWord::WrongP1P2);
        }
        // The challenge is 8 bytes. Under T=1 a different Le is refused here;
        // under T=0 the wire rules answer 6C08 for it.
        if self.generation == Generation::Gen3 && c.ne() != Some(8) {
            return Err(StatusWord::WrongLength);
        }
        let mut challenge = [0u8; 8];
        getrandom::fill(&mut challenge).map_err(|_| StatusWord::MemoryFailure)?;
        self.security.challenge = Some(challenge);
        Ok(AppletAnswer::ok(challenge.to_vec()))
    }

    fn internal_authenticate(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        if c.p1 != 0 || c.p2 != KEY_INTERNAL {
            return Err(if c.p1 != 0 { StatusWord::WrongP1P2 } else { StatusWord::KeyNotFound });
        }
        if c.data().len() != 8 {
            return Err(StatusWord::WrongLength);
        }
        let key = self.card_key(KEY_INTERNAL);
        Ok(AppletAnswer::ok(crypto::encrypt_block(self.algorithm(), &key, c.data())))
    }

    fn external_authenticate(&mut self, c: &Command, challenge: Option<[u8; 8]>) -> Outcome {
        self.require_application()?;
        let challenge = challenge.ok_or(StatusWord::ReferencedDataInvalid)?;
        if c.p1 != 0 {
            return Err(StatusWord::WrongP1P2);
        }
        if !EXTERNAL_KEYS.contains(&c.p2) {
            return Err(StatusWord::KeyNotFound);
        }
        if c.data().len() != self.algorithm().block_size() {
            return Err(StatusWord::WrongLength);
        }
        let expected = crypto::encrypt_block(self.algorithm(), &self.card_key(c.p2), &challenge);
        if expected != c.data() {
            return Err(StatusWord::AuthenticationFailed);
        }
        if !self.security.external.contains(&c.p2) {
            self.security.external.push(c.p2);
        }
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    fn pin_blocked(&self) -> bool {
        self.image.pin_tries_left == 0
    }

    fn wrong_pin(&mut self) -> StatusWord {
        self.security.pin_verified = false;
        self.image.pin_tries_left = self.image.pin_tries_left.saturating_sub(1);
        self.dirty = true;
        if self.pin_blocked() {
            StatusWord::AuthenticationMethodBlocked
        } else {
            StatusWord::WrongPin { tries_left: self.image.pin_tries_left }
        }
    }

    fn right_pin(&mut self) {
        self.security.pin_verified = true;
        if self.image.pin_tries_left != self.image.pin_max_tries {
            self.image.pin_tries_left = self.image.pin_max_tries;
            self.dirty = true;
        }
    }

    fn verify(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        if (c.p1, c.p2) != (0, 0) {
            return Err(StatusWord::WrongP1P2);
        }
        if self.pin_blocked() {
            return Err(StatusWord::AuthenticationMethodBlocked);
        }
        if c.data().is_empty() {
            return if self.security.pin_verified {
                Ok(AppletAnswer::status(StatusWord::Success))
            } else {
                Err(StatusWord::WrongPin { tries_left: self.image.pin_tries_left })
            };
        }
        let offered = decode_pin(c.data()).ok_or(StatusWord::IncorrectData)?;
        if *offered == self.image.pin {
            self.right_pin();
            Ok(AppletAnswer::status(StatusWord::Success))
        } else {
            Err(self.wrong_pin())
        }
    }

    fn change_pin(&mut self, c: &Command) -> Outcome {
        self.require_application()?;
        if self.pin_blocked() {
            return Err(StatusWord::AuthenticationMethodBlocked);
        }
        let data = c.data();
        let split = data.iter().position(|&b| b == 0xFF).ok_or(StatusWord::IncorrectData)?;
        let old = decode_pin(&data[..split]).ok_or(StatusWord::IncorrectData)?;
        let new = decode_pin(&data[split + 1..]).ok_or(StatusWord::IncorrectData)?;
        if *new == self.image.initial_pin {
            return Err(StatusWord::IncorrectData);
        }
        if *old != self.image.pin {
            return Err(self.wrong_pin());
        }
        self.image.pin = new.to_string();
        self.right_pin();
        self.dirty = true;
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    /// Checks the 4-byte MAC that ends `c`'s data, computed by the PSAM
    /// with key 0B over the unpadded command, the challenge as IV.
    fn check_admin_mac(&self, c: &Command, challenge: [u8; 8]) -> Result<(), StatusWord> {
        let data = c.data();
        let (body, mac) = data.split_at(data.len() - 4);
        let mut message = vec![c.cla, c.ins, c.p1, c.p2, data.len() as u8];
        message.extend_from_slice(body);
        let expected = crypto::mac(self.algorithm(), &self.card_key(KEY_PIN_ADMIN), &challenge, &message);
        if expected == mac { Ok(()) } else { Err(StatusWord::SecureMessagingDataWrong) }
    }

    fn reload_pin(&mut self, c: &Command, challenge: Option<[u8; 8]>) -> Outcome {
        self.require_application()?;
        let challenge = challenge.ok_or(StatusWord::ReferencedDataInvalid)?;
        if c.data().len() < 4 + 2 {
            return Err(StatusWord::WrongLength);
        }
        self.check_admin_mac(c, challenge)?;
        let body = &c.data()[..c.data().len() - 4];
        let new = decode_pin(body).ok_or(StatusWord::IncorrectData)?;
        if *new == self.image.initial_pin {
            return Err(StatusWord::IncorrectData);
        }
        self.image.pin = new.to_string();
        self.image.pin_tries_left = self.image.pin_max_tries;
        self.security.pin_verified = false;
        self.dirty = true;
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    fn unblock_pin(&mut self, c: &Command, challenge: Option<[u8; 8]>) -> Outcome {
        self.require_application()?;
        let challenge = challenge.ok_or(StatusWord::ReferencedDataInvalid)?;
        if (c.p1, c.p2) != (0, 0) {
            return Err(StatusWord::WrongP1P2);
        }
        if c.data().len() != 4 {
            return Err(StatusWord::WrongLength);
        }
        self.check_admin_mac(c, challenge)?;
        self.image.pin_tries_left = self.image.pin_max_tries;
        self.security.pin_verified = false;
        self.dirty = true;
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    fn activate(&mut self) -> Outcome {
        self.require_application()?;
        let Some(lcs) = self.image.lcs else { return Err(StatusWord::InstructionNotSupported) };
        if !self.has_external(KEY_LIFECYCLE) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        if !self.security.pin_verified || self.image.pin == self.image.initial_pin || lcs != LCS_INACTIVE {
            return Err(StatusWord::ConditionsOfUseNotSatisfied);
        }
        self.image.lcs = Some(LCS_ACTIVE);
        self.dirty = true;
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    fn deactivate(&mut self) -> Outcome {
        self.require_application()?;
        let Some(lcs) = self.image.lcs else { return Err(StatusWord::InstructionNotSupported) };
        if !self.has_external(KEY_LIFECYCLE) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        if lcs != LCS_INACTIVE {
            self.image.lcs = Some(LCS_INACTIVE);
            self.dirty = true;
        }
        Ok(AppletAnswer::status(StatusWord::Success))
    }
}

impl Applet for UserCard {
    fn atr(&self) -> Vec<u8> {
        match self.generation {
            Generation::Gen2 => GEN2_ATR.to_vec(),
            Generation::Gen3 => GEN3_ATR.to_vec(),
        }
    }

    fn reset(&mut self) {
        self.clear_security();
        self.selected = Selected::Nothing;
        self.current_ef = None;
    }

    fn handle(&mut self, c: &Command) -> AppletAnswer {
        // The challenge is single-use, and this card voids it on any
        // command other than the one that consumes it.
        let challenge = self.security.challenge.take();
        let gen3 = self.generation == Generation::Gen3;
        // After a failed SELECT by AID (and after reset) no application is
        // selected, and every command but SELECT answers 6985.
        if self.selected == Selected::Nothing && (c.cla, c.ins) != (0x00, 0xA4) {
            return AppletAnswer::status(StatusWord::ConditionsOfUseNotSatisfied);
        }
        let outcome = match (c.cla, c.ins) {
            (0x00, 0xA4) => self.select(c),
            (0x00, 0xB2) => self.read_record(c),
            (0x00, 0xDC) => self.update_record(c),
            (0x00, 0xB0) => self.read_binary(c),
            (0x00, 0xD6) => self.update_binary(c),
            (0x00, 0x84) => self.get_challenge(c),
            (0x00, 0x88) => self.internal_authenticate(c),
            (0x00, 0x82) => self.external_authenticate(c, challenge),
            (0x00, 0x20) => self.verify(c),
            (0x80, 0x5E) if (c.p1, c.p2) == (0x01, 0x00) => self.change_pin(c),
            (0x80, 0x5E) if (c.p1, c.p2) == (0x00, 0x00) => self.reload_pin(c, challenge),
            (0x80, 0x5E) => Err(StatusWord::WrongP1P2),
            (0x84, 0x24) => self.unblock_pin(c, challenge),
            (0x00, 0x44) if gen3 => self.activate(),
            (0x00, 0x04) if gen3 => self.deactivate(),
            _ => Err(StatusWord::InstructionNotSupported),
        };
        outcome.unwrap_or_else(AppletAnswer::status)
    }
}

fn tag_key(tag: u8) -> String {
    format!("{tag:02X}")
}

fn valid_pin_digits(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// Decodes a packed-BCD PIN; malformed encodings are `None` (6A80).
fn decode_pin(bytes: &[u8]) -> Option<Zeroizing<String>> {
    let pin = Pin::from_bcd(bytes)?;
    Some(Zeroizing::new(String::from_utf8_lossy(pin.expose_digits()).into_owned()))
}
