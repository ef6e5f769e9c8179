//! The national interface's strings (`docs/unified-interface.md` sections
//! 2 to 4): `pCardInfo`, `pFileAddr`, `pWriteData` and the outputs, with
//! the value forms, and their encoding (GBK by default, or UTF-8).
//!
//! Everything here is text in and text out; the card's data comes as the
//! daemon's `ReadCard` dictionary ([`CardValues`]) and goes back as the
//! keys of `WriteHolderRecord` ([`RecordValue`]). The files and tags are the
//! model's.

use std::collections::BTreeMap;

use encoding_rs::GBK;

use super::codes::{Code, NationalError};
use sscard_contract::keys;
use sscard_model::{CardId, EF05_ELEMENTS, EF06_ELEMENTS, ElementSpec, Field, FileId, Name};

/// The most file groups one `pFileAddr` may name: far more than the three
/// files, so that a caller's loop cannot make the library work without end.
const MAX_GROUPS: usize = 16;

/// How text crosses the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The ANSI code page of the national interface.
    Gbk,
    Utf8,
}

impl Encoding {
    /// `SSCARD_ENCODING=UTF-8` switches to UTF-8; GBK otherwise.
    pub fn from_env() -> Encoding {
        match std::env::var("SSCARD_ENCODING") {
            Ok(v) if v.eq_ignore_ascii_case("UTF-8") || v.eq_ignore_ascii_case("UTF8") => Encoding::Utf8,
            _ => Encoding::Gbk,
        }
    }

    /// Text as the caller reads it. A character GBK cannot carry is an
    /// error, never an HTML character reference in its place.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, NationalError> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Gbk => match GBK.encode(text) {
                (_, _, true) => Err(NationalError::with(Code::BadArgument, "a character GBK cannot carry")),
                (bytes, _, false) => Ok(bytes.into_owned()),
            },
        }
    }

    /// The caller's bytes as text; bytes that are not text in the
    /// encoding are refused, naming `argument`.
    pub fn decode(self, bytes: &[u8], argument: &str) -> Result<String, NationalError> {
        let (text, had_errors) = match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(t) => (std::borrow::Cow::Borrowed(t), false),
                Err(_) => (std::borrow::Cow::Borrowed(""), true),
            },
            Encoding::Gbk => {
                let (text, had_errors) = GBK.decode_without_bom_handling(bytes);
                // encoding_rs decodes GB18030's four-byte sequences too;
                // what GBK cannot carry back is refused as well.
                let round_trips = !had_errors && !GBK.encode(&text).2;
                (text, !round_trips)
            }
        };
        if had_errors {
            let name = if self == Encoding::Gbk { "GBK" } else { "UTF-8" };
            return Err(NationalError::with(Code::BadArgument, format!("{argument}: not {name} text")));
        }
        Ok(text.into_owned())
    }
}

/// `pCardInfo`: the card the caller means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfoArg {
    /// 32 upper-case hex digits.
    pub card_id: String,
    pub card_number: String,
}

/// Parses `card identifier|card number|`.
pub fn parse_card_info(text: &str) -> Result<CardInfoArg, NationalError> {
    let bad = |detail: &str| NationalError::with(Code::BadArgument, format!("pCardInfo: {detail}"));
    let Some(body) = text.strip_suffix('|') else {
        return Err(bad("must be \"card identifier|card number|\", each field followed by |"));
    };
    let mut fields = body.split('|');
    let (Some(card_id), Some(card_number), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(bad("must hold two fields, \"card identifier|card number|\""));
    };
    let card_id = CardId::parse_hex(card_id.trim())
        .map_err(|e| NationalError::with(Code::CardIdFormat, format!("pCardInfo: {e}")))?;
    Ok(CardInfoArg { card_id: card_id.to_hex(), card_number: card_number.trim().to_owned() })
}

/// A file the interface names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnifiedFile {
    Records(FileId),
    /// EF08, the photo: a transparent file, named with no items.
    Photo,
}

