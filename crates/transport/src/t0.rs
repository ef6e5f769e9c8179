//! Resolving T=0 continuations (ISO/IEC 7816-3 §10.3.4, docs/card-profile.md
//! section 1): `61xx` is followed by GET RESPONSE, `6Cxx` by the same
//! command again with Le = xx. Both transports share this code.

use zeroize::Zeroizing;

use super::shape::{LengthForm, classify};
use super::{Capabilities, TransportError};

/// A bound on continuations, so a misbehaving card cannot loop us forever.
/// 8192 bytes at 255 a time take 33; 64 leaves room.
pub const MAX_CONTINUATIONS: usize = 64;

/// One raw exchange on the wire: a command in, a response out.
pub(crate) type RawExchange<'a> = dyn FnMut(&[u8]) -> Result<Vec<u8>, TransportError> + 'a;

/// Sends `command` through `send_raw` (one wire exchange per call) and
/// resolves the continuations. Counts every raw command in `sent`.
pub(crate) fn exchange(
    caps: Capabilities,
    sent: &mut u64,
    command: &[u8],
    send_raw: &mut RawExchange<'_>,
) -> Result<Vec<u8>, TransportError> {
    let shape = classify(command)?;
    if shape.form == LengthForm::Extended && !caps.extended_length {
        return Err(if caps.reader_extended {
            TransportError::ExtendedLengthUnsupported
        } else {
            TransportError::ReaderShortApdusOnly
        });
    }
    let mut data = Vec::new();
    // The command to send next: the original, a resend with a corrected Le,
    // or a GET RESPONSE. Zeroizing because the original may carry a PIN.
    let mut current: Zeroizing<Vec<u8>> = Zeroizing::new(command.to_vec());
    for _ in 0..=MAX_CONTINUATIONS {
        *sent += 1;
        let mut answer = send_raw(&current)?;
        let [sw1, sw2] = match answer.as_slice() {
            [.., sw1, sw2] => [*sw1, *sw2],
            _ => return Err(TransportError::MalformedResponse("fewer than 2 bytes")),
        };
        match sw1 {
            0x61 => {
                answer.truncate(answer.len() - 2);
                data.extend_from_slice(&answer);
                current = Zeroizing::new(vec![0x00, 0xC0, 0x00, 0x00, sw2]);
            }
            0x6C => current = with_le(&current, sw2)?,
            _ => {
                if data.is_empty() {
                    return Ok(answer);
                }
                data.extend_from_slice(&answer);
                return Ok(data);
            }
        }
    }
    Err(TransportError::TooManyContinuations(MAX_CONTINUATIONS))
}

/// The same case-1/2 command with Le = `le`. 6Cxx belongs to commands
/// without data (docs/card-profile.md section 1); resending a command with data
/// would repeat its effect, and a VERIFY would spend a second try, so that
/// answer is refused instead.
fn with_le(command: &[u8], le: u8) -> Result<Zeroizing<Vec<u8>>, TransportError> {
    let shape = classify(command)?;
    if shape.data.is_some() {
        return Err(TransportError::MalformedResponse("6Cxx answered a command that carries data"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(7));
    out.extend_from_slice(&command[..4]);
    match shape.form {
        LengthForm::Short => out.push(le),
        LengthForm::Extended => out.extend_from_slice(&[0, 0, le]),
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests/t0.rs"]
mod tests;
