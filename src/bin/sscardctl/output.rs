//! D-Bus values as text and JSON, the key/value table, and the holder
//! record read from JSON.

use std::path::Path;

use serde_json::{Map, Value};
use sscard_client::Dict;
use sscard_contract::keys;
use zbus::{OwnedVariant, Variant};

use crate::failure::CommandError;

/// The keys of a reply in the order a person reads them: the card info's,
/// then the write result's; any other key follows, sorted.
fn key_order() -> impl Iterator<Item = &'static str> {
    keys::CARD_INFO.iter().copied().chain([keys::DIGEST, keys::APDUS])
}

/// Whether an array is `ay`.
fn is_bytes(v: &Variant<'_>) -> Option<Vec<u8>> {
    match v {
        Variant::Array(a) if a.element_signature().to_string() == "y" => {
            Some(a.inner().iter().filter_map(|e| if let Variant::U8(b) = e { Some(*b) } else { None }).collect())
        }
        _ => None,
    }
}

/// The JPEG bytes of a `photo` value.
pub fn bytes_of(v: &Variant<'_>) -> Option<Vec<u8>> {
    match v {
        Variant::Variant(inner) => bytes_of(inner),
        other => is_bytes(other),
    }
}

/// A string value of a dictionary.
pub fn text(d: &Dict, key: &str) -> Option<String> {
    match &**d.get(key)? {
        Variant::Str(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A value as JSON: `ay` as upper-case hex, numbers as numbers.
pub fn json_value(v: &Variant<'_>) -> Value {
    if let Some(bytes) = is_bytes(v) {
        return Value::String(hex::encode_upper(bytes));
    }
    match v {
        Variant::U8(n) => Value::from(*n),
        Variant::Bool(b) => Value::Bool(*b),
        Variant::I16(n) => Value::from(*n),
        Variant::U16(n) => Value::from(*n),
        Variant::I32(n) => Value::from(*n),
        Variant::U32(n) => Value::from(*n),
        Variant::I64(n) => Value::from(*n),
        Variant::U64(n) => Value::from(*n),
        Variant::F64(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Variant::Str(s) => Value::String(s.as_str().to_owned()),
        Variant::ObjectPath(p) => Value::String(p.as_str().to_owned()),
        Variant::Variant(inner) => json_value(inner),
        Variant::Array(a) => Value::Array(a.inner().iter().map(json_value).collect()),
        Variant::Structure(s) => Value::Array(s.fields().iter().map(json_value).collect()),
        Variant::Dict(d) => {
            let mut map = Map::new();
            for (k, v) in d.iter() {
                let key = match k {
                    Variant::Str(s) => s.as_str().to_owned(),
                    other => other.to_string(),
                };
                map.insert(key, json_value(v));
            }
            Value::Object(map)
        }
        other => Value::String(other.to_string()),
    }
}

/// A value as a person reads it.
pub fn text_value(v: &Variant<'_>) -> String {
    if let Some(bytes) = is_bytes(v) {
        return hex::encode_upper(bytes);
    }
    match v {
        Variant::Str(s) => s.as_str().to_owned(),
        Variant::ObjectPath(p) => p.as_str().to_owned(),
        Variant::Bool(b) => b.to_string(),
        Variant::U8(n) => n.to_string(),
        Variant::U32(n) => n.to_string(),
        Variant::Variant(inner) => text_value(inner),
        Variant::Array(a) => a.inner().iter().map(text_value).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A card-info dictionary as JSON: the photo only as `photo_len`.
pub fn dict_json(d: &Dict) -> Value {
    let mut map = Map::new();
    for (key, value) in d {
        if key == keys::PHOTO {
            map.insert("photo_len".to_owned(), Value::from(bytes_of(value).map_or(0, |b| b.len())));
        } else {
            map.insert(key.clone(), json_value(value));
        }
    }
    Value::Object(map)
}

/// A card-info dictionary as (key, value) rows in reading order; the photo
/// only as its length. Each rule the record breaks (`inconsistent`) comes
/// first, one `! inconsistent` row each, so that it is not overlooked.
pub fn dict_rows(d: &Dict) -> Vec<(String, String)> {
    let known: Vec<&str> = key_order().collect();
    let mut others: Vec<&str> = d
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k) && *k != keys::PHOTO && *k != keys::INCONSISTENT)
        .collect();
    others.sort_unstable();
    let broken = match d.get(keys::INCONSISTENT).map(|v| &**v) {
        Some(Variant::Array(lines)) => lines.inner().iter().map(text_value).collect(),
        Some(other) => vec![text_value(other)],
        None => Vec::new(),
    };
    let mut rows: Vec<(String, String)> =
        broken.into_iter().map(|line| (format!("! {}", keys::INCONSISTENT), line)).collect();
    rows.extend(known.iter().chain(&others).filter_map(|k| d.get(*k).map(|v| ((*k).to_owned(), text_value(v)))));
    if let Some(photo) = d.get(keys::PHOTO) {
        rows.push((keys::PHOTO.to_owned(), format!("{} bytes", bytes_of(photo).map_or(0, |b| b.len()))));
    }
    rows
}

/// A two-column table; an empty value shows as `-`.
pub fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {}\n", if v.is_empty() { "-" } else { v.as_str() })).collect()
}

/// Columns, each as wide as its widest cell.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Writes `text` and a line end (unless it has one) to standard output.
pub fn emit(text: &str) -> Result<(), CommandError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let end = if text.ends_with('\n') { "" } else { "\n" };
    write!(stdout, "{text}{end}")
        .and_then(|()| stdout.flush())
        .map_err(|e| CommandError::Local(format!("writing to standard output: {e}")))
}

/// One JSON value on one line.
pub fn emit_json(value: &Value) -> Result<(), CommandError> {
    emit(&value.to_string())
}

/// `WriteHolderRecord`'s record from a JSON object: each value a string,
/// except `nation`, a number from 0 to 255 sent as `y`. The daemon checks
/// the keys and the card's rules; only what JSON cannot say is checked here.
pub fn record_from_json(file: &Path, text: &str) -> Result<Dict, CommandError> {
    let at = file.display();
    let value: Value =
        serde_json::from_str(text).map_err(|e| CommandError::Local(format!("{at}: not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(CommandError::Local(format!(
            "{at}: expected a JSON object of the record's keys, not {}",
            kind(&value)
        )));
    };
    let mut record = Dict::new();
    for (key, value) in object {
        let variant = match (key.as_str(), &value) {
            (keys::PHOTO, _) => {
                return Err(CommandError::Local(format!("{at}: photo: give the JPEG file with --photo FILE")));
            }
            (keys::NATION, Value::Number(n)) => match n.as_u64().and_then(|n| u8::try_from(n).ok()) {
                Some(code) => OwnedVariant::from(code),
                None => {
                    return Err(CommandError::Local(format!(
                        "{at}: nation must be a whole number from 0 to 255, not {n}"
                    )));
                }
            },
            (keys::NATION, other) => {
                return Err(CommandError::Local(format!(
                    "{at}: nation must be a number from 0 to 255 (D-Bus y), not {}",
                    kind(other)
                )));
            }
            (_, Value::String(s)) => string_variant(s)?,
            (_, other) => {
                return Err(CommandError::Local(format!("{at}: {key} must be a string, not {}", kind(other))));
            }
        };
        record.insert(key, variant);
    }
    Ok(record)
}

pub fn string_variant(s: &str) -> Result<OwnedVariant, CommandError> {
    OwnedVariant::try_from(Variant::from(s)).map_err(|e| CommandError::Local(format!("cannot hold {s:?}: {e}")))
}

pub fn bytes_variant(b: Vec<u8>) -> Result<OwnedVariant, CommandError> {
    OwnedVariant::try_from(Variant::from(b)).map_err(|e| CommandError::Local(format!("cannot hold the bytes: {e}")))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Now, as UTC with milliseconds: `2026-11-25T08:30:00.123Z`.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Dict, String> {
        record_from_json(Path::new("r.json"), text).map_err(|e| e.message())
    }

    #[test]
    fn a_record_takes_strings_and_a_nation_byte() {
        let d = load(r#"{"name": "张三", "nation": 5}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text(&d, "name").as_deref(), Some("张三"));
        assert!(matches!(&**d.get("nation").unwrap_or_else(|| panic!("nation")), Variant::U8(5)));
    }

    #[test]
    fn a_record_names_the_key_of_a_wrong_type() {
        for (json, words) in [
            (r#"{"sex": 2}"#, "sex must be a string, not a number"),
            (r#"{"nation": "5"}"#, "nation must be a number"),
            (r#"{"nation": 256}"#, "nation must be a whole number from 0 to 255"),
            (r#"{"name": null}"#, "name must be a string, not null"),
            (r#"{"photo": "FFD8"}"#, "--photo FILE"),
            (r#"["ssn"]"#, "expected a JSON object"),
            (r#"{"ssn": "1"#, "not valid JSON"),
        ] {
            let e = load(json).err().unwrap_or_else(|| panic!("{json} was accepted"));
            assert!(e.contains(words), "{json}: {e}");
            assert!(e.starts_with("r.json: "), "{e}");
        }
    }

    #[test]
    fn rows_follow_the_reading_order_and_hide_the_photo() {
        let mut d = Dict::new();
        for key in ["ssn", "card_id", "zzz", "state"] {
            d.insert(key.to_owned(), string_variant(key).unwrap_or_else(|e| panic!("{}", e.message())));
        }
        d.insert("photo".to_owned(), bytes_variant(vec![0xFF, 0xD8, 0xFF, 0xD9]).unwrap_or_else(|_| panic!()));
        let keys: Vec<String> = dict_rows(&d).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["card_id", "ssn", "state", "zzz", "photo"]);
        let json = dict_json(&d);
        assert_eq!(json["photo_len"], 4);
        assert!(json.get("photo").is_none());
    }

    #[test]
    fn each_broken_rule_is_a_row_of_its_own_first() {
        let mut d = Dict::new();
        d.insert("ssn".to_owned(), string_variant("11010519491231002X").unwrap_or_else(|e| panic!("{}", e.message())));
        let lines = vec!["sex: a".to_owned(), "birth_date: b".to_owned()];
        d.insert("inconsistent".to_owned(), OwnedVariant::try_from(Variant::from(lines)).unwrap_or_else(|_| panic!()));
        let rows = dict_rows(&d);
        let shown: Vec<(&str, &str)> = rows.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            shown,
            [("! inconsistent", "sex: a"), ("! inconsistent", "birth_date: b"), ("ssn", "11010519491231002X")]
        );
        assert_eq!(dict_json(&d)["inconsistent"], serde_json::json!(["sex: a", "birth_date: b"]));
    }

    #[test]
    fn timestamps_are_iso_8601() {
        let t = timestamp();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
