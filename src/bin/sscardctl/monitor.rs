//! `sscardctl monitor`: the daemon's signals, one line each, until SIGINT
//! or SIGTERM.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;

use serde_json::{Map, Value};
use sscard_contract::bus::{BUS_NAME, MANAGER_PATH};
use zbus::message::Type;
use zbus::{MatchRule, Message, MessageStream, OwnedObjectPath, OwnedVariant};

use crate::client::Ctl;
use crate::failure::CommandError;
use crate::output::{emit, json_value, text_value, timestamp};

/// One line of output.
struct Event {
    name: &'static str,
    path: Option<String>,
    reader: Option<String>,
    /// For JSON: the event's own fields.
    fields: Vec<(&'static str, Value)>,
    /// For text: what follows the path and the reader's name.
    detail: String,
}

impl Event {
    fn line(&self, json: bool) -> String {
        let time = timestamp();
        if json {
            let mut map = Map::new();
            map.insert("time".to_owned(), Value::String(time));
            map.insert("event".to_owned(), Value::String(self.name.to_owned()));
            if let Some(path) = &self.path {
                map.insert("path".to_owned(), Value::String(path.clone()));
            }
            if let Some(reader) = &self.reader {
                map.insert("reader".to_owned(), Value::String(reader.clone()));
            }
            for (key, value) in &self.fields {
                map.insert((*key).to_owned(), value.clone());
            }
            return Value::Object(map).to_string();
        }
        let mut line = format!("{time} {}", self.name);
        if let Some(path) = &self.path {
            line.push(' ');
            line.push_str(path);
        }
        if let Some(reader) = &self.reader {
            line.push_str(&format!(" {reader:?}"));
        }
        if !self.detail.is_empty() {
            line.push(' ');
            line.push_str(&self.detail);
        }
        line
    }
}

pub async fn monitor(ctl: &Ctl) -> Result<(), CommandError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| CommandError::Local(format!("SIGTERM handler: {e}")))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| CommandError::Local(format!("SIGINT handler: {e}")))?;

    // Every signal of the daemon's objects, present and future: the bus
    // matches the well-known name against its owner of the moment.
    let rule = MatchRule::builder().msg_type(Type::Signal).sender(BUS_NAME).path_namespace(MANAGER_PATH).build()?;
    let mut signals = MessageStream::for_match_rule(rule, &ctl.conn, NonZeroUsize::new(1024)).await?;
    let owner_rule = MatchRule::builder()
        .msg_type(Type::Signal)
        .sender("org.freedesktop.DBus")
        .interface("org.freedesktop.DBus")
        .member("NameOwnerChanged")
        .add_arg(BUS_NAME)
        .build()?;
    let mut owners = MessageStream::for_match_rule(owner_rule, &ctl.conn, None).await?;
    // Names for the readers that exist already; ReaderAdded tells the rest.
    let mut names: HashMap<String, String> =
        ctl.manager().await?.list_readers().await?.into_iter().map(|(path, name)| (path.to_string(), name)).collect();
    eprintln!("sscardctl: watching {BUS_NAME} on {}; interrupt to stop", crate::client::bus_label(&ctl.bus));

    loop {
        let next = tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            msg = next(&mut signals) => msg,
            msg = next(&mut owners) => msg,
        };
        let msg = match next {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(CommandError::Unavailable("the bus connection closed".to_owned())),
        };
        if let Some(event) = describe(&msg, &mut names) {
            emit(&event.line(ctl.json))?;
        }
    }
}

async fn next(stream: &mut MessageStream) -> Option<zbus::Result<Message>> {
    futures_util::StreamExt::next(stream).await
}

/// The event a signal stands for; `None` for the ones not shown
/// (ObjectManager's, which repeat ReaderAdded and ReaderRemoved).
fn describe(msg: &Message, names: &mut HashMap<String, String>) -> Option<Event> {
    let header = msg.header();
    let interface = header.interface()?.to_string();
    let member = header.member()?.to_string();
    let path = header.path().map(|p| p.to_string());
    let reader = path.as_ref().and_then(|p| names.get(p).cloned());
    let body = msg.body();
    let event = |name, fields: Vec<(&'static str, Value)>, detail: String| Event {
        name,
        path: path.clone(),
        reader: reader.clone(),
        fields,
        detail,
    };
    match (interface.as_str(), member.as_str()) {
        ("org.sscard.Manager1", "ReaderAdded") => {
            let (added, name): (OwnedObjectPath, String) = body.deserialize().ok()?;
            names.insert(added.to_string(), name.clone());
            Some(Event {
                name: "ReaderAdded",
                path: Some(added.to_string()),
                reader: Some(name),
                fields: Vec::new(),
                detail: String::new(),
            })
        }
        ("org.sscard.Manager1", "ReaderRemoved") => {
            let (removed,): (OwnedObjectPath,) = body.deserialize().ok()?;
            Some(Event {
                name: "ReaderRemoved",
                path: Some(removed.to_string()),
                reader: names.remove(removed.as_str()),
                fields: Vec::new(),
                detail: String::new(),
            })
        }
        ("org.sscard.Reader1", "CardInserted") => {
            let (atr,): (Vec<u8>,) = body.deserialize().ok()?;
            let atr = hex::encode_upper(atr);
            Some(event("CardInserted", vec![("atr", Value::String(atr.clone()))], format!("atr {atr}")))
        }
        ("org.sscard.Reader1", "CardRemoved") => Some(event("CardRemoved", Vec::new(), String::new())),
        ("org.freedesktop.DBus.Properties", "PropertiesChanged") => {
            let (iface, changed, invalidated): (String, HashMap<String, OwnedVariant>, Vec<String>) =
                body.deserialize().ok()?;
            let changed: BTreeMap<String, OwnedVariant> = changed.into_iter().collect();
            let mut detail = iface.clone();
            for (key, value) in &changed {
                detail.push_str(&format!(" {key}={}", text_value(value)));
            }
            if !invalidated.is_empty() {
                detail.push_str(&format!(" invalidated={}", invalidated.join(",")));
            }
            let changed_json: Map<String, Value> = changed.iter().map(|(k, v)| (k.clone(), json_value(v))).collect();
            Some(event(
                "PropertiesChanged",
                vec![
                    ("interface", Value::String(iface)),
                    ("changed", Value::Object(changed_json)),
                    ("invalidated", Value::from(invalidated)),
                ],
                detail,
            ))
        }
        ("org.freedesktop.DBus", "NameOwnerChanged") => {
            let (_, old, new): (String, String, String) = body.deserialize().ok()?;
            let name = match (old.is_empty(), new.is_empty()) {
                (true, _) => "DaemonStarted",
                (_, true) => "DaemonStopped",
                _ => "DaemonReplaced",
            };
            if new.is_empty() {
                names.clear();
            }
            Some(Event {
                name,
                path: None,
                reader: None,
                fields: vec![("owner", Value::String(new.clone()))],
                detail: if new.is_empty() { String::new() } else { format!("owner {new}") },
            })
        }
        _ => None,
    }
}
