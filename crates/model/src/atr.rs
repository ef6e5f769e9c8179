//! ATR parsing (ISO/IEC 7816-3 §8.2, 7816-4 §8.1): the protocols offered
//! and the card capabilities in the historical bytes.

/// A transmission protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Character-oriented, short APDUs only through the reader.
    T0,
    /// Block-oriented.
    T1,
}

/// The parts of an ATR the terminal acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atr {
    /// The historical bytes (at most the K that T0 announces).
    pub historical: Vec<u8>,
    /// The protocol a reader negotiates with `T=0 | T=1` allowed: T=1 when
    /// any TD byte offers it, else T=0. (Contactless-style ATRs such as
    /// `3B 8x 80 01` name T=0 in TD1 only as a placeholder.)
    pub protocol: Protocol,
    /// Bit 0x40 of the third card-capabilities byte: extended Lc/Le.
    pub extended_length: bool,
}

impl Atr {
    /// Parses an ATR leniently: a card whose ATR we cannot fully read is
    /// treated as a plain short-APDU card rather than refused.
    pub fn parse(atr: &[u8]) -> Atr {
        let mut historical = Vec::new();
        let mut offers_t1 = false;
        if let Some((&t0, mut rest)) = atr.get(1..).and_then(|a| a.split_first()) {
            let k = (t0 & 0x0F) as usize;
            let mut y = t0 >> 4;
            loop {
                // TA, TB, TC are skipped; TD names the next protocol.
                let skip = (y & 0x7).count_ones() as usize;
                if rest.len() < skip {
                    rest = &[];
                    break;
                }
                rest = &rest[skip..];
                if y & 0x8 == 0 {
                    break;
                }
                let Some((&td, tail)) = rest.split_first() else { break };
                rest = tail;
                offers_t1 |= td & 0x0F == 1;
                y = td >> 4;
            }
            historical = rest.get(..k).unwrap_or(rest).to_vec();
        }
        let extended_length =
            card_capabilities(&historical).is_some_and(|caps| caps.get(2).is_some_and(|b| b & 0x40 != 0));
        let protocol = if offers_t1 { Protocol::T1 } else { Protocol::T0 };
        Atr { historical, protocol, extended_length }
    }
}

/// The value of the card-capabilities object (compact-TLV tag 7) if the
/// historical bytes carry one.
fn card_capabilities(historical: &[u8]) -> Option<&[u8]> {
    let (&category, body) = historical.split_first()?;
    let objects = match category {
        0x80 => body,
        // Category 00 ends with a 3-byte status indicator.
        0x00 => body.get(..body.len().checked_sub(3)?)?,
        _ => return None,
    };
    let mut rest = objects;
    while let Some((&tl, tail)) = rest.split_first() {
        let len = (tl & 0x0F) as usize;
        let value = tail.get(..len)?;
        if tl >> 4 == 7 {
            return Some(value);
        }
        rest = &tail[len..];
    }
    None
}

#[cfg(test)]
#[path = "tests/atr.rs"]
mod tests;
