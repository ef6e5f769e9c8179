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
