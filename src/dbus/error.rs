//! `org.sscard.Error.<Name>`: the service's error is the D-Bus error, its
//! name taken from the contract ([`sscard_contract::ErrorName`]), its body
//! `(s message, a{sv} details)`. [`decode_details`] reads the details back
//! for the clients ([`super::client::CallError`]).

use std::collections::HashMap;

use sscard_contract::error::detail;
use sscard_contract::{ErrorDetails, Slot};
use zbus::{OwnedVariant, Variant};

pub use crate::service::ServiceError as Error;

/// The details as the error's second argument, `a{sv}`: only those present.
pub fn encode_details(details: &ErrorDetails) -> HashMap<&'static str, Variant<'_>> {
    let mut dict = HashMap::new();
    if let Some(field) = &details.field {
        dict.insert(detail::FIELD, Variant::from(field.as_str()));
    }
    if let Some(rule) = &details.rule {
        dict.insert(detail::RULE, Variant::from(rule.as_str()));
    }
    if let Some(tries_left) = details.tries_left {
        dict.insert(detail::TRIES_LEFT, Variant::from(tries_left));
    }
    if let Some(sw) = details.sw {
        dict.insert(detail::SW, Variant::from(sw));
    }
    if let Some(slot) = details.slot {
        dict.insert(detail::SLOT, Variant::from(slot.as_str()));
    }
    if let Some(step) = details.step {
        dict.insert(detail::STEP, Variant::from(step));
    }
    dict
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

impl zbus::DBusError for Error {
    fn create_reply(&self, call: &zbus::message::Header<'_>) -> zbus::Result<zbus::Message> {
        zbus::Message::error(call, self.name.dbus_name()).build(&(self.message.as_str(), encode_details(&self.details)))
    }

    fn name(&self) -> zbus::names::ErrorName<'_> {
        zbus::names::ErrorName::from_static_str_unchecked(self.name.dbus_name())
    }

    fn description(&self) -> Option<&str> {
        Some(&self.message)
    }
}
