//! IFDHControl: PC/SC part 10 features, with the CCID driver's control
//! codes and answers (its ifdhandler.c and ccid_ifdhandler.h).

use std::time::Duration;

use crate::config::{Config, SlotConfig};
use crate::ffi::{
    IFD_COMMUNICATION_ERROR, IFD_ERROR_INSUFFICIENT_BUFFER, IFD_ERROR_NOT_SUPPORTED, IFD_ICC_NOT_PRESENT,
    IFD_NOT_SUPPORTED, ResponseCode,
};
use crate::keypad::{self, Entry};
use crate::pinpad::{Common, Modify, StructureError, Verify};
use crate::slot::Slot;

const fn scard_ctl_code(code: u32) -> u32 {
    0x4200_0000 + code
}

pub const CM_IOCTL_GET_FEATURE_REQUEST: u32 = scard_ctl_code(3400);
/// Windows' value of SCARD_CTL_CODE(3400), which the CCID driver also takes.
const WINDOWS_GET_FEATURE_REQUEST: u32 = 0x0031_3520;
const CLASS2_IOCTL_MAGIC: u32 = 0x33_0000;

pub const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
pub const FEATURE_MODIFY_PIN_DIRECT: u8 = 0x07;
pub const FEATURE_IFD_PIN_PROPERTIES: u8 = 0x0A;
pub const FEATURE_GET_TLV_PROPERTIES: u8 = 0x12;

pub const fn ioctl(feature: u8) -> u32 {
    scard_ctl_code(feature as u32 + CLASS2_IOCTL_MAGIC)
}

const PROPERTY_W_LCD_LAYOUT: u8 = 1;
const PROPERTY_B_ENTRY_VALIDATION_CONDITION: u8 = 2;
const PROPERTY_B_TIME_OUT2: u8 = 3;
const PROPERTY_W_LCD_MAX_CHARACTERS: u8 = 4;
const PROPERTY_W_LCD_MAX_LINES: u8 = 5;
const PROPERTY_B_MIN_PIN_SIZE: u8 = 6;
const PROPERTY_B_MAX_PIN_SIZE: u8 = 7;
const PROPERTY_B_PPDU_SUPPORT: u8 = 9;
const PROPERTY_DW_MAX_APDU_DATA_SIZE: u8 = 10;
const PROPERTY_W_ID_VENDOR: u8 = 11;
const PROPERTY_W_ID_PRODUCT: u8 = 12;

/// The pad validates on the OK key and on the maximum size (bits 1 and 0).
const VALIDATION: u8 = 0x03;
const PIN_CANCELLED: [u8; 2] = [0x64, 0x01];
const PIN_TIMEOUT: [u8; 2] = [0x64, 0x00];
const PIN_MISMATCH: [u8; 2] = [0x64, 0x02];

/// Answers one control code for `slot`; the bytes for RxBuffer, which
/// holds `capacity`.
pub fn control(config: &Config, slot: &Slot, code: u32, tx: &[u8], capacity: usize) -> Result<Vec<u8>, ResponseCode> {
    let sc = &slot.config;
    let answer = match code {
        CM_IOCTL_GET_FEATURE_REQUEST | WINDOWS_GET_FEATURE_REQUEST => features(sc),
        c if c == ioctl(FEATURE_GET_TLV_PROPERTIES) => tlv_properties(config, sc),
        c if c == ioctl(FEATURE_IFD_PIN_PROPERTIES) && sc.pinpad => {
            // PIN_PROPERTIES_STRUCTURE: wLcdLayout, bEntryValidationCondition, bTimeOut2.
            vec![0, 0, VALIDATION, 0]
        }
        c if c == ioctl(FEATURE_VERIFY_PIN_DIRECT) && sc.pinpad => {
            let verify = Verify::parse(tx, sc.short).map_err(refusal)?;
            // The answer is the card's, at most a response APDU.
            check_room(capacity, 2)?;
            verify_pin(config, slot, &verify)?
        }
        c if c == ioctl(FEATURE_MODIFY_PIN_DIRECT) && sc.pinpad => {
            let modify = Modify::parse(tx, sc.short).map_err(refusal)?;
            check_room(capacity, 2)?;
            modify_pin(config, slot, &modify)?
        }
        _ => return Err(IFD_ERROR_NOT_SUPPORTED),
    };
    check_room(capacity, answer.len())?;
    Ok(answer)
}

fn check_room(capacity: usize, needed: usize) -> Result<(), ResponseCode> {
    if capacity < needed { Err(IFD_ERROR_INSUFFICIENT_BUFFER) } else { Ok(()) }
}

/// The driver refuses what the CCID driver refuses; the rest a CCID pad
/// rejects with a slot error, which the CCID driver reports as a
/// communication error.
fn refusal(e: StructureError) -> ResponseCode {
    crate::log(&format!("PIN structure refused: {e}"));
    if e.refused_by_driver() { IFD_NOT_SUPPORTED } else { IFD_COMMUNICATION_ERROR }
}

fn features(sc: &SlotConfig) -> Vec<u8> {
    let mut list = Vec::new();
    if sc.pinpad {
        list.extend([FEATURE_VERIFY_PIN_DIRECT, FEATURE_MODIFY_PIN_DIRECT, FEATURE_IFD_PIN_PROPERTIES]);
    }
    list.push(FEATURE_GET_TLV_PROPERTIES);
    let mut out = Vec::new();
    for feature in list {
        // PCSC_TLV_STRUCTURE: tag, length 4, the control code big-endian.
        out.extend([feature, 4]);
        out.extend(ioctl(feature).to_be_bytes());
    }
    out
}