/// One group of `pFileAddr`: the file as the caller spelled it, and its
/// items' tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGroup {
    pub name: String,
    pub file: UnifiedFile,
    pub tags: Vec<u8>,
}

/// The file a `pFileAddr` name stands for: `SSSEEF05`, …, or the
/// `3F00EF06` spelling one deployment uses.
fn file_of(name: &str) -> Option<UnifiedFile> {
    let upper = name.to_ascii_uppercase();
    let ef = upper.strip_prefix("SSSE").or_else(|| upper.strip_prefix("3F00"))?;
    match ef {
        "EF05" => Some(UnifiedFile::Records(FileId::Ef05)),
        "EF06" => Some(UnifiedFile::Records(FileId::Ef06)),
        "EF08" => Some(UnifiedFile::Photo),
        _ => None,
    }
}

/// Parses `FILE|tag|tag|$FILE|…|$`.
pub fn parse_file_addr(text: &str) -> Result<Vec<FileGroup>, NationalError> {
    let bad = |detail: String| NationalError::with(Code::BadArgument, format!("pFileAddr: {detail}"));
    let Some(body) = text.strip_suffix('$') else {
        return Err(bad("must end with $ (each file group is FILE|tag|…|$)".into()));
    };
    let mut groups = Vec::new();
    for group in body.split('$') {
        if groups.len() == MAX_GROUPS {
            return Err(bad(format!("more than {MAX_GROUPS} file groups")));
        }
        let Some(items) = group.strip_suffix('|') else {
            return Err(bad(format!("{group:?}: a file group is FILE|tag|…| (each field followed by |)")));
        };
        let mut parts = items.split('|');
        let name = parts.next().unwrap_or_default();
        let file = file_of(name).ok_or_else(|| {
            bad(format!("{name:?}: no such file (SSSEEF05, SSSEEF06 and SSSEEF08 are the profile's)"))
        })?;
        let mut tags = Vec::new();
        for item in parts {
            if item.contains(':') {
                return Err(bad(format!(
                    "{name}|{item}: tag:recno is not supported (no element of the profile has more than one record)"
                )));
            }
            // Two hex digits: `from_str_radix` alone also takes a sign (`+7`).
            let tag = (item.len() == 2 && item.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u8::from_str_radix(item, 16).ok())
                .flatten()
                .ok_or_else(|| bad(format!("{name}|{item}: a tag is two hex digits")))?;
            match file {
                UnifiedFile::Records(id) if ElementSpec::find(id, tag).is_some() => tags.push(tag),
                UnifiedFile::Records(id) => {
                    return Err(bad(format!("{name}|{item}: {id} has no element with tag {tag:02X}")));
                }
                UnifiedFile::Photo => {
                    return Err(bad(format!("{name}|{item}: EF08 is transparent, named with no items")));
                }
            }
        }
        if tags.is_empty() && file != UnifiedFile::Photo {
            return Err(bad(format!("{name}: no items")));
        }
        groups.push(FileGroup { name: name.to_owned(), file, tags });
    }
    Ok(groups)
}

/// The card as `ReadCard` answered, in the daemon's value formats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardValues {
    /// String values by their D-Bus key (dates `YYYY-MM-DD`).
    pub text: BTreeMap<String, String>,
    pub nation: Option<u8>,
    /// The JPEG bytes, when asked for.
    pub photo: Option<Vec<u8>>,
}

impl CardValues {
    fn get(&self, key: &str) -> &str {
        self.text.get(key).map_or("", String::as_str)
    }

    /// The name's parts as the card holds them: tag 09 and tag 4E.
    fn name_parts(&self) -> (String, String) {
        let name = self.get(keys::NAME);
        let Ok(name) = Name::new(name) else { return (name.to_owned(), String::new()) };
        let gbk = name.gbk_bytes();
        let split = name.name_record_len().min(gbk.len());
        let text = |bytes: &[u8]| GBK.decode_without_bom_handling(bytes).0.into_owned();
        (text(&gbk[..split]), text(&gbk[split..]))
    }

