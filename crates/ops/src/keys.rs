//! The contract's dictionary keys, from the contract crate
//! ([`sscard_contract::keys`]): the daemon builds and parses its
//! dictionaries with these; `sscardctl` reads and builds them with the same.

pub use sscard_contract::keys::*;

#[cfg(test)]
mod tests {
    use super::*;
    use sscard_model::Field;

    #[test]
    fn the_element_keys_are_the_models_in_the_contracts_order() {
        let elements: Vec<&str> =
            Field::ALL.into_iter().filter(|f| !f.is_pin() && *f != Field::Photo).map(Field::key).collect();
        assert_eq!(elements, CARD_INFO[..elements.len()]);
        assert_eq!(Field::Photo.key(), PHOTO);
        assert_eq!((Field::Pin.key(), Field::NewPin.key()), (PIN, NEW_PIN));
    }
}