fn tlv_properties(config: &Config, sc: &SlotConfig) -> Vec<u8> {
    // Values little-endian, as the CCID driver gives them.
    let mut out = Vec::new();
    let mut put = |tag: u8, value: &[u8]| {
        out.extend([tag, value.len() as u8]);
        out.extend_from_slice(value);
    };
    put(PROPERTY_W_LCD_LAYOUT, &[0, 0]);
    put(PROPERTY_W_LCD_MAX_CHARACTERS, &[0, 0]);
    put(PROPERTY_W_LCD_MAX_LINES, &[0, 0]);
    put(PROPERTY_B_TIME_OUT2, &[0]);
    if sc.pinpad {
        put(PROPERTY_B_MIN_PIN_SIZE, &[sc.min_pin]);
        put(PROPERTY_B_MAX_PIN_SIZE, &[sc.max_pin]);
        put(PROPERTY_B_ENTRY_VALIDATION_CONDITION, &[VALIDATION]);
    }
    put(PROPERTY_B_PPDU_SUPPORT, &[0]);
    put(PROPERTY_W_ID_VENDOR, &config.vendor.to_le_bytes());
    put(PROPERTY_W_ID_PRODUCT, &config.product.to_le_bytes());
    let max: u32 = if sc.short { 0 } else { 0x1_0000 };
    put(PROPERTY_DW_MAX_APDU_DATA_SIZE, &max.to_le_bytes());
    out
}

/// One PIN from the pad, or the pad's answer that ends the operation.
fn entry(config: &Config, slot: &Slot, common: &Common) -> Result<crate::Secret, Result<Vec<u8>, ResponseCode>> {
    let seconds = if common.timeout == 0 { config.pad_timeout } else { common.timeout };
    let auto = (common.validation & 0x01 != 0 && common.max > 0).then_some(usize::from(common.max));
    match keypad::enter(slot, Duration::from_secs(u64::from(seconds)), auto) {
        Entry::Pin(pin) if common.length_ok(pin.0.len()) => Ok(pin),
        Entry::Pin(_) => Err(Ok(slot.config.length_error.status().to_vec())),
        Entry::Cancelled => Err(Ok(PIN_CANCELLED.to_vec())),
        Entry::Timeout => Err(Ok(PIN_TIMEOUT.to_vec())),
        Entry::Removed => Err(Err(IFD_ICC_NOT_PRESENT)),
    }
}

fn send(slot: &Slot, command: Option<Vec<u8>>) -> Result<Vec<u8>, ResponseCode> {
    let Some(mut apdu) = command else {
        // The PIN does not fit the block: a length the pad refuses.
        return Ok(slot.config.length_error.status().to_vec());
    };
    let answer = slot.transmit(&apdu);
    crate::wipe(&mut apdu);
    answer.map_err(|e| {
        crate::log(&format!("port {}: {e}", slot.config.port));
        IFD_COMMUNICATION_ERROR
    })
}

fn verify_pin(config: &Config, slot: &Slot, verify: &Verify) -> Result<Vec<u8>, ResponseCode> {
    if !slot.state().present() {
        return Err(IFD_ICC_NOT_PRESENT);
    }
    let pin = match entry(config, slot, &verify.common) {
        Ok(pin) => pin,
        Err(end) => return end,
    };
    send(slot, verify.command(&pin.0))
}

fn modify_pin(config: &Config, slot: &Slot, modify: &Modify) -> Result<Vec<u8>, ResponseCode> {
    if !slot.state().present() {
        return Err(IFD_ICC_NOT_PRESENT);
    }
    let old = if modify.old {
        match entry(config, slot, &modify.common) {
            Ok(pin) => Some(pin),
            Err(end) => return end,
        }
    } else {
        None
    };
    let new = match entry(config, slot, &modify.common) {
        Ok(pin) => pin,
        Err(end) => return end,
    };
    if modify.confirm {
        let again = match entry(config, slot, &modify.common) {
            Ok(pin) => pin,
            Err(end) => return end,
        };
        if again.0 != new.0 {
            return Ok(PIN_MISMATCH.to_vec());
        }
    }
    send(slot, modify.command(old.as_ref().map(|p| p.0.as_slice()), &new.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ccid_drivers_codes() {
        assert_eq!(CM_IOCTL_GET_FEATURE_REQUEST, 0x4200_0D48);
        assert_eq!(ioctl(FEATURE_VERIFY_PIN_DIRECT), 0x4233_0006);
        assert_eq!(ioctl(FEATURE_GET_TLV_PROPERTIES), 0x4233_0012);
    }

    #[test]
    fn features_follow_the_pad() {
        let mut sc = SlotConfig::new(1);
        assert_eq!(features(&sc), [0x12, 4, 0x42, 0x33, 0x00, 0x12]);
        sc.pinpad = true;
        let f = features(&sc);
        assert_eq!(f.len(), 24);
        assert_eq!(f[..6], [0x06, 4, 0x42, 0x33, 0x00, 0x06]);
    }

    #[test]
    fn tlv_properties_give_the_apdu_size() {
        let config = Config::single(1);
        let mut sc = SlotConfig::new(1);
        let t = tlv_properties(&config, &sc);
        assert!(t.ends_with(&[10, 4, 0, 0, 1, 0]));
        sc.short = true;
        assert!(tlv_properties(&config, &sc).ends_with(&[10, 4, 0, 0, 0, 0]));
    }
}
