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
    /// A non-negative integer above `i64::MAX` (kept to report it as out of range).
    BigInt(u64),
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
        Ok(i64::try_from(v).map_or(Json::BigInt(v), Json::Int))
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
        Ok(Json::Object(fields))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// One step of a path: a field name or an array index.
#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

/// A JSON path as a linked list of steps, parent first; cheap to extend, rendered on demand.
#[derive(Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

impl<'a> Path<'a> {
    /// The document root, `$`.
    pub(crate) const ROOT: Path<'static> = Path {
        parent: None,
        seg: Seg::Root,
    };

    /// This path followed by a field.
    pub(crate) fn field(&'a self, name: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Seg::Field(name),
        }
    }

    /// This path followed by an array index.
    pub(crate) fn index(&'a self, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            fmt::Display::fmt(p, f)?;
        }
        match self.seg {
            Seg::Root => f.write_str("$"),
            Seg::Index(i) => write!(f, "[{i}]"),
            Seg::Field(name) if is_identifier(name) => write!(f, ".{name}"),
            Seg::Field(name) => write!(f, "[{}]", serde_json::Value::from(name)),
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
    fn keeps_duplicates_and_integer_kinds() {
        let j: Json =
            serde_json::from_str(r#"{"a": 1, "a": 2.0, "b": 18446744073709551615}"#).unwrap();
        let Json::Object(fields) = j else { panic!() };
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[0].1, Json::Int(1));
        assert_eq!(fields[1].1, Json::Float(2.0));
        assert_eq!(fields[2].1, Json::BigInt(u64::MAX));
    }
}
