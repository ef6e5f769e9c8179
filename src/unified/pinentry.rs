//! PIN entry without a PIN pad. (Placeholder: the trait only; the
//! Assuan client follows.)

use zeroize::Zeroizing;

/// What a prompt shows.
pub struct PinPrompt<'a> {
    pub description: &'a str,
    pub tries_left: Option<u32>,
}

/// Why no PIN came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinEntryError {
    Cancelled,
    TimedOut,
    WrongLength,
    EntriesDiffer,
    Unavailable,
}

/// Where PINs come from when the reader has no PIN pad.
pub trait PinSource: Send {
    fn current_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError>;
    fn new_pin(&mut self, prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError>;
}

/// The pinentry program (placeholder until the Assuan client lands).
pub struct Pinentry;

impl Pinentry {
    pub fn from_env() -> Pinentry {
        Pinentry
    }
}

impl PinSource for Pinentry {
    fn current_pin(&mut self, _prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        Err(PinEntryError::Unavailable)
    }

    fn new_pin(&mut self, _prompt: &PinPrompt<'_>) -> Result<Zeroizing<String>, PinEntryError> {
        Err(PinEntryError::Unavailable)
    }
}
