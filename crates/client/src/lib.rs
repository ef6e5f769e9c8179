//! The daemon's clients' side of the bus: typed proxies for
//! `org.sscard.Manager1`, `org.sscard.Reader1` and `org.sscard.HsmSession1`,
//! and the one translation of a failed call ([`CallError`]) that
//! `sscardctl`, libsscard and the bridge share.

use std::collections::HashMap;

use sscard_contract::bus::ERROR_PREFIX;
use sscard_contract::error::detail;
use sscard_contract::{ErrorDetails, ErrorName, Slot};
use zbus::{OwnedObjectPath, OwnedVariant, Variant, proxy};

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
    #[zbus(property)]
    fn pin_pad(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn extended_apdu(&self) -> zbus::Result<bool>;
    #[zbus(property)]
    fn features(&self) -> zbus::Result<Dict>;
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

/// A failed call, as every client sees it (`sscardctl`, the national
/// interface, the bridge): translated from `zbus::Error` here, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub kind: CallErrorKind,
    /// The D-Bus error's full name (`org.sscard.Error.NoSam`,
    /// `org.freedesktop.DBus.Error.ServiceUnknown`);
    /// `org.freedesktop.DBus.Error.Failed` for a failure with none.
    pub bus_name: String,
    /// One line for a person, without the error's name.
    pub message: String,
    /// The daemon's details; empty for any other error.
    pub details: ErrorDetails,
}

/// What kind of failure a [`CallError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The daemon answered `org.sscard.Error.<Name>`: `None` for a name
    /// this client does not know.
    Daemon(Option<ErrorName>),
    /// The daemon is not on the bus.
    NotRunning,
    /// The daemon left without answering, or the bus connection is gone:
    /// the next call opens a new one.
    Lost,
    /// The bus refused the call (its policy).
    Denied,
    /// Any other failure of the bus.
    Bus,
}

const FDO_PREFIX: &str = "org.freedesktop.DBus.Error.";

impl CallError {
    /// The contract's short name (`NoSam`) of a daemon's error, else the
    /// full D-Bus name.
    pub fn short_name(&self) -> &str {
        match self.kind {
            CallErrorKind::Daemon(_) => {
                self.bus_name.strip_prefix(ERROR_PREFIX).and_then(|n| n.strip_prefix('.')).unwrap_or(&self.bus_name)
            }
            _ => &self.bus_name,
        }
    }

    /// The daemon's error name, when it is one this client knows.
    pub fn name(&self) -> Option<ErrorName> {
        match self.kind {
            CallErrorKind::Daemon(name) => name,
            _ => None,
        }
    }
}

impl From<&zbus::Error> for CallError {
    fn from(e: &zbus::Error) -> CallError {
        let other = |kind, bus_name: String, message: String| CallError {
            kind,
            bus_name,
            message: one_line(&message),
            details: ErrorDetails::default(),
        };
        match e {
            zbus::Error::MethodError(name, text, reply) => {
                let text = text.clone().unwrap_or_default();
                let daemon = name.as_str().strip_prefix(ERROR_PREFIX).and_then(|n| n.strip_prefix('.'));
                match daemon {
                    Some(short) => CallError {
                        kind: CallErrorKind::Daemon(ErrorName::from_name(short)),
                        bus_name: name.to_string(),
                        message: one_line(&text),
                        details: reply
                            .body()
                            .deserialize::<(String, Dict)>()
                            .map(|(_, details)| decode_details(&details))
                            .unwrap_or_default(),
                    },
                    None => other(CallErrorKind::Bus, name.to_string(), text),
                }
            }
            zbus::Error::FDO(fdo) => {
                let bus_name = zbus::DBusError::name(&**fdo).to_string();
                let message = zbus::DBusError::description(&**fdo).unwrap_or_default().to_owned();
                let kind = match &**fdo {
                    zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_) => {
                        CallErrorKind::NotRunning
                    }
                    zbus::fdo::Error::NoReply(_) | zbus::fdo::Error::Disconnected(_) => CallErrorKind::Lost,
                    zbus::fdo::Error::AccessDenied(_) => CallErrorKind::Denied,
                    _ => CallErrorKind::Bus,
                };
                other(kind, bus_name, message)
            }
            zbus::Error::InputOutput(_) | zbus::Error::Connection(..) => {
                other(CallErrorKind::Lost, format!("{FDO_PREFIX}Disconnected"), e.to_string())
            }
            _ => other(CallErrorKind::Bus, format!("{FDO_PREFIX}Failed"), e.to_string()),
        }
    }
}

impl From<zbus::Error> for CallError {
    fn from(e: zbus::Error) -> CallError {
        CallError::from(&e)
    }
}

impl From<zbus::fdo::Error> for CallError {
    fn from(e: zbus::fdo::Error) -> CallError {
        CallError::from(&zbus::Error::from(e))
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.short_name(), self.message)
    }
}

/// Messages stay on one line.
pub fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The details of an error's second argument. A key of another type than
/// the contract's, or one this client does not know, is left out.
pub fn decode_details(dict: &HashMap<String, OwnedVariant>) -> ErrorDetails {
    let text = |key: &str| match dict.get(key).map(|v| &**v) {
        Some(Variant::Str(s)) => Some(s.as_str().to_owned()),
        _ => None,
    };
    let number = |key: &str| match dict.get(key).map(|v| &**v) {
        Some(Variant::U32(n)) => Some(*n),
        _ => None,
    };
    ErrorDetails {
        field: text(detail::FIELD),
        rule: text(detail::RULE),
        tries_left: number(detail::TRIES_LEFT),
        sw: match dict.get(detail::SW).map(|v| &**v) {
            Some(Variant::U16(sw)) => Some(*sw),
            _ => None,
        },
        slot: text(detail::SLOT).as_deref().and_then(Slot::parse),
        step: number(detail::STEP),
    }
}