    /// One element in the interface's value form.
    fn value_of(&self, spec: &ElementSpec) -> String {
        let compact = |key: &str| self.get(key).replace('-', "");
        match (spec.field, spec.tag) {
            (Field::Name, 0x4E) => self.name_parts().1,
            (Field::Name, _) => self.name_parts().0,
            (Field::IssueDate | Field::ExpiryDate | Field::BirthDate, _) => compact(spec.field.key()),
            (Field::Nation, _) => self.nation.map(|n| format!("{n:02}")).unwrap_or_default(),
            (field, _) => self.get(field.key()).to_owned(),
        }
    }

    /// Values holding the interface's separators (`|`, `$`) would break
    /// the caller's parsing of the line: -23, naming the field.
    pub fn check_separators(&self) -> Result<(), NationalError> {
        match self.text.iter().find(|(_, v)| v.contains(['|', '$'])) {
            Some((key, _)) => Err(NationalError::with(
                Code::InvalidData,
                format!("{key} on the card holds | or $, the interface's separators"),
            )),
            None => Ok(()),
        }
    }

    /// Whether the card is the one `pCardInfo` names: -22 otherwise.
    pub fn check(&self, wanted: &CardInfoArg) -> Result<(), NationalError> {
        if !self.get(keys::CARD_ID).eq_ignore_ascii_case(&wanted.card_id) {
            return Err(NationalError::with(Code::Mismatch, "pCardInfo: the card identifier is not this card's"));
        }
        if self.get(keys::CARD_NUMBER) != wanted.card_number {
            return Err(NationalError::with(Code::Mismatch, "pCardInfo: the card number is not this card's"));
        }
        Ok(())
    }
}

/// `iReadCard`'s output: `pFileAddr` with a value in place of each tag,
/// and EF08 as the JPEG in hex.
pub fn read_output(groups: &[FileGroup], card: &CardValues) -> String {
    let mut out = String::new();
    for group in groups {
        out.push_str(&group.name);
        out.push('|');
        match group.file {
            UnifiedFile::Records(id) => {
                for tag in &group.tags {
                    if let Some(spec) = ElementSpec::find(id, *tag) {
                        out.push_str(&card.value_of(spec));
                    }
                    out.push('|');
                }
            }
            UnifiedFile::Photo => {
                out.push_str(&hex::encode_upper(card.photo.as_deref().unwrap_or_default()));
                out.push('|');
            }
        }
        out.push('$');
    }
    out
}

/// Whether any group is the photo, which `ReadCard` then must fetch.
pub fn wants_photo(groups: &[FileGroup]) -> bool {
    groups.iter().any(|g| g.file == UnifiedFile::Photo)
}

/// A value for `WriteHolderRecord`, as its dictionary types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    Str(String),
    Byte(u8),
    Bytes(Vec<u8>),
}

