//! The names of the rules an `InvalidArgument` names in its `rule`
//! detail. The model's rules (`card-profile.md` section 3, the PIN rules of
//! `interfaces.md`) each have one; so do the checks of the D-Bus arguments
//! themselves.

// The elements' values.
pub const EMPTY: &str = "empty";
pub const NOT_DIGITS: &str = "not_digits";
pub const WRONG_LENGTH: &str = "wrong_length";
pub const TOO_LONG: &str = "too_long";
pub const NOT_ASCII: &str = "not_ascii";
pub const NOT_ALPHANUMERIC: &str = "not_alphanumeric";
pub const BAD_FORMAT: &str = "bad_format";
pub const NOT_ALLOWED: &str = "not_allowed";
pub const OUT_OF_RANGE: &str = "out_of_range";
pub const NOT_A_CALENDAR_DATE: &str = "not_a_calendar_date";
pub const BAD_CHECK_CHARACTER: &str = "bad_check_character";
pub const CONTROL_CHARACTER: &str = "control_character";
pub const NOT_REPRESENTABLE_IN_GBK: &str = "not_representable_in_gbk";
pub const NAME_TOO_LONG: &str = "name_too_long";
pub const NAME_EXTENSION_TOO_LONG: &str = "name_extension_too_long";
pub const NOT_JPEG: &str = "not_jpeg";
pub const PHOTO_TOO_LARGE: &str = "photo_too_large";
pub const NOT_WRITABLE: &str = "not_writable";
pub const GENERATION_MISMATCH: &str = "generation_mismatch";

// Between elements.
pub const BIRTH_DATE_MISMATCH: &str = "birth_date_mismatch";
pub const SEX_PARITY_MISMATCH: &str = "sex_parity_mismatch";
pub const EXPIRY_NOT_AFTER_ISSUE: &str = "expiry_not_after_issue";
pub const MUST_COME_TOGETHER: &str = "must_come_together";
pub const NAME_EXTENSION_OF_ANOTHER_NAME: &str = "name_extension_of_another_name";

// PINs: every PIN is 4 to 12 digits; a new PIN also follows the rest.
pub const PIN_LENGTH: &str = "pin_length";
pub const PIN_NOT_DIGITS: &str = "pin_not_digits";
pub const PIN_IS_INITIAL: &str = "pin_is_initial";
pub const PIN_REPEATED_DIGIT: &str = "pin_repeated_digit";
pub const PIN_SEQUENTIAL: &str = "pin_sequential";
/// The new PIN typed on a keypad and its confirmation differ.
pub const PIN_CONFIRMATION_DIFFERS: &str = "pin_confirmation_differs";
/// A PIN given together with `pin_pad`: the keypad collects it.
pub const PIN_WITH_PIN_PAD: &str = "pin_with_pin_pad";

// The arguments themselves.
/// A key the dictionary does not take (`opts`, `record`, `args`).
pub const UNKNOWN_KEY: &str = "unknown_key";
/// A value of the wrong D-Bus type.
pub const WRONG_TYPE: &str = "wrong_type";
/// A record with nothing to write.
pub const NOTHING_TO_WRITE: &str = "nothing_to_write";
/// An HSM step's value of the wrong length or form, or one missing or
/// extra (the national interface's -14: a malformed `pKey`).
pub const MALFORMED: &str = "malformed";
/// An HSM operation the daemon does not know.
pub const UNKNOWN_OPERATION: &str = "unknown_operation";
