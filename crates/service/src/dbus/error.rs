//! `org.sscard.Error.<Name>`: the service's error is the D-Bus error, its
//! name taken from the contract ([`sscard_contract::ErrorName`]), its body
//! `(s message, a{sv} details)`. The clients read the details back with
//! `sscard_client::decode_details`.

use std::collections::HashMap;

use sscard_contract::ErrorDetails;
use sscard_contract::error::detail;
use zbus::Variant;

pub use crate::ServiceError as Error;

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
