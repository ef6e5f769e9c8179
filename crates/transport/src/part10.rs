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

/// A command whose PIN the reader's keypad writes in
/// (`FEATURE_VERIFY_PIN_DIRECT`, `FEATURE_MODIFY_PIN_DIRECT`). The PIN is
/// packed BCD, left-justified, in a block of `(digits + 1) / 2` bytes the
/// template fills (with `FF`): the profiles' form of a PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPadRequest {
    /// The whole command APDU, its PIN blocks as filler.
    pub template: Vec<u8>,
    /// Where the PINs go, in bytes from the start of the command's data.
    pub entry: PinPadEntry,
    /// The PIN's length in digits, the least and the most the pad takes.
    pub min_digits: u8,
    pub max_digits: u8,
    /// Seconds the pad waits for the holder (0: the reader's default).
    pub timeout_s: u8,
}

/// What the holder types on the pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPadEntry {
    /// One PIN (VERIFY).
    Verify { offset: u8 },
    /// The current PIN, then the new one twice (CHANGE PIN).
    Modify { old_offset: u8, new_offset: u8 },
}

/// `wLangId`: the prompts in Chinese (PRC), for pads that show their own.
const LANG_ZH_CN: u16 = 0x0804;
/// `bEntryValidationCondition`: the holder presses the validation key.
const VALIDATION_KEY: u8 = 0x02;
/// `bmFormatString`: units of bytes (bit 7), BCD (bits 1-0 = 01),
/// left-justified (bit 2 clear); the position in bits 6-3.
const FORMAT_BYTES_BCD: u8 = 0x80 | 0x01;

impl PinPadRequest {
    /// The PIN block's size in bytes.
    pub fn block_len(&self) -> u8 {
        self.max_digits.div_ceil(2)
    }

    /// `PIN_VERIFY_STRUCTURE` or `PIN_MODIFY_STRUCTURE` (`reader.h`, packed,
    /// little-endian), as the CCID driver reads it; `None` for a template
    /// longer than a short APDU can be.
    pub fn structure(&self) -> Option<Vec<u8>> {
        let data_len = u32::try_from(self.template.len()).ok().filter(|n| *n <= 5 + 255)?;
        // bmPINBlockString: no length field in the APDU (bits 7-4), the
        // block's size in bytes (bits 3-0).
        let block = self.block_len() & 0x0F;
        let max_extra = u16::from_be_bytes([self.min_digits, self.max_digits]);
        let mut out = vec![self.timeout_s, self.timeout_s];
        match self.entry {
            PinPadEntry::Verify { offset } => {
                out.push(FORMAT_BYTES_BCD | ((offset & 0x0F) << 3));
                out.push(block);
                out.push(0x00); // bmPINLengthFormat: no length in the APDU
                out.extend_from_slice(&max_extra.to_le_bytes());
                out.push(VALIDATION_KEY);
                out.push(0x01); // bNumberMessage
                out.extend_from_slice(&LANG_ZH_CN.to_le_bytes());
                out.push(0x00); // bMsgIndex
            }
            PinPadEntry::Modify { old_offset, new_offset } => {
                out.push(FORMAT_BYTES_BCD);
                out.push(block);
                out.push(0x00);
                out.push(old_offset);
                out.push(new_offset);
                out.extend_from_slice(&max_extra.to_le_bytes());
                // bConfirmPIN: the current PIN is entered (bit 1) and the
                // new one confirmed (bit 0).
                out.push(0x03);
                out.push(VALIDATION_KEY);
                out.push(0x03); // bNumberMessage: current, new, confirmation
                out.extend_from_slice(&LANG_ZH_CN.to_le_bytes());
                out.extend_from_slice(&[0x00, 0x01, 0x02]); // bMsgIndex1..3
            }
        }
        out.extend_from_slice(&[0, 0, 0]); // bTeoPrologue
        out.extend_from_slice(&data_len.to_le_bytes());
        out.extend_from_slice(&self.template);
        Some(out)
    }

    /// The command with `pins` (the digits typed, in order: one PIN for a
    /// VERIFY, the current and the new one for a CHANGE) written in, as a
    /// pad writes them: packed BCD, left-justified, the template's bytes
    /// kept where the PIN does not reach. `None` when a PIN does not fit.
    pub fn fill(&self, pins: &[&[u8]]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let mut apdu = zeroize::Zeroizing::new(self.template.clone());
        let offsets: &[u8] = match &self.entry {
            PinPadEntry::Verify { offset } => std::slice::from_ref(offset),
            PinPadEntry::Modify { old_offset, new_offset } => &[*old_offset, *new_offset][..],
        };
        if offsets.len() != pins.len() {
            return None;
        }
        for (&offset, digits) in offsets.iter().zip(pins) {
            if digits.len() > usize::from(self.max_digits) || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let start = 5 + usize::from(offset);
            for (i, pair) in digits.chunks(2).enumerate() {
                let byte = apdu.get_mut(start + i)?;
                let hi = pair[0] - b'0';
                let lo = pair.get(1).map_or(*byte & 0x0F, |d| d - b'0');
                *byte = (hi << 4) | lo;
            }
        }
        Some(apdu)
    }
}

/// What a PIN pad answers instead of the card's answer (the CCID driver's
/// and the readers' own status words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadRefusal {
    /// `64 00`: nobody typed in time.
    Timeout,
    /// `64 01`: the holder pressed cancel.
    Cancelled,
    /// `64 02`: the new PIN and its confirmation differ.
    EntriesDiffer,
    /// `64 03` (SCM and others) or `6B 80`: a PIN of a length the pad does
    /// not take.
    Length,
}

impl PadRefusal {
    /// The pad's refusal a status word stands for, on a PIN-pad command.
    pub fn of_status(sw: u16) -> Option<PadRefusal> {
        match sw {
            0x6400 => Some(PadRefusal::Timeout),
            0x6401 => Some(PadRefusal::Cancelled),
            0x6402 => Some(PadRefusal::EntriesDiffer),
            0x6403 | 0x6B80 => Some(PadRefusal::Length),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "tests/part10.rs"]
mod tests;
