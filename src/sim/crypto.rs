//! The simulator's cryptography (card-profile.md section 7). Test keys
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
    let digest = Sha256::digest(format!("sscard test master key {key_id:02X}").as_bytes());
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
    while padded.len() % bs != 0 {
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
mod tests {
    use super::*;

    #[test]
    fn sm4_known_answer() {
        // GB/T 32907-2016 appendix A.1.
        let key: [u8; 16] = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap().try_into().unwrap();
        let out = encrypt_block(Algorithm::Sm4, &key, &key);
        assert_eq!(hex::encode_upper(out), "681EDF34D206965E86B3E94F536E4246");
    }

    #[test]
    fn mac_equals_manual_cbc_chain() {
        let key = master_key(0x0B);
        for alg in [Algorithm::Sm4, Algorithm::Tdes] {
            let iv = [1, 2, 3, 4, 5, 6, 7, 8];
            let msg = [0x84, 0x24, 0x00, 0x00, 0x04];
            // Manual: one block = (msg ‖ 80 ‖ 00…) XOR (iv ‖ 00…), encrypted.
            let bs = alg.block_size();
            let mut block = vec![0u8; bs];
            block[..5].copy_from_slice(&msg);
            block[5] = 0x80;
            for (b, v) in block.iter_mut().zip(iv) {
                *b ^= v;
            }
            let expected = encrypt_block(alg, &key, &block);
            assert_eq!(mac(alg, &key, &iv, &msg)[..], expected[..4], "{alg:?}");
        }
    }

    #[test]
    fn diversified_keys_differ_per_card_and_key() {
        let f1 = [0, 0, 0, 0, 0, 0, 0, 1];
        let f2 = [0, 0, 0, 0, 0, 0, 0, 2];
        let mk = master_key(4);
        assert_ne!(*diversify(Algorithm::Sm4, &mk, &f1), *diversify(Algorithm::Sm4, &mk, &f2));
        assert_ne!(*diversify(Algorithm::Sm4, &mk, &f1), *diversify(Algorithm::Sm4, &master_key(0x0A), &f1));
        assert_ne!(*diversify(Algorithm::Tdes, &mk, &f1), *diversify(Algorithm::Sm4, &mk, &f1));
        assert_ne!(*master_key(4), *master_key(0x0A));
    }
}
