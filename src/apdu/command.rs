//! Command APDUs (ISO/IEC 7816-3 §12.1 and 7816-4 §5.1), short and extended.
//!
//! The data field may carry a PIN, so it lives in a zeroizing buffer and the
//! `Debug` output shows only its length.

use std::fmt;

use thiserror::Error;
use zeroize::Zeroizing;

pub use crate::transport::shape::{
    CommandShape, EXTENDED_MAX_DATA, EXTENDED_MAX_NE, LengthForm, SHORT_MAX_DATA, SHORT_MAX_NE, ShapeError, classify,
};

/// Why bytes are not a well-formed command APDU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CommandError {
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error("command data of {0} bytes is longer than 65535")]
    DataTooLong(usize),
    #[error("expected response length {0} is outside 1..=65536")]
    BadNe(usize),
}

/// A command APDU. `ne` is the expected response length (Ne), not the raw Le
/// byte: a short Le of `00` is 256 and an extended `00 00` is 65536.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    data: Zeroizing<Vec<u8>>,
    ne: Option<usize>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("header", &format_args!("{:02X}{:02X}{:02X}{:02X}", self.cla, self.ins, self.p1, self.p2))
            .field("data_len", &self.data.len())
            .field("ne", &self.ne)
            .finish()
    }
}

