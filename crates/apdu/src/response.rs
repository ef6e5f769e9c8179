//! Response APDUs: data followed by SW1 SW2.

use thiserror::Error;

use super::StatusWord;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseError {
    #[error("response APDU of {0} bytes has no status word")]
    TooShort(usize),
}

/// A response APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Response { data, sw }
    }

    pub fn parse(bytes: &[u8]) -> Result<Response, ResponseError> {
        match bytes {
            [data @ .., sw1, sw2] => Ok(Response { data: data.to_vec(), sw: StatusWord::from_bytes(*sw1, *sw2) }),
            _ => Err(ResponseError::TooShort(bytes.len())),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

#[cfg(test)]
#[path = "tests/response.rs"]
mod tests;
