//! Typed cell values: [`Value`], its [`DataType`], and [`Timestamp`].
//!
//! Integers stay integers and floats stay floats in every back-end (the Python
//! DSI stored both as text); timestamps are UTC with microsecond precision.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::blob::BlobRef;
use crate::error::{Error, Result};

/// The type of a column. Every non-null [`Value`] has exactly one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// `true` / `false`.
    Bool,
    /// Signed 64-bit integer.
    Int,
    /// IEEE 754 double.
    Float,
    /// UTF-8 text.
    Text,
    /// Raw bytes stored inline.
    Bytes,
    /// A reference to content-addressed blob content stored beside the rows.
    Blob,
    /// A UTC instant with microsecond precision.
    Timestamp,
}

impl DataType {
    /// Every data type, in declaration order.
    pub const ALL: [DataType; 7] = [
        DataType::Bool,
        DataType::Int,
        DataType::Float,
        DataType::Text,
        DataType::Bytes,
        DataType::Blob,
        DataType::Timestamp,
    ];

    /// The lower-case name used in listings and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int => "int",
            DataType::Float => "float",
            DataType::Text => "text",
            DataType::Bytes => "bytes",
            DataType::Blob => "blob",
            DataType::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DataType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DataType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::InvalidData(format!("unknown data type '{s}'")))
    }
}

/// A UTC instant with microsecond precision (microseconds since the Unix epoch).
///
/// Serialised as RFC 3339 text ([`Timestamp::to_rfc3339`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

impl Timestamp {
    /// From microseconds since 1970-01-01T00:00:00Z.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// From a `time` date-time (sub-microsecond digits are truncated).
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        let nanos = dt.unix_timestamp_nanos();
        // i64 microseconds cover ±292,000 years; `time` covers ±9999 years.
        Timestamp((nanos.div_euclid(1000)) as i64)
    }

    /// As a `time` date-time in UTC.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 text with exactly six fractional digits and `Z`, e.g.
    /// `2026-11-29T07:15:48.123456Z`. Lexicographic order equals time order
    /// for years 0000–9999.
    pub fn to_rfc3339(self) -> String {
        let dt = self.to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.microsecond()
        )
    }

    /// Parses RFC 3339 text (any offset; converted to UTC).
    pub fn parse_rfc3339(text: &str) -> Result<Self> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| Error::InvalidData(format!("invalid timestamp '{text}': {e}")))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// One cell of a [`Table`](crate::Table).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent value; allowed in every column.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    Text(String),
    /// Inline bytes.
    Bytes(Vec<u8>),
    /// A reference to blob content.
    Blob(BlobRef),
    /// A UTC instant.
    Timestamp(Timestamp),
}

impl Value {
    /// The value's type, or `None` for [`Value::Null`].
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => DataType::Bool,
            Value::Int(_) => DataType::Int,
            Value::Float(_) => DataType::Float,
            Value::Text(_) => DataType::Text,
            Value::Bytes(_) => DataType::Bytes,
            Value::Blob(_) => DataType::Blob,
            Value::Timestamp(_) => DataType::Timestamp,
        })
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text, if this is [`Value::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The blob reference, if this is [`Value::Blob`].
    pub fn as_blob(&self) -> Option<&BlobRef> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// A JSON rendering: text, numbers and booleans as themselves, bytes as
    /// lower-case hex, blobs as `{"sha256": …, "len": …}`, timestamps as RFC 3339.
    /// Non-finite floats become strings (`"NaN"`, `"inf"`, `"-inf"`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(f.to_string())),
            Value::Text(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(hex::encode(b)),
            Value::Blob(b) => serde_json::json!({"sha256": b.sha256_hex(), "len": b.len()}),
            Value::Timestamp(t) => J::String(t.to_rfc3339()),
        }
    }
}

impl fmt::Display for Value {
    /// Human rendering used in tables: nulls are empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::Blob(b) => write!(f, "{b}"),
            Value::Timestamp(t) => write!(f, "{t}"),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<BlobRef> for Value {
    fn from(v: BlobRef) -> Self {
        Value::Blob(v)
    }
}
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Timestamp(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_text_round_trip() {
        let t = Timestamp::from_micros(1_796_000_000_123_456);
        let text = t.to_rfc3339();
        assert_eq!(text, "2026-11-30T00:53:20.123456Z");
        assert_eq!(Timestamp::parse_rfc3339(&text).unwrap(), t);
        let before_epoch = Timestamp::from_micros(-1);
        assert_eq!(before_epoch.to_rfc3339(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            Timestamp::parse_rfc3339(&before_epoch.to_rfc3339()).unwrap(),
            before_epoch
        );
    }

    #[test]
    fn timestamp_parse_rejects_garbage() {
        let err = Timestamp::parse_rfc3339("yesterday").unwrap_err();
        assert!(err.to_string().contains("'yesterday'"), "{err}");
    }

    #[test]
    fn data_type_names_round_trip() {
        for t in DataType::ALL {
            assert_eq!(t.as_str().parse::<DataType>().unwrap(), t);
        }
        assert!("varchar".parse::<DataType>().is_err());
    }

    #[test]
    fn json_rendering_keeps_numbers_numeric() {
        assert_eq!(Value::Int(7).to_json(), serde_json::json!(7));
        assert_eq!(Value::Float(0.5).to_json(), serde_json::json!(0.5));
        assert_eq!(Value::Float(f64::NAN).to_json(), serde_json::json!("NaN"));
        assert_eq!(Value::Bytes(vec![0xab]).to_json(), serde_json::json!("ab"));
    }
}
