//! A JSON tree that keeps what the spec reader needs and `serde_json::Value` drops: the
//! order and duplicates of object fields, and integers apart from floats. Paths into it
//! (`$.nodes[3].args[0]`) are built as a linked list on the stack and rendered only when an
//! error is reported.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer literal outside the `i64` range, as written (kept to report it as out of
    /// range; serde would read the ones beyond `u64` as floats).
    BigInt(String),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    /// Fields in file order, duplicates kept.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Nesting: 0 for scalars, 1 + the deepest element for arrays and objects.
    pub(crate) fn depth(&self) -> usize {
        match self {
            Json::Array(items) => 1 + items.iter().map(Json::depth).max().unwrap_or(0),
            Json::Object(fields) => 1 + fields.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// What kind of JSON value this is, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::BigInt(_) => "an integer",
            Json::Float(_) => "a float",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(i64::try_from(v).map_or(Json::BigInt(v.to_string()), Json::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        if let [(k, Json::Str(digits))] = fields.as_slice()
            && k == BIG_INT_MARK
        {
            return Ok(Json::BigInt(digits.clone()));
        }
        Ok(Json::Object(fields))
    }
}

/// The field name that [`mark_big_integers`] wraps an out-of-range integer literal in.
const BIG_INT_MARK: &str = "\u{0}bigint";

/// Parses JSON text, keeping integer literals outside the `i64` range as [`Json::BigInt`]
/// rather than as the floats serde would make of those beyond `u64`.
pub(crate) fn parse(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    match mark_big_integers(bytes) {
        Some(marked) => serde_json::from_slice(&marked),
        None => serde_json::from_slice(bytes),
    }
}

/// The text with each integer literal (no fraction, no exponent) outside the `i64` range
/// replaced by `{"\u0000bigint": "<digits>"}`, which the visitor turns back into
/// [`Json::BigInt`]; `None` when there is none. One pass over the bytes, skipping strings.
fn mark_big_integers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let token = &bytes[start..i];
                if is_big_integer(token) {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 64));
                    o.extend_from_slice(&bytes[copied..start]);
                    o.extend_from_slice(br#"{"\u0000bigint":""#);
                    o.extend_from_slice(token);
                    o.extend_from_slice(br#""}"#);
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.map(|mut o| {
        o.extend_from_slice(&bytes[copied..]);
        o
    })
}

/// Whether `token` is a valid JSON integer literal that does not fit `i64`.
fn is_big_integer(token: &[u8]) -> bool {
    let digits = token.strip_prefix(b"-").unwrap_or(token);
    let valid = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || digits.len() == 1);
    valid
        && std::str::from_utf8(token)
            .ok()
            .is_some_and(|t| t.parse::<i64>().is_err())
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// One step of a path: a field name or an array index.
#[derive(Clone, Copy)]
pub(crate) enum PathStep<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

/// A JSON path as a linked list of steps, parent first; cheap to extend, rendered on demand.
#[derive(Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: PathStep<'a>,
}

impl<'a> Path<'a> {
    /// The document root, `$`.
    pub(crate) const ROOT: Path<'static> = Path {
        parent: None,
        seg: PathStep::Root,
    };

    /// This path followed by a field.
    pub(crate) fn field(&'a self, name: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: PathStep::Field(name),
        }
    }

    /// This path followed by an array index.
    pub(crate) fn index(&'a self, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: PathStep::Index(i),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            fmt::Display::fmt(p, f)?;
        }
        match self.seg {
            PathStep::Root => f.write_str("$"),
            PathStep::Index(i) => write!(f, "[{i}]"),
            PathStep::Field(name) if is_identifier(name) => write!(f, ".{name}"),
            PathStep::Field(name) => write!(f, "[{}]", serde_json::Value::from(name)),
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_jsonpath() {
        let root = Path::ROOT;
        let nodes = root.field("nodes");
        let third = nodes.index(3);
        let odd = third.field("a b");
        assert_eq!(odd.to_string(), "$.nodes[3][\"a b\"]");
    }

    #[test]
    fn integers_beyond_u64_stay_integers() {
        let text = br#"{"a": [100000000000000000000, -9223372036854775809, -9223372036854775808,
            1e20, 2.0, "123456789012345678901234", 0], "b\"1": 99999999999999999999999}"#;
        let Json::Object(fields) = parse(text).unwrap() else {
            panic!()
        };
        let Json::Array(a) = &fields[0].1 else {
            panic!()
        };
        assert_eq!(a[0], Json::BigInt("100000000000000000000".into()));
        assert_eq!(a[1], Json::BigInt("-9223372036854775809".into()));
        assert_eq!(a[2], Json::Int(i64::MIN));
        assert_eq!(a[3], Json::Float(1e20));
        assert_eq!(a[4], Json::Float(2.0));
        assert_eq!(a[5], Json::Str("123456789012345678901234".into()));
        assert_eq!(a[6], Json::Int(0));
        assert_eq!(
            fields[1],
            (
                "b\"1".into(),
                Json::BigInt("99999999999999999999999".into())
            )
        );
        // Files without such literals parse as before, and bad JSON stays a syntax error.
        assert_eq!(
            parse(b"[1, 2]").unwrap(),
            Json::Array(vec![Json::Int(1), Json::Int(2)])
        );
        assert!(parse(b"[012345678901234567890123]").is_err());
    }

    #[test]
    fn keeps_duplicates_and_integer_kinds() {
        let j: Json =
            serde_json::from_str(r#"{"a": 1, "a": 2.0, "b": 18446744073709551615}"#).unwrap();
        let Json::Object(fields) = j else { panic!() };
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].1, Json::Int(1));
        assert_eq!(fields[1].1, Json::Float(2.0));
        assert_eq!(fields[2].1, Json::BigInt(u64::MAX.to_string()));
    }
}
