//! The polkit action ids (`polkit/org.sscard.policy`), one per kind of
//! method: each `Reader1` method and each HSM operation asks for one.

/// Reading the card: `ReadCard`, `GetPinStatus`, the HSM reads.
pub const READ: &str = "org.sscard.read";
/// The holder's own PIN: `VerifyPin`, `ChangePin`.
pub const PIN: &str = "org.sscard.pin";
/// `Activate`.
pub const ACTIVATE: &str = "org.sscard.activate";
/// Writing the holder's record: `WriteHolderRecord`, the HSM write.
pub const PERSONALIZE: &str = "org.sscard.personalize";
/// The operator's PIN reset: `ReloadPin`, `UnblockPin` and their HSM forms.
pub const RESET_PIN: &str = "org.sscard.reset-pin";

/// Every action, as the policy file declares them.
pub const ALL: [&str; 5] = [READ, PIN, ACTIVATE, PERSONALIZE, RESET_PIN];
