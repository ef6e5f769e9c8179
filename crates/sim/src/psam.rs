//! The simulated PSAM (docs/card-profile.md section 6): it holds the master
//! keys, diversifies them for one card at a time, and computes the
//! cryptograms and MACs the terminal forwards to the user card.

use super::crypto::{self, Algorithm, Key};
use super::protocol::{Applet, AppletAnswer};
use sscard_apdu::{Command, StatusWord};

pub const PSAM_AID: [u8; 6] = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90];
/// T=0, historical bytes "\0PSAMHOLD".
pub const PSAM_ATR: [u8; 13] = [0x3B, 0x69, 0x00, 0x00, 0x00, 0x50, 0x53, 0x41, 0x4D, 0x48, 0x4F, 0x4C, 0x44];
/// The key ids this PSAM holds master keys for.
pub const PSAM_KEYS: [u8; 5] = [0x04, 0x09, 0x0A, 0x0B, 0x0C];
const SFI_TERMINAL_NUMBER: u8 = 0x16;

/// A PSAM.
pub struct Psam {
    terminal_number: [u8; 6],
    selected: bool,
    /// The card key from the last INIT, and its algorithm.
    session: Option<(Algorithm, Key)>,
    /// Another card centre's keys, if not the reference domain's.
    key_domain: Option<String>,
}

impl Psam {
    /// `terminal_number` is 12 BCD digits, packed into 6 bytes.
    pub fn new(terminal_number: [u8; 6]) -> Psam {
        Psam { terminal_number, selected: false, session: None, key_domain: None }
    }

    /// A PSAM whose master keys belong to another key domain: the
    /// reference cards refuse every cryptogram and MAC it makes.
    pub fn with_key_domain(terminal_number: [u8; 6], domain: String) -> Psam {
        Psam { key_domain: Some(domain), ..Psam::new(terminal_number) }
    }

    fn select(&mut self, c: &Command) -> Result<AppletAnswer, StatusWord> {
        self.session = None;
        if (c.p1, c.p2) != (0x04, 0x00) {
            return Err(StatusWord::WrongP1P2);
        }
        self.selected = c.data() == PSAM_AID;
        if self.selected { Ok(AppletAnswer::status(StatusWord::Success)) } else { Err(StatusWord::FileNotFound) }
    }

    fn read_binary(&self, c: &Command) -> Result<AppletAnswer, StatusWord> {
        if c.p1 != 0x80 | SFI_TERMINAL_NUMBER {
            return Err(StatusWord::FileNotFound);
        }
        let offset = c.p2 as usize;
        if offset >= self.terminal_number.len() {
            return Err(StatusWord::WrongOffset);
        }
        Ok(AppletAnswer::ok(self.terminal_number[offset..].to_vec()))
    }

    fn init(&mut self, c: &Command) -> Result<AppletAnswer, StatusWord> {
        self.session = None;
        let alg = Algorithm::from_code(c.p1).ok_or(StatusWord::WrongP1P2)?;
        if !PSAM_KEYS.contains(&c.p2) {
            return Err(StatusWord::KeyNotFound);
        }
        let f: [u8; 8] = c.data().try_into().map_err(|_| StatusWord::WrongLength)?;
        self.session =
            Some((alg, crypto::diversify(alg, &crypto::master_key_of(self.key_domain.as_deref(), c.p2), &f)));
        Ok(AppletAnswer::status(StatusWord::Success))
    }

    fn compute(&self, c: &Command) -> Result<AppletAnswer, StatusWord> {
        let (alg, key) = self.session.as_ref().ok_or(StatusWord::ConditionsOfUseNotSatisfied)?;
        match (c.p1, c.p2) {
            (0x00, 0x00) => {
                if c.data().len() != 8 {
                    return Err(StatusWord::WrongLength);
                }
                Ok(AppletAnswer::ok(crypto::encrypt_block(*alg, key, c.data())))
            }
            (0x05, 0x00) => {
                if c.data().len() < 8 {
                    return Err(StatusWord::WrongLength);
                }
                let (iv, message) = c.data().split_at(8);
                Ok(AppletAnswer::ok(crypto::mac(*alg, key, iv, message).to_vec()))
            }
            _ => Err(StatusWord::WrongP1P2),
        }
    }
}

impl Applet for Psam {
    fn atr(&self) -> Vec<u8> {
        PSAM_ATR.to_vec()
    }

    fn reset(&mut self) {
        self.selected = false;
        self.session = None;
    }

    fn handle(&mut self, c: &Command) -> AppletAnswer {
        let outcome = match (c.cla, c.ins) {
            (0x00, 0xA4) => self.select(c),
            _ if !self.selected => Err(StatusWord::ConditionsOfUseNotSatisfied),
            (0x00, 0xB0) => self.read_binary(c),
            (0x80, 0x1A) => self.init(c),
            (0x80, 0xFA) => self.compute(c),
            _ => Err(StatusWord::InstructionNotSupported),
        };
        outcome.unwrap_or_else(AppletAnswer::status)
    }
}
