//! Response APDUs: data followed by SW1 SW2.

use thiserror::Error;

use super::StatusWord;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_byte_is_not_a_response() {
        assert_eq!(Response::parse(&[0x90]), Err(ResponseError::TooShort(1)));
        assert_eq!(Response::parse(&[0x90, 0]).map(|r| r.sw), Ok(StatusWord::Success));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..600), sw in any::<u16>()) {
            let r = Response::new(data, StatusWord::from_u16(sw));
            prop_assert_eq!(Response::parse(&r.to_bytes()).unwrap(), r);
        }
    }
}