impl Command {
    /// A case-1 command: header only.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command { cla, ins, p1, p2, data: Zeroizing::new(Vec::new()), ne: None }
    }

    /// Adds a data field (case 3, or case 4 with [`Command::with_ne`]).
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Result<Self, CommandError> {
        let data = Zeroizing::new(data.into());
        if data.len() > EXTENDED_MAX_DATA {
            return Err(CommandError::DataTooLong(data.len()));
        }
        self.data = data;
        Ok(self)
    }

    /// Sets the expected response length Ne (case 2, or case 4).
    pub fn with_ne(mut self, ne: usize) -> Result<Self, CommandError> {
        if ne == 0 || ne > EXTENDED_MAX_NE {
            return Err(CommandError::BadNe(ne));
        }
        self.ne = Some(ne);
        Ok(self)
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn ne(&self) -> Option<usize> {
        self.ne
    }

    /// The form [`Command::to_bytes`] uses: short whenever Nc and Ne allow it.
    pub fn length_form(&self) -> LengthForm {
        if self.data.len() > SHORT_MAX_DATA || self.ne.is_some_and(|ne| ne > SHORT_MAX_NE) {
            LengthForm::Extended
        } else {
            LengthForm::Short
        }
    }

    /// Encodes the command in its smallest form.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.data.len() + 9));
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        match self.length_form() {
            LengthForm::Short => {
                if !self.data.is_empty() {
                    out.push(self.data.len() as u8);
                    out.extend_from_slice(&self.data);
                }
                if let Some(ne) = self.ne {
                    // Ne 256 encodes as 00.
                    out.push((ne % 256) as u8);
                }
            }
            LengthForm::Extended => {
                out.push(0);
                if !self.data.is_empty() {
                    out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                    out.extend_from_slice(&self.data);
                }
                if let Some(ne) = self.ne {
                    // Ne 65536 encodes as 00 00.
                    out.extend_from_slice(&((ne % 65_536) as u16).to_be_bytes());
                }
            }
        }
        out
    }

    /// Parses a command by the ISO 7816-3 §12.1.3 case rules.
    pub fn parse(bytes: &[u8]) -> Result<(Command, LengthForm), CommandError> {
        let shape = classify(bytes)?;
        let [cla, ins, p1, p2] = [bytes[0], bytes[1], bytes[2], bytes[3]];
        let mut command = Command::new(cla, ins, p1, p2);
        if let Some(range) = shape.data {
            command.data = Zeroizing::new(bytes[range].to_vec());
        }
        command.ne = shape.ne;
        Ok((command, shape.form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn select_ssse_encodes_as_in_the_profile() {
        let aid = hex::decode("7378312E73682EC9E7BBE1B1A3D5CF").unwrap_or_default();
        let cmd = Command::new(0x00, 0xA4, 0x04, 0x00).with_data(aid).unwrap().with_ne(256).unwrap();
        assert_eq!(hex::encode_upper(&*cmd.to_bytes()), "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00");
    }

    #[test]
    fn extended_forms() {
        let cmd = Command::new(0, 0xD6, 0x88, 0).with_data(vec![0xAB; 300]).unwrap();
        let bytes = cmd.to_bytes();
        assert_eq!(&bytes[4..7], &[0x00, 0x01, 0x2C]);
        assert_eq!(bytes.len(), 307);
        let read = Command::new(0, 0xB0, 0x88, 0).with_ne(65_536).unwrap();
        assert_eq!(&*read.to_bytes(), &[0, 0xB0, 0x88, 0, 0, 0, 0]);
        let read = Command::new(0, 0xB0, 0x88, 0).with_ne(8192).unwrap();
        assert_eq!(&*read.to_bytes(), &[0, 0xB0, 0x88, 0, 0, 0x20, 0x00]);
        assert_eq!(read.length_form(), LengthForm::Extended);
    }

    #[test]
    fn malformed_commands_are_rejected() {
        assert_eq!(Command::parse(&[0, 0xA4, 4]).err(), Some(CommandError::Shape(ShapeError::TooShort)));
        // Lc says 3 but only 2 data bytes follow.
        assert_eq!(
            Command::parse(&[0, 0xDC, 1, 0x2C, 3, 1, 2]).err(),
            Some(CommandError::Shape(ShapeError::BadLength(7)))
        );
        // Extended with Lc 0000 and data.
        assert!(Command::parse(&[0, 0xDC, 1, 0x2C, 0, 0, 0, 9]).is_err());
        // A 6-byte extended APDU is impossible.
        assert!(Command::parse(&[0, 0xB0, 0, 0, 0, 1]).is_err());
        assert_eq!(Command::new(0, 0, 0, 0).with_ne(0).err(), Some(CommandError::BadNe(0)));
        assert!(Command::new(0, 0, 0, 0).with_data(vec![0; 65_536]).is_err());
    }

    #[test]
    fn le_zero_means_maximum() {
        let (c, f) = Command::parse(&[0, 0xB0, 0x88, 0, 0]).unwrap();
        assert_eq!((c.ne(), f), (Some(256), LengthForm::Short));
        let (c, f) = Command::parse(&[0, 0xB0, 0x88, 0, 0, 0, 0]).unwrap();
        assert_eq!((c.ne(), f), (Some(65_536), LengthForm::Extended));
    }

    #[test]
    fn debug_hides_the_data() {
        let cmd = Command::new(0, 0x20, 0, 0).with_data(vec![0x12, 0x34, 0x56]).unwrap();
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("123456") && !shown.contains("18, 52"), "{shown}");
        assert!(shown.contains("data_len: 3"));
    }

    fn any_command() -> impl Strategy<Value = Command> {
        (
            any::<[u8; 4]>(),
            prop_oneof![Just(0usize), 1usize..=255, 256usize..=600, Just(65_535usize)],
            prop_oneof![Just(None), (1usize..=256).prop_map(Some), (257usize..=65_536).prop_map(Some)],
        )
            .prop_map(|([cla, ins, p1, p2], nc, ne)| {
                let mut c = Command::new(cla, ins, p1, p2);
                c.data = Zeroizing::new((0..nc).map(|i| i as u8).collect());
                c.ne = ne;
                c
            })
    }

    proptest! {
        #[test]
        fn build_then_parse_round_trips(cmd in any_command()) {
            let bytes = cmd.to_bytes();
            let (parsed, form) = Command::parse(&bytes).unwrap();
            prop_assert_eq!(form, cmd.length_form());
            prop_assert_eq!(parsed, cmd);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok((cmd, _)) = Command::parse(&bytes) {
                // Whatever parses re-encodes to an equivalent command.
                let (again, _) = Command::parse(&cmd.to_bytes()).unwrap();
                prop_assert_eq!(again, cmd);
            }
        }
    }
}
