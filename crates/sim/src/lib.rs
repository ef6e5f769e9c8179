//! `sscard-sim`: the reference social security card and PSAM.
//!
//! This is the card side. It implements docs/card-profile.md exactly and
//! shares with the terminal side only generic ISO 7816 parsing and the
//! profile's element table.

pub mod crypto;
pub mod hsm;
pub mod image;
pub mod protocol;
pub mod psam;
pub mod user_card;
pub mod vpcd;

pub use image::CardImage;
pub use protocol::{Applet, AppletAnswer, SimulatedCard, WireRules};
pub use psam::Psam;
pub use user_card::{Generation, UserCard};

/// A user card behind the transmission rules of its generation.
pub fn user_card(card: UserCard) -> SimulatedCard<UserCard> {
    let rules = match card.generation() {
        Generation::Gen2 => WireRules::T0 { exact_le_skips_get_response: false },
        Generation::Gen3 => WireRules::T1 { extended: true },
    };
    SimulatedCard::new(card, rules)
}

/// A PSAM behind T=0 rules; it answers a case-4 command with the exact Le
/// directly.
pub fn psam(psam: Psam) -> SimulatedCard<Psam> {
    SimulatedCard::new(psam, WireRules::T0 { exact_le_skips_get_response: true })
}

#[cfg(test)]
#[path = "tests/card_rules.rs"]
mod tests;
