//! A personalisation as a client gives it: keys and values of the
//! contract's types (`interfaces.md`, "Writing"), turned into a
//! [`HolderRecordUpdate`]. The daemon reads `WriteHolderRecord`'s record
//! with it, and the national interface checks `pWriteData` with it before
//! it sends anything: one statement of the rules for both.

use sscard_contract::{keys, rule};

use super::{Field, Generation, HolderRecordUpdate, Nation, Photo, ValidationError};

/// A value given for a personalisation key, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldInput {
    /// `s`.
    Str(String),
    /// `y`.
    Byte(u8),
    /// `ay`.
    Bytes(Vec<u8>),
    /// Any other type, by its D-Bus signature.
    Other(String),
}

/// The card-info keys a client may never write.
pub const READ_ONLY_KEYS: &[&str] = &[
    keys::CARD_ID,
    keys::REGION,
    keys::STATE,
    keys::PROFILE,
    keys::ATR_HISTORICAL,
    keys::PIN_TRIES_LEFT,
    keys::TERMINAL_NUMBER,
];

/// Why a record was refused: a value that breaks an element's rule, or a
/// key the record does not take. `field` and `rule` are the contract's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordInputError {
    /// A value that breaks an element's rule.
    #[error(transparent)]
    Invalid(ValidationError),
    /// An unknown or read-only key, or a value of the wrong type.
    #[error("{message}")]
    Key {
        /// The key, or `record` for one that is no element.
        field: String,
        /// The rule (`sscard_contract::rule`).
        rule: &'static str,
        /// One line for a person.
        message: String,
    },
}

impl HolderRecordUpdate {
    /// The personalisation of a record's keys and values: each writable key
    /// with its contract type. An unknown key, a read-only key or a value of
    /// the wrong type is refused by name.
    pub fn from_fields(
        fields: impl IntoIterator<Item = (String, FieldInput)>,
    ) -> Result<HolderRecordUpdate, RecordInputError> {
        let mut update = HolderRecordUpdate::default();
        for (key, value) in fields {
            if READ_ONLY_KEYS.contains(&key.as_str()) {
                let message = format!("record: {key} cannot be written");
                return Err(RecordInputError::Key { field: key, rule: rule::NOT_WRITABLE, message });
            }
            let field = Field::from_key(&key).filter(|f| !f.is_pin()).ok_or_else(|| RecordInputError::Key {
                message: format!("record: unknown key {key:?}"),
                field: keys::args::RECORD.to_owned(),
                rule: rule::UNKNOWN_KEY,
            })?;
            let wrong_type = |expected: &str| RecordInputError::Key {
                field: key.clone(),
                rule: rule::WRONG_TYPE,
                message: format!("record: {key} must be of type {expected}"),
            };
            match (field, value) {
                (Field::Photo, FieldInput::Bytes(jpeg)) => {
                    update.photo = Some(Photo::new(jpeg).map_err(RecordInputError::Invalid)?);
                }
                (Field::Photo, _) => return Err(wrong_type("ay (the JPEG bytes)")),
                (Field::Nation, FieldInput::Byte(code)) => {
                    update.nation = Some(Nation::parse(&code.to_string()).map_err(RecordInputError::Invalid)?);
                }
                (Field::Nation, _) => return Err(wrong_type("y")),
                (field, FieldInput::Str(text)) => {
                    update.set_from_str(field, &text).map_err(RecordInputError::Invalid)?
                }
                (_, _) => return Err(wrong_type("s")),
            }
        }
        Ok(update)
    }

    /// Checks the record against the first of `generations` that takes it,
    /// the generation its `spec_version` names tried first, so that a
    /// refusal names the field that broke a rule for the card meant.
    pub fn validate_for_any(&self, generations: &[Generation]) -> Result<(), ValidationError> {
        let named = self.spec_version.as_ref().and_then(|v| v.generation());
        let mut ordered = generations.to_vec();
        ordered.sort_by_key(|g| Some(*g) != named);
        let mut first_error = None;
        for generation in ordered {
            match self.validate(generation) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements' keys are the contract's, in its order of the card-info
    /// keys.
    #[test]
    fn the_element_keys_are_the_contracts_in_its_order() {
        let elements: Vec<&str> =
            Field::ALL.into_iter().filter(|f| !f.is_pin() && *f != Field::Photo).map(Field::key).collect();
        assert_eq!(elements, keys::CARD_INFO[..elements.len()]);
        assert_eq!(Field::Photo.key(), keys::PHOTO);
        assert_eq!((Field::Pin.key(), Field::NewPin.key()), (keys::PIN, keys::NEW_PIN));
    }
}
