//! Values and keys as JSON text outside a spec file: literals as spec files write them, keys
//! as command lines name them.

use super::json::{self, Json, Path};
use super::{SpecError, SpecErrorKind, read, write};
use crate::key::Key;
use crate::value::Value;

/// Most bytes of a string that an error message quotes.
pub(super) const QUOTED_BYTES: usize = 4096;

/// A string for an error message: its debug text (quoted, control characters escaped), cut
/// after [`QUOTED_BYTES`] bytes with its full length noted, so that a message about a value
/// of a gigabyte is not gigabytes long itself.
pub(super) fn quoted(s: &str) -> String {
    if s.len() <= QUOTED_BYTES {
        return format!("{s:?}");
    }
    let cut = (0..=QUOTED_BYTES)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{:?}... ({} bytes in all)", &s[..cut], s.len())
}

/// A value as JSON, as spec files write literals: `null` for unit, numbers, strings, arrays
/// for lists, and `{"float": "nan" | "inf" | "-inf"}` for floats JSON cannot hold. Opaque
/// values, and lists nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH), have no JSON form.
///
/// ```
/// use blockwork::spec::value_to_json;
/// use blockwork::Value;
/// let v = Value::list([Value::Int(1), Value::Float(f64::NAN), Value::from("a")]);
/// assert_eq!(value_to_json(&v).unwrap().to_string(), r#"[1,{"float":"nan"},"a"]"#);
/// ```
pub fn value_to_json(v: &Value) -> Result<serde_json::Value, SpecError> {
    write::value_at(v, &Path::ROOT, 1)
}

/// A key as written on a command line: JSON (`"x"` or `["x", 0, 1]`) when the text starts
/// with `"` or `[`, otherwise the text itself as a string key.
///
/// ```
/// use blockwork::spec::parse_key;
/// use blockwork::Key;
/// assert_eq!(parse_key("total").unwrap(), Key::from("total"));
/// assert_eq!(parse_key(r#"["x", 0, "a"]"#).unwrap(), Key::tuple("x", [0.into(), "a".into()] as [blockwork::Atom; 2]));
/// assert!(parse_key("[1, 2]").is_err());
/// ```
pub fn parse_key(text: &str) -> Result<Key, SpecError> {
    if !(text.starts_with('[') || text.starts_with('"')) {
        return Ok(Key::from(text));
    }
    let json: Json = json::parse(text.as_bytes()).map_err(|e| {
        SpecError::new(
            SpecErrorKind::BadKey,
            Path::ROOT,
            format!("not a JSON key: {e}"),
        )
    })?;
    read::key(&json, &Path::ROOT)
}

/// A key as the text that [`parse_key`] reads back as the same key: a string key as itself,
/// unless it starts with `[` or `"`, in which case as a JSON string; a tuple key as a JSON
/// array. `blockwork run` names its outputs this way, so that a string key that looks like a
/// tuple (`"('x', 0)"`) and the tuple key `('x', 0)` never print alike.
///
/// ```
/// use blockwork::spec::{key_text, parse_key};
/// use blockwork::Key;
/// let tuple = Key::from(("x", 0));
/// assert_eq!(key_text(&tuple), r#"["x",0]"#);
/// assert_eq!(key_text(&Key::from("total")), "total");
/// assert_eq!(key_text(&Key::from(r#"["x",0]"#)), r#""[\"x\",0]""#);
/// for k in [tuple, Key::from("('x', 0)"), Key::from(r#"["x",0]"#), Key::from("\"q")] {
///     assert_eq!(parse_key(&key_text(&k)).unwrap(), k);
/// }
/// ```
pub fn key_text(key: &Key) -> String {
    let n = key.name();
    if !(key.is_tuple() || n.starts_with('[') || n.starts_with('"')) {
        return n.to_string();
    }
    write::key_json(key).to_string()
}

/// A value as JSON text, in the form of [`value_to_json`] but at any nesting depth (written
/// with an explicit stack), and only if it fits `max_bytes` as [`Value::deep_size`] measures
/// it (a shared sublist counts each time it is written). Opaque values are written as a
/// string of their debug text (`"<type (n bytes)>"`). A value over the budget is a
/// [`TooLarge`](crate::ErrorKind::TooLarge) error, before anything is written.
///
/// ```
/// use blockwork::spec::value_json_text;
/// use blockwork::{ErrorKind, Value};
/// let v = Value::list([Value::Int(1), Value::Float(f64::INFINITY), Value::list([Value::from("a")])]);
/// assert_eq!(value_json_text(&v, 1 << 20).unwrap(), r#"[1,{"float":"inf"},["a"]]"#);
/// assert_eq!(value_json_text(&v, 10).unwrap_err().kind(), ErrorKind::TooLarge);
/// ```
pub fn value_json_text(v: &Value, max_bytes: usize) -> crate::Result<String> {
    if v.deep_size(max_bytes).is_none() {
        return Err(crate::Error::new(
            crate::ErrorKind::TooLarge,
            format!("a value over the budget of {max_bytes} bytes cannot be printed"),
        ));
    }
    let mut out = String::new();
    write::value_text(v, &mut out);
    Ok(out)
}
