//! The simulator's cryptography (docs/card-profile.md section 7). Test keys
//! only: the daemon never sees any of this, it only moves bytes between the
//! card and the PSAM.

use cbc_mac::{CbcMac, Mac};
use cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use des::TdesEde2;
use sha2::{Digest, Sha256};
use sm4::Sm4;
use zeroize::Zeroizing;

/// The card's algorithm, as the FCI's `9F0C` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    /// 01: 2-key 3DES, 8-byte blocks (gen2).
    Tdes,
    /// 03: SM4, 16-byte blocks (gen3).
    Sm4,
}

impl Algorithm {
    pub fn code(self) -> u8 {
        match self {
            Algorithm::Tdes => 0x01,
            Algorithm::Sm4 => 0x03,
        }
    }

    pub fn from_code(code: u8) -> Option<Algorithm> {
        match code {
            0x01 => Some(Algorithm::Tdes),
            0x03 => Some(Algorithm::Sm4),
            _ => None,
        }
    }

    pub fn block_size(self) -> usize {
        match self {
            Algorithm::Tdes => 8,
            Algorithm::Sm4 => 16,
        }
    }
}

/// A 16-byte key, wiped when dropped.
pub type Key = Zeroizing<[u8; 16]>;

/// Master key for key id `k`: SHA-256("sscard test master key KK")[..16].
pub fn master_key(key_id: u8) -> Key {
    master_key_of(None, key_id)
}

/// The master key of another key domain (another card centre's PSAM):
/// cards of the reference domain refuse its cryptograms.
pub fn master_key_of(domain: Option<&str>, key_id: u8) -> Key {
    let seed = match domain {
        None => format!("sscard test master key {key_id:02X}"),
        Some(d) => format!("sscard test master key {key_id:02X} of {d}"),
    };
    let digest = Sha256::digest(seed.as_bytes());
    let mut key = Zeroizing::new([0u8; 16]);
    key.copy_from_slice(&digest[..16]);
    key
}

/// The card key diversified from `master` with F, the last 8 bytes of the
/// card identifier.
pub fn diversify(alg: Algorithm, master: &[u8; 16], f: &[u8; 8]) -> Key {
    let mut not_f = [0u8; 8];
    for (n, b) in not_f.iter_mut().zip(f) {
        *n = !b;
    }
    let mut key = Zeroizing::new([0u8; 16]);
    match alg {
        Algorithm::Sm4 => {
            key[..8].copy_from_slice(f);
            key[8..].copy_from_slice(&not_f);
            let cipher = Sm4::new(GenericArray::from_slice(master));
            cipher.encrypt_block(GenericArray::from_mut_slice(&mut key[..]));
        }
        Algorithm::Tdes => {
            key[..8].copy_from_slice(f);
            key[8..].copy_from_slice(&not_f);
            let cipher = TdesEde2::new(GenericArray::from_slice(master));
            cipher.encrypt_block(GenericArray::from_mut_slice(&mut key[..8]));
            cipher.encrypt_block(GenericArray::from_mut_slice(&mut key[8..]));
        }
    }
    key
}

/// Encrypts one block: `input` followed by zero bytes up to the block size.
/// Input longer than a block is cut to one block.
pub fn encrypt_block(alg: Algorithm, key: &[u8; 16], input: &[u8]) -> Vec<u8> {
    let mut block = vec![0u8; alg.block_size()];
    let n = input.len().min(block.len());
    block[..n].copy_from_slice(&input[..n]);
    match alg {
        Algorithm::Sm4 => {
            Sm4::new(GenericArray::from_slice(key)).encrypt_block(GenericArray::from_mut_slice(&mut block))
        }
        Algorithm::Tdes => {
            TdesEde2::new(GenericArray::from_slice(key)).encrypt_block(GenericArray::from_mut_slice(&mut block))
        }
    }
    block
}

/// ISO 9797-1 MAC algorithm 1 with padding method 2, the IV being `iv`
/// zero-extended to the block size; the first 4 bytes of the result.
pub fn mac(alg: Algorithm, key: &[u8; 16], iv: &[u8], message: &[u8]) -> [u8; 4] {
    let bs = alg.block_size();
    let mut padded = message.to_vec();
    padded.push(0x80);
    while !padded.len().is_multiple_of(bs) {
        padded.push(0);
    }
    // The crate's CBC-MAC starts from a zero IV; folding the IV into the
    // first block gives the same chain.
    for (p, v) in padded.iter_mut().zip(iv.iter().take(bs)) {
        *p ^= v;
    }
    let tag = match alg {
        Algorithm::Sm4 => {
            let mut m = <CbcMac<Sm4> as KeyInit>::new(GenericArray::from_slice(key));
            m.update(&padded);
            m.finalize().into_bytes().to_vec()
        }
        Algorithm::Tdes => {
            let mut m = <CbcMac<TdesEde2> as KeyInit>::new(GenericArray::from_slice(key));
            m.update(&padded);
            m.finalize().into_bytes().to_vec()
        }
    };
    let mut out = [0u8; 4];
    out.copy_from_slice(&tag[..4]);
    out
}

#[cfg(test)]
#[path = "tests/crypto.rs"]
mod tests;
