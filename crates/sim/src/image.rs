//! The persistent state of a simulated card, as a JSON image that is
//! written atomically (temp file, fsync, rename) before each answer that
//! changed it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bytes stored as an upper-case hex string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map(HexBytes).map_err(serde::de::Error::custom)
    }
}

/// Everything a user card keeps across power cycles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardImage {
    /// 2 or 3.
    pub generation: u8,
    /// EF05 records by tag (two hex digits), each value of its fixed length.
    pub ef05: BTreeMap<String, HexBytes>,
    /// EF06 records by tag.
    pub ef06: BTreeMap<String, HexBytes>,
    /// EF08, the whole 8192-byte transparent file. Empty means all zero.
    #[serde(default)]
    pub photo: HexBytes,
    /// The current PIN's digits. A test card's PIN is not a secret.
    pub pin: String,
    pub initial_pin: String,
    pub pin_max_tries: u8,
    pub pin_tries_left: u8,
    /// The application's life-cycle status byte; gen3 only.
    pub lcs: Option<u8>,
}

/// Why a card image could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a card image: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl CardImage {
    pub fn load(path: &Path) -> Result<CardImage, ImageError> {
        let shown = path.display().to_string();
        let text = fs::read(path).map_err(|source| ImageError::Io { path: shown.clone(), source })?;
        serde_json::from_slice(&text).map_err(|source| ImageError::Json { path: shown, source })
    }

    /// Writes the image so that a reader of `path` sees either the old or
    /// the new image, never a mix, even if we die mid-write.
    pub fn save_atomically(&self, path: &Path) -> Result<(), ImageError> {
        let shown = path.display().to_string();
        let io = |source| ImageError::Io { path: shown.clone(), source };
        let json =
            serde_json::to_vec_pretty(self).map_err(|source| ImageError::Json { path: shown.clone(), source })?;
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = Path::new(&tmp_name);
        let mut file = fs::File::create(tmp).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(tmp, path).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests/image.rs"]
mod tests;
