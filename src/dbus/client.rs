//! Proxies for `org.sscard.Manager1` and `org.sscard.Reader1`.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant, proxy};

/// An options or info dictionary.
pub type Dict = HashMap<String, OwnedVariant>;

#[proxy(interface = "org.sscard.Manager1", default_service = "org.sscard.Daemon", default_path = "/org/sscard/Daemon")]
pub trait Manager1 {
    fn list_readers(&self) -> zbus::Result<Vec<(OwnedObjectPath, String)>>;
    fn find_card(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn sam_reader(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn profiles(&self) -> zbus::Result<Vec<String>>;
    #[zbus(signal)]
    fn reader_added(&self, path: OwnedObjectPath, name: String) -> zbus::Result<()>;
    #[zbus(signal)]
    fn reader_removed(&self, path: OwnedObjectPath) -> zbus::Result<()>;
}

/// `org.sscard.Reader1`. Every method is a polkit action, and each call
/// allows interactive authorization (`ALLOW_INTERACTIVE_AUTH`): polkit may
/// ask the operator through an agent, and the call waits for the answer.
#[proxy(interface = "org.sscard.Reader1", default_service = "org.sscard.Daemon")]
pub trait Reader1 {
    #[zbus(allow_interactive_auth)]
    fn read_card(&self, opts: Dict) -> zbus::Result<Dict>;
    #[zbus(allow_interactive_auth)]
    fn write_holder_record(&self, record: Dict, opts: Dict) -> zbus::Result<Dict>;
    #[zbus(allow_interactive_auth)]
    fn get_pin_status(&self, opts: Dict) -> zbus::Result<(u32, bool)>;
    #[zbus(allow_interactive_auth)]
    fn verify_pin(&self, pin: &str, opts: Dict) -> zbus::Result<(bool, u32)>;
    #[zbus(allow_interactive_auth)]
    fn change_pin(&self, old_pin: &str, new_pin: &str, opts: Dict) -> zbus::Result<()>;
    #[zbus(allow_interactive_auth)]
    fn reload_pin(&self, new_pin: &str, opts: Dict) -> zbus::Result<()>;
    #[zbus(allow_interactive_auth)]
    fn unblock_pin(&self, opts: Dict) -> zbus::Result<()>;
    #[zbus(allow_interactive_auth)]
    fn activate(&self, ssn: &str, initial_pin: &str, new_pin: &str, opts: Dict) -> zbus::Result<Dict>;
    #[zbus(allow_interactive_auth)]
    fn begin_hsm(&self, operation: &str, args: Dict) -> zbus::Result<(OwnedObjectPath, Dict)>;
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn card_present(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn atr(&self) -> zbus::Result<Vec<u8>>;
    #[zbus(property)]
    fn card_kind(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn profile(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn busy(&self) -> zbus::Result<bool>;
    #[zbus(signal)]
    fn card_inserted(&self, atr: Vec<u8>) -> zbus::Result<()>;
    #[zbus(signal)]
    fn card_removed(&self) -> zbus::Result<()>;
}

/// `org.sscard.HsmSession1`: an HSM session's later steps.
#[proxy(interface = "org.sscard.HsmSession1", default_service = "org.sscard.Daemon")]
pub trait HsmSession1 {
    #[zbus(name = "Continue")]
    fn continue_(&self, args: Dict) -> zbus::Result<Dict>;
    fn abort(&self) -> zbus::Result<()>;
    #[zbus(property)]
    fn operation(&self) -> zbus::Result<String>;
    #[zbus(property)]
    fn reader(&self) -> zbus::Result<OwnedObjectPath>;
}

/// The contract's error name of a failed call (`NoCard`, `WrongPin`, …),
/// if it is one of the daemon's.
pub fn error_name(e: &zbus::Error) -> Option<String> {
    match e {
        zbus::Error::MethodError(name, _, _) => name
            .as_str()
            .strip_prefix(crate::service::ERROR_PREFIX)
            .and_then(|n| n.strip_prefix('.'))
            .map(str::to_owned),
        _ => None,
    }
}

/// The status word a card or the PSAM answered, when the daemon's error
/// carries one (its second argument).
pub fn error_status_word(e: &zbus::Error) -> Option<u16> {
    match e {
        zbus::Error::MethodError(_, _, message) => message.body().deserialize::<(String, u16)>().ok().map(|(_, sw)| sw),
        _ => None,
    }
}

/// The message of a failed call, without the D-Bus error name.
pub fn error_message(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(_, Some(message), _) => message.clone(),
        other => other.to_string(),
    }
}
