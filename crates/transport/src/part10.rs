//! What a reader says of itself through PC/SC part 10 (pcsc-lite's
//! `reader.h`): the features `CM_IOCTL_GET_FEATURE_REQUEST` lists, each with
//! its control code, and the properties `FEATURE_GET_TLV_PROPERTIES` and
//! `FEATURE_IFD_PIN_PROPERTIES` give. Parsed as the CCID driver writes them;
//! anything malformed is left out rather than guessed.

/// `SCARD_CTL_CODE(code)` as pcsc-lite defines it on Unix.
pub const fn ctl_code(code: u32) -> u32 {
    0x4200_0000 + code
}

/// `CM_IOCTL_GET_FEATURE_REQUEST`: the features and their control codes.
pub const GET_FEATURE_REQUEST: u32 = ctl_code(3400);

/// The feature tags of `reader.h`.
pub mod feature {
    pub const VERIFY_PIN_START: u8 = 0x01;
    pub const VERIFY_PIN_FINISH: u8 = 0x02;
    pub const MODIFY_PIN_START: u8 = 0x03;
    pub const MODIFY_PIN_FINISH: u8 = 0x04;
    pub const GET_KEY_PRESSED: u8 = 0x05;
    pub const VERIFY_PIN_DIRECT: u8 = 0x06;
    pub const MODIFY_PIN_DIRECT: u8 = 0x07;
    pub const MCT_READER_DIRECT: u8 = 0x08;
    pub const MCT_UNIVERSAL: u8 = 0x09;
    pub const IFD_PIN_PROPERTIES: u8 = 0x0A;
    pub const ABORT: u8 = 0x0B;
    pub const SET_SPE_MESSAGE: u8 = 0x0C;
    pub const VERIFY_PIN_DIRECT_APP_ID: u8 = 0x0D;
    pub const MODIFY_PIN_DIRECT_APP_ID: u8 = 0x0E;
    pub const WRITE_DISPLAY: u8 = 0x0F;
    pub const GET_KEY: u8 = 0x10;
    pub const IFD_DISPLAY_PROPERTIES: u8 = 0x11;
    pub const GET_TLV_PROPERTIES: u8 = 0x12;
    pub const CCID_ESC_COMMAND: u8 = 0x13;
    pub const EXECUTE_PACE: u8 = 0x20;

    /// The tag's `reader.h` name without `FEATURE_`; `None` for a tag
    /// `reader.h` does not define.
    pub fn name(tag: u8) -> Option<&'static str> {
        Some(match tag {
            VERIFY_PIN_START => "VERIFY_PIN_START",
            VERIFY_PIN_FINISH => "VERIFY_PIN_FINISH",
            MODIFY_PIN_START => "MODIFY_PIN_START",
            MODIFY_PIN_FINISH => "MODIFY_PIN_FINISH",
            GET_KEY_PRESSED => "GET_KEY_PRESSED",
            VERIFY_PIN_DIRECT => "VERIFY_PIN_DIRECT",
            MODIFY_PIN_DIRECT => "MODIFY_PIN_DIRECT",
            MCT_READER_DIRECT => "MCT_READER_DIRECT",
            MCT_UNIVERSAL => "MCT_UNIVERSAL",
            IFD_PIN_PROPERTIES => "IFD_PIN_PROPERTIES",
            ABORT => "ABORT",
            SET_SPE_MESSAGE => "SET_SPE_MESSAGE",
            VERIFY_PIN_DIRECT_APP_ID => "VERIFY_PIN_DIRECT_APP_ID",
            MODIFY_PIN_DIRECT_APP_ID => "MODIFY_PIN_DIRECT_APP_ID",
            WRITE_DISPLAY => "WRITE_DISPLAY",
            GET_KEY => "GET_KEY",
            IFD_DISPLAY_PROPERTIES => "IFD_DISPLAY_PROPERTIES",
            GET_TLV_PROPERTIES => "GET_TLV_PROPERTIES",
            CCID_ESC_COMMAND => "CCID_ESC_COMMAND",
            EXECUTE_PACE => "EXECUTE_PACE",
            _ => return None,
        })
    }
}

/// The property tags of `FEATURE_GET_TLV_PROPERTIES` (`PCSCv2_PART10_PROPERTY_*`).
pub mod property {
    pub const LCD_LAYOUT: u8 = 1;
    pub const ENTRY_VALIDATION_CONDITION: u8 = 2;
    pub const TIMEOUT2: u8 = 3;
    pub const LCD_MAX_CHARACTERS: u8 = 4;
    pub const LCD_MAX_LINES: u8 = 5;
    pub const MIN_PIN_SIZE: u8 = 6;
    pub const MAX_PIN_SIZE: u8 = 7;
    pub const FIRMWARE_ID: u8 = 8;
    pub const PPDU_SUPPORT: u8 = 9;
    pub const MAX_APDU_DATA_SIZE: u8 = 10;
    pub const ID_VENDOR: u8 = 11;
    pub const ID_PRODUCT: u8 = 12;
}

