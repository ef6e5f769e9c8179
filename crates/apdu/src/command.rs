//! Command APDUs (ISO/IEC 7816-3 §12.1 and 7816-4 §5.1), short and extended.
//!
//! The data field may carry a PIN, so it lives in a zeroizing buffer and the
//! `Debug` output shows only its length.

use std::fmt;

use thiserror::Error;
use zeroize::Zeroizing;

pub use sscard_transport::shape::{
    CommandShape, EXTENDED_MAX_DATA, EXTENDED_MAX_NE, LengthForm, SHORT_MAX_DATA, SHORT_MAX_NE, ShapeError, classify,
};

/// Why bytes are not a well-formed command APDU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
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

    /// Adds a data field that is already in a zeroizing buffer, taking the
    /// buffer as it is: PIN bytes are never copied.
    pub fn with_secret_data(mut self, data: Zeroizing<Vec<u8>>) -> Result<Self, CommandError> {
        if data.len() > EXTENDED_MAX_DATA {
            return Err(CommandError::DataTooLong(data.len()));
        }
        self.data = data;
        Ok(self)
    }

    /// The data field's buffer capacity (a test shows it never grew).
    pub fn data_capacity(&self) -> usize {
        self.data.capacity()
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
#[path = "tests/command.rs"]
mod tests;