/// Parses `pWriteData` against `pFileAddr`: the same groups, with a value
/// in place of each tag. Answers the record for `WriteHolderRecord`, by
/// D-Bus key. Value forms that are wrong here are -23, naming the field.
pub fn parse_write_data(text: &str, groups: &[FileGroup]) -> Result<Vec<(&'static str, RecordValue)>, NationalError> {
    let bad = |detail: String| NationalError::with(Code::BadArgument, format!("pWriteData: {detail}"));
    let invalid = |detail: String| NationalError::with(Code::InvalidData, detail);
    let Some(body) = text.strip_suffix('$') else {
        return Err(bad("must end with $, in the form of pFileAddr with values in place of tags".into()));
    };
    let written: Vec<&str> = body.split('$').collect();
    if written.len() != groups.len() {
        return Err(bad(format!("{} file groups, where pFileAddr has {}", written.len(), groups.len())));
    }
    let mut record = Vec::new();
    let (mut name, mut extension) = (None, None);
    for (group, text) in groups.iter().zip(written) {
        let Some(items) = text.strip_suffix('|') else {
            return Err(bad(format!("{}: a file group is FILE|value|…| (each field followed by |)", group.name)));
        };
        let mut parts = items.split('|');
        let file = parts.next().unwrap_or_default();
        if file_of(file) != Some(group.file) {
            return Err(bad(format!("{file:?} where pFileAddr has {}", group.name)));
        }
        let values: Vec<&str> = parts.collect();
        let expected = if group.file == UnifiedFile::Photo { 1 } else { group.tags.len() };
        if values.len() != expected {
            return Err(bad(format!("{}: {} values for {} items", group.name, values.len(), expected)));
        }
        let UnifiedFile::Records(id) = group.file else {
            let jpeg = hex::decode(values[0].trim())
                .map_err(|_| invalid(format!("{}: the photo is the JPEG in hex", group.name)))?;
            record.push((keys::PHOTO, RecordValue::Bytes(jpeg)));
            continue;
        };
        for (tag, value) in group.tags.iter().zip(values) {
            let Some(spec) = ElementSpec::find(id, *tag) else { continue };
            let field = spec.field;
            let key = field.key();
            let date = |v: &str| -> Result<String, NationalError> {
                let ok = v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(invalid(format!("{key}: a date is YYYYMMDD")));
                }
                Ok(format!("{}-{}-{}", &v[..4], &v[4..6], &v[6..]))
            };
            match (field, *tag) {
                (Field::Name, 0x4E) => extension = Some(value.to_owned()),
                (Field::Name, _) => name = Some(value.to_owned()),
                (Field::IssueDate | Field::ExpiryDate | Field::BirthDate, _) => {
                    record.push((key, RecordValue::Str(date(value)?)));
                }
                (Field::Nation, _) => {
                    let nation = value
                        .parse::<u8>()
                        .ok()
                        .filter(|_| value.len() == 2 && value.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| invalid(format!("{key}: two decimal digits, e.g. 01")))?;
                    record.push((key, RecordValue::Byte(nation)));
                }
                _ => record.push((key, RecordValue::Str(value.to_owned()))),
            }
        }
    }
    match (name, extension) {
        (Some(name), extension) => {
            let joined = name + extension.as_deref().unwrap_or_default();
            record.push((keys::NAME, RecordValue::Str(joined)));
        }
        (None, Some(_)) => {
            return Err(invalid("name: the extension (tag 4E) is written with the name (tag 09)".into()));
        }
        (None, None) => {}
    }
    Ok(record)
}

/// `iReadCardBas`'s eleven fields, each followed by `|`
/// (`card-profile.md` section 8.1, `unified-interface.md` section 3).
pub fn bas_line(card: &CardValues, terminal_device: &str) -> String {
    let compact = |key: &str| card.get(key).replace('-', "");
    let card_number: String = card.get(keys::CARD_NUMBER).chars().take(9).collect();
    let terminal_number = match card.get(keys::TERMINAL_NUMBER) {
        "" => "000000000000",
        n => n,
    };
    let fields = [
        card.get(keys::REGION),
        card.get(keys::SSN),
        &card_number,
        card.get(keys::CARD_ID),
        card.get(keys::NAME),
        card.get(keys::ATR_HISTORICAL),
        card.get(keys::SPEC_VERSION),
        &compact(keys::ISSUE_DATE),
        &compact(keys::EXPIRY_DATE),
        terminal_number,
        terminal_device,
    ];
    fields.iter().map(|f| format!("{f}|")).collect()
}

/// Every element tag of the profile's record files, EF05 then EF06.
pub fn all_tags() -> impl Iterator<Item = &'static ElementSpec> {
    EF05_ELEMENTS.iter().chain(EF06_ELEMENTS.iter())
}

#[cfg(test)]
#[path = "tests/format.rs"]
mod tests;
