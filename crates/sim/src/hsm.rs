//! The test back end of HSM mode (`docs/unified-interface.md` section 7):
//! it plays the encryption machine behind a counter application, with the
//! simulator's test keys (`docs/card-profile.md` section 7). Keys only
//! ever live here, in the simulator; the daemon, the library and the bridge
//! relay bytes.

use super::crypto::{self, Algorithm};

/// A cryptogram of the card key `key_id` (diversified with F) over
/// `original`: the answer to EXTERNAL AUTHENTICATE, or the result the card
/// gives INTERNAL AUTHENTICATE (key 09).
pub fn cryptogram(alg: Algorithm, domain: Option<&str>, key_id: u8, f: &[u8; 8], original: &[u8]) -> Vec<u8> {
    let key = crypto::diversify(alg, &crypto::master_key_of(domain, key_id), f);
    crypto::encrypt_block(alg, &key, original)
}

/// The command `header ‖ data ‖ MAC`, the MAC under card key 0B over the
/// command with the challenge as IV (RELOAD PIN, UNBLOCK PIN).
pub fn mac_command(
    alg: Algorithm,
    domain: Option<&str>,
    f: &[u8; 8],
    challenge: &[u8],
    header: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let key = crypto::diversify(alg, &crypto::master_key_of(domain, 0x0B), f);
    let mut command = header.to_vec();
    command.extend_from_slice(data);
    let mac = crypto::mac(alg, &key, challenge, &command);
    command.extend_from_slice(&mac);
    command
}

fn fields(line: &str) -> Vec<&str> {
    let line = line.trim();
    let line = line.strip_suffix('|').unwrap_or(line);
    line.split('|').collect()
}

fn hex_of(what: &str, text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text).map_err(|_| format!("{what}: not hex: {text:?}"))
}

fn alg_of(text: &str) -> Result<Algorithm, String> {
    let code = hex_of("algorithm", text)?;
    match code[..] {
        [c] => Algorithm::from_code(c).ok_or_else(|| format!("algorithm {text}: neither 01 nor 03")),
        _ => Err(format!("algorithm {text:?}: one byte")),
    }
}

fn factor_of(text: &str) -> Result<[u8; 8], String> {
    hex_of("factor", text)?.try_into().map_err(|_| format!("factor {text:?}: 8 bytes"))
}

/// The back end's answer to a step's output line, in the national form:
/// - `iReadCardBas_HSM_Step1`'s eight (or nine) fields: the `pKey` of Step2;
/// - `iReadCard_HSM_Step1`'s or `iWriteCard_HSM_Step1`'s four fields
///   (`algorithm|key address|factor|original|`): cryptogram + original;
/// - Step2 of a reload or unblock (`algorithm|000B|challenge|header|data|`),
///   with `first`, its Step1 output (`algorithm|000B|F||`), for F: the
///   whole command with its MAC, as Step3's `pKey`.
pub fn answer(line: &str, first: Option<&str>, domain: Option<&str>) -> Result<String, String> {
    let f = fields(line);
    let hex = |b: &[u8]| hex::encode_upper(b);
    match f.len() {
        8 | 9 => {
            let alg = alg_of(f[2])?;
            let internal_factor = factor_of(f[4])?;
            let internal_original = hex_of("internal original", f[5])?;
            let internal = cryptogram(alg, domain, 0x09, &internal_factor, &internal_original);
            let external = if f[7].is_empty() {
                String::new()
            } else {
                let external_original = hex_of("external original", f[7])?;
                let result = cryptogram(alg, domain, 0x0A, &factor_of(f[6])?, &external_original);
                format!("{}{}", hex(&result), hex(&external_original))
            };
            Ok(format!("{}{}|{external}|", hex(&internal), hex(&internal_original)))
        }
        4 => {
            let alg = alg_of(f[0])?;
            let key = hex_of("key address", f[1])?;
            let [0, key_id] = key[..] else { return Err(format!("key address {:?}: 00 and the key id", f[1])) };
            let original = hex_of("original", f[3])?;
            Ok(format!("{}{}", hex(&cryptogram(alg, domain, key_id, &factor_of(f[2])?, &original)), hex(&original)))
        }
        5 => {
            let alg = alg_of(f[0])?;
            let first = first.ok_or("a reload or unblock's Step2 needs its Step1 output too, for F")?;
            let step1 = fields(first);
            let factor = factor_of(step1.get(2).copied().unwrap_or_default())?;
            let challenge = hex_of("challenge", f[2])?;
            let command =
                mac_command(alg, domain, &factor, &challenge, &hex_of("header", f[3])?, &hex_of("data", f[4])?);
            Ok(hex(&command))
        }
        n => Err(format!("a step output of {n} fields is none this back end knows")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_step_form_and_refuses_others() {
        let f = "0102030405060708";
        // Read basic information, gen3: both parts, each result + original.
        let bas =
            format!("110100|80730000C0|03|110100D1560000050102030405060708|{f}|1111111111111111|{f}|2222222222222222|");
        let key = answer(&bas, None, None).unwrap();
        let parts: Vec<&str> = key.trim_end_matches('|').split('|').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].len() == 48 && parts[0].ends_with("1111111111111111"), "{key}");
        assert!(parts[1].len() == 48 && parts[1].ends_with("2222222222222222"), "{key}");
        // gen2: no external part.
        let bas2 = format!("110100|00|01|110100D1560000050102030405060708|{f}|1111111111111111|||");
        let key = answer(&bas2, None, None).unwrap();
        assert!(key.ends_with("1111111111111111||") && key.len() == 32 + 2, "{key}");
        // Another key domain answers otherwise.
        assert_ne!(answer(&bas, None, Some("other")).unwrap(), answer(&bas, None, None).unwrap());
        // Generic read: cryptogram + original.
        let read = answer(&format!("03|000A|{f}|3333333333333333|"), None, None).unwrap();
        assert!(read.len() == 48 && read.ends_with("3333333333333333"), "{read}");
        // Unblock's Step2 needs its Step1, for F.
        let step1 = format!("03|000B|{f}||");
        let step2 = "03|000B|4444444444444444|8424000004||";
        assert!(answer(step2, None, None).is_err());
        let apdu = answer(step2, Some(&step1), None).unwrap();
        assert!(apdu.starts_with("8424000004") && apdu.len() == 18, "{apdu}");
        // Anything else is refused.
        assert!(answer("01|02|", None, None).is_err());
        assert!(answer(&format!("07|000A|{f}|3333333333333333|"), None, None).is_err());
        assert!(answer(&format!("03|000A|{f}|zz|"), None, None).is_err());
    }
}