/// A reader's part 10 features and properties; all empty for a reader that
/// answers none of them (vpcd, most readers without a keypad).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderFeatures {
    /// The control codes, by feature tag, in the reader's order.
    pub controls: Vec<(u8, u32)>,
    /// `dwMaxAPDUDataSize`: 0 for a reader at the short-APDU level.
    pub max_apdu_data_size: Option<u32>,
    /// `bMinPINSize` and `bMaxPINSize`, in digits.
    pub min_pin_size: Option<u8>,
    pub max_pin_size: Option<u8>,
    /// `wLcdLayout`: `0xLLCC` lines and characters, 0 without a display.
    pub lcd_layout: Option<u16>,
    pub entry_validation_condition: Option<u8>,
    /// `bTimeOut2`, seconds after the first key.
    pub timeout2: Option<u8>,
    pub vendor_id: Option<u16>,
    pub product_id: Option<u16>,
    pub firmware_id: Option<String>,
}

impl ReaderFeatures {
    /// The control code of feature `tag`, when the reader lists it.
    pub fn control(&self, tag: u8) -> Option<u32> {
        self.controls.iter().find(|(t, _)| *t == tag).map(|(_, code)| *code)
    }

    /// Whether the reader's keypad can verify a PIN
    /// (`FEATURE_VERIFY_PIN_DIRECT`).
    pub fn pin_pad(&self) -> bool {
        self.control(feature::VERIFY_PIN_DIRECT).is_some()
    }

    /// Whether the reader passes extended APDUs: a reader at the
    /// short-APDU level says `dwMaxAPDUDataSize` = 0. A reader that does not
    /// say is taken to pass them, as sscard did before it asked, and as
    /// TPDU-level readers do; the card's ATR still has to allow them.
    pub fn extended_apdu(&self) -> bool {
        self.max_apdu_data_size != Some(0)
    }

    /// Reads the answer to `CM_IOCTL_GET_FEATURE_REQUEST`: TLVs of a tag,
    /// a length of 4 and a big-endian control code. A TLV of another length
    /// is skipped; a cut one ends the list.
    pub fn parse_feature_list(answer: &[u8]) -> Vec<(u8, u32)> {
        let mut controls = Vec::new();
        let mut rest = answer;
        while let [tag, len, tail @ ..] = rest {
            let len = usize::from(*len);
            let Some(value) = tail.get(..len) else { break };
            if let Ok(code) = <[u8; 4]>::try_from(value) {
                controls.push((*tag, u32::from_be_bytes(code)));
            }
            rest = &tail[len..];
        }
        controls
    }

    /// Takes the answer to `FEATURE_GET_TLV_PROPERTIES`: TLVs of a tag, a
    /// length and a little-endian value. A value of the wrong width for
    /// its tag is left out.
    pub fn add_tlv_properties(&mut self, answer: &[u8]) {
        let mut rest = answer;
        while let [tag, len, tail @ ..] = rest {
            let len = usize::from(*len);
            let Some(value) = tail.get(..len) else { break };
            let byte = || <[u8; 1]>::try_from(value).ok().map(|[b]| b);
            let word = || <[u8; 2]>::try_from(value).ok().map(u16::from_le_bytes);
            match *tag {
                property::LCD_LAYOUT => self.lcd_layout = word().or(self.lcd_layout),
                property::ENTRY_VALIDATION_CONDITION => {
                    self.entry_validation_condition = byte().or(self.entry_validation_condition)
                }
                property::TIMEOUT2 => self.timeout2 = byte().or(self.timeout2),
                property::MIN_PIN_SIZE => self.min_pin_size = byte().or(self.min_pin_size),
                property::MAX_PIN_SIZE => self.max_pin_size = byte().or(self.max_pin_size),
                property::MAX_APDU_DATA_SIZE => {
                    let size = <[u8; 4]>::try_from(value).ok().map(u32::from_le_bytes);
                    self.max_apdu_data_size = size.or(self.max_apdu_data_size);
                }
                property::ID_VENDOR => self.vendor_id = word().or(self.vendor_id),
                property::ID_PRODUCT => self.product_id = word().or(self.product_id),
                property::FIRMWARE_ID => {
                    let printable = |b: u8| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '?' };
                    self.firmware_id = Some(value.iter().copied().map(printable).collect());
                }
                // Display sizes, PPDU support and unknown tags: nothing
                // here uses them.
                _ => {}
            }
            rest = &tail[len..];
        }
    }

    /// Takes the answer to `FEATURE_IFD_PIN_PROPERTIES`
    /// (`PIN_PROPERTIES_STRUCTURE`: `wLcdLayout`, `bEntryValidationCondition`,
    /// `bTimeOut2`, little-endian), where the TLV properties did not say.
    pub fn add_pin_properties(&mut self, answer: &[u8]) {
        if let [l0, l1, validation, timeout2, ..] = *answer {
            self.lcd_layout = self.lcd_layout.or(Some(u16::from_le_bytes([l0, l1])));
            self.entry_validation_condition = self.entry_validation_condition.or(Some(validation));
            self.timeout2 = self.timeout2.or(Some(timeout2));
        }
    }
}

#[cfg(test)]
#[path = "tests/part10.rs"]
mod tests;
