//! Reading: the JSON tree into a [`Spec`], checking everything with the JSON path of each
//! problem. See `docs/spec-format.md` for the format.

use super::json::{Json, Path};
use super::{FORMAT, MAX_DEPTH, Registry, Spec, SpecError, SpecErrorKind as K};
use crate::error::Error;
use crate::graph::{Arg, Graph, Node, Task};
use crate::key::{Atom, Key};
use crate::value::Value;
use rustc_hash::FxHashMap;

/// Where a node sits in the file: `nodes[i]` (array form) or `nodes.name` (object form).
#[derive(Clone, Copy)]
enum At<'j> {
    Index(usize),
    Name(&'j str),
}

struct Src<'j> {
    key: Key,
    body: &'j Json,
    at: At<'j>,
}

/// The fields of one JSON object, checked for duplicates and unknown names.
struct Fields<'j>(&'j [(String, Json)]);

impl<'j> Fields<'j> {
    fn of(json: &'j Json, path: &Path, allowed: &[&str], what: &str) -> Result<Self, SpecError> {
        let Json::Object(items) = json else {
            return Err(wrong_type(path, what, json));
        };
        for (i, (name, _)) in items.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                let msg = format!(
                    "unknown field '{name}' in {what} (expected one of: {})",
                    allowed.join(", ")
                );
                return Err(SpecError::new(K::UnknownField, path.field(name), msg));
            }
            if items[..i].iter().any(|(n, _)| n == name) {
                return Err(SpecError::new(
                    K::DuplicateField,
                    path.field(name),
                    format!("field '{name}' given twice"),
                ));
            }
        }
        Ok(Fields(items))
    }

    fn get(&self, name: &str) -> Option<&'j Json> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The one field of `forms` that is present; none or several is an error.
    fn form(
        &self,
        path: &Path,
        forms: &[&'static str],
        what: &str,
    ) -> Result<&'static str, SpecError> {
        let present: Vec<&'static str> = forms
            .iter()
            .copied()
            .filter(|f| self.get(f).is_some())
            .collect();
        match present[..] {
            [one] => Ok(one),
            [] => Err(SpecError::new(
                K::AmbiguousNode,
                path,
                format!("{what} needs one of the fields {}", forms.join(", ")),
            )),
            _ => Err(SpecError::new(
                K::AmbiguousNode,
                path,
                format!("{what} has several of the fields {}", present.join(", ")),
            )),
        }
    }
}

#[cold]
fn wrong_type(path: &Path, expected: &str, got: &Json) -> SpecError {
    SpecError::new(
        K::WrongType,
        path,
        format!("expected {expected}, got {}", got.describe()),
    )
}

/// Reads a whole spec document.
pub(super) fn read(json: &Json, reg: &Registry) -> Result<Spec, SpecError> {
    let root = Path::ROOT;
    let top = Fields::of(
        json,
        &root,
        &["format", "description", "nodes", "outputs"],
        "a spec (the top-level object)",
    )?;
    if let Some(f) = top.get("format") {
        match f {
            Json::Str(s) if s == FORMAT => {}
            Json::Str(s) => {
                return Err(SpecError::new(
                    K::UnknownFormat,
                    root.field("format"),
                    format!("unknown format '{s}' (this reader knows '{FORMAT}')"),
                ));
            }
            other => return Err(wrong_type(&root.field("format"), "a string", other)),
        }
    }
    let description = match top.get("description") {
        None => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(other) => return Err(wrong_type(&root.field("description"), "a string", other)),
    };
    let Some(nodes_json) = top.get("nodes") else {
        return Err(SpecError::new(
            K::MissingField,
            root,
            "a spec needs a 'nodes' field",
        ));
    };
    let nodes_path = root.field("nodes");
    let srcs = collect_keys(nodes_json, &nodes_path)?;
    let reader = Reader::new(reg, &srcs, &nodes_path)?;
    let mut graph_nodes = Vec::with_capacity(srcs.len());
    for src in &srcs {
        let path = reader.node_path(src.at);
        let node = reader.node(src, &path)?;
        graph_nodes.push((src.key.clone(), node));
    }
    let graph: Graph = graph_nodes.into_iter().collect();
    let outputs = match top.get("outputs") {
        None => Vec::new(),
        Some(json) => reader.outputs(json, &root.field("outputs"))?,
    };
    crate::plan::Plan::validate(&graph).map_err(|e| reader.graph_error(e))?;
    Ok(Spec {
        graph,
        outputs,
        description,
    })
}

/// First pass: every node's key and body, with duplicate keys reported.
fn collect_keys<'j>(nodes: &'j Json, path: &Path) -> Result<Vec<Src<'j>>, SpecError> {
    match nodes {
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, body) in items.iter().enumerate() {
                let p = path.index(i);
                let Json::Object(fields) = body else {
                    return Err(wrong_type(&p, "a node object", body));
                };
                let Some((_, k)) = fields.iter().find(|(n, _)| n == "key") else {
                    return Err(SpecError::new(
                        K::MissingField,
                        p,
                        "a node needs a 'key' field",
                    ));
                };
                out.push(Src {
                    key: key(k, &p.field("key"))?,
                    body,
                    at: At::Index(i),
                });
            }
            Ok(out)
        }
        Json::Object(fields) => Ok(fields
            .iter()
            .map(|(name, body)| Src {
                key: Key::from(name.as_str()),
                body,
                at: At::Name(name),
            })
            .collect()),
        other => Err(wrong_type(
            path,
            "an array of nodes or an object of keys to nodes",
            other,
        )),
    }
}

struct Reader<'r, 'p> {
    reg: &'r Registry,
    /// Every key of the file and the position of its node.
    keys: FxHashMap<Key, At<'r>>,
    nodes_path: &'p Path<'p>,
}

impl<'r, 'p> Reader<'r, 'p> {
    fn new(
        reg: &'r Registry,
        srcs: &[Src<'r>],
        nodes_path: &'p Path<'p>,
    ) -> Result<Self, SpecError> {
        let mut keys = FxHashMap::with_capacity_and_hasher(srcs.len(), Default::default());
        let mut reader = Reader {
            reg,
            keys: FxHashMap::default(),
            nodes_path,
        };
        for src in srcs {
            if let Some(first) = keys.insert(src.key.clone(), src.at) {
                let here = reader.node_path(src.at);
                let first = reader.node_path(first).to_string();
                return Err(SpecError::new(
                    K::DuplicateKey,
                    here,
                    format!("duplicate key {} (first at {first})", src.key),
                ));
            }
        }
        reader.keys = keys;
        Ok(reader)
    }

    fn node_path<'s>(&'s self, at: At<'s>) -> Path<'s> {
        match at {
            At::Index(i) => self.nodes_path.index(i),
            At::Name(n) => self.nodes_path.field(n),
        }
    }

    fn node(&self, src: &Src<'_>, path: &Path) -> Result<Node, SpecError> {
        let allowed: &[&str] = match src.at {
            At::Index(_) => &["key", "literal", "alias", "op", "args"],
            At::Name(_) => &["literal", "alias", "op", "args"],
        };
        let contents = match src.body {
            Json::Object(fields) => fields
                .iter()
                .filter(|(n, _)| n != "key")
                .map(|(_, v)| v.depth())
                .max()
                .unwrap_or(0),
            body => body.depth(),
        };
        if contents > MAX_DEPTH {
            let msg = format!("node {} nests deeper than {MAX_DEPTH} JSON levels", src.key);
            return Err(SpecError::new(K::TooLarge, path, msg));
        }
        if matches!(src.at, At::Name(_)) && !matches!(src.body, Json::Object(_)) {
            return Ok(Node::Literal(value(src.body, path)?)); // the shorthand `"x": 1`
        }
        let f = Fields::of(src.body, path, allowed, "a node")?;
        let owner = &src.key;
        match f.form(path, &["literal", "alias", "op"], "a node")? {
            "literal" => {
                if f.get("args").is_some() {
                    return Err(SpecError::new(
                        K::AmbiguousNode,
                        path.field("args"),
                        "'args' belongs to a node with 'op'",
                    ));
                }
                Ok(Node::Literal(value(
                    f.get("literal").expect("present"),
                    &path.field("literal"),
                )?))
            }
            "alias" => {
                if f.get("args").is_some() {
                    return Err(SpecError::new(
                        K::AmbiguousNode,
                        path.field("args"),
                        "'args' belongs to a node with 'op'",
                    ));
                }
                let p = path.field("alias");
                Ok(Node::Alias(self.reference(
                    f.get("alias").expect("present"),
                    &p,
                    owner,
                )?))
            }
            _ => Ok(Node::Task(self.task(&f, path, owner)?)),
        }
    }

    fn task(&self, f: &Fields<'_>, path: &Path, owner: &Key) -> Result<Task, SpecError> {
        let op_path = path.field("op");
        let name = match f.get("op").expect("present") {
            Json::Str(s) => s,
            other => return Err(wrong_type(&op_path, "an op name", other)),
        };
        let Some(entry) = self.reg.get(name) else {
            return Err(SpecError::new(
                K::UnknownOp,
                op_path,
                format!("unknown op '{name}' in node {owner}"),
            ));
        };
        let args_path = path.field("args");
        let items: &[Json] = match f.get("args") {
            None => &[],
            Some(Json::Array(items)) => items,
            Some(other) => return Err(wrong_type(&args_path, "an array of arguments", other)),
        };
        if !entry.arity.accepts(items.len()) {
            let msg = format!(
                "op '{name}' takes {} arguments, got {} (in node {owner})",
                entry.arity,
                items.len()
            );
            return Err(SpecError::new(K::Arity, args_path, msg));
        }
        let mut args = Vec::with_capacity(items.len());
        for (i, a) in items.iter().enumerate() {
            args.push(self.arg(a, &args_path.index(i), owner)?);
        }
        Ok(Task {
            op: entry.op.clone(),
            args,
        })
    }

    fn arg(&self, json: &Json, path: &Path, owner: &Key) -> Result<Arg, SpecError> {
        match json {
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, a) in items.iter().enumerate() {
                    out.push(self.arg(a, &path.index(i), owner)?);
                }
                Ok(Arg::List(out))
            }
            Json::Object(_) => self.arg_object(json, path, owner),
            scalar => Ok(Arg::Lit(value(scalar, path)?)),
        }
    }

    fn arg_object(&self, json: &Json, path: &Path, owner: &Key) -> Result<Arg, SpecError> {
        let all = Fields::of(
            json,
            path,
            &["ref", "op", "args", "lit", "float"],
            "an argument",
        )?;
        let form = all.form(path, &["ref", "op", "lit", "float"], "an argument object")?;
        let allowed: &[&str] = if form == "op" {
            &["op", "args"]
        } else {
            &[form]
        };
        let f = Fields::of(json, path, allowed, "this argument")?;
        match form {
            "ref" => Ok(Arg::Ref(self.reference(
                f.get("ref").expect("present"),
                &path.field("ref"),
                owner,
            )?)),
            "op" => Ok(Arg::Task(Box::new(self.task(&f, path, owner)?))),
            "lit" => Ok(Arg::Lit(value(
                f.get("lit").expect("present"),
                &path.field("lit"),
            )?)),
            _ => Ok(Arg::Lit(value(json, path)?)),
        }
    }

    /// A key that must name a node of the file.
    fn reference(&self, json: &Json, path: &Path, owner: &Key) -> Result<Key, SpecError> {
        let k = key(json, path)?;
        if !self.keys.contains_key(&k) {
            return Err(SpecError::new(
                K::MissingKey,
                path,
                format!("missing key {k} (referenced by {owner})"),
            ));
        }
        Ok(k)
    }

    fn outputs(&self, json: &Json, path: &Path) -> Result<Vec<Key>, SpecError> {
        let Json::Array(items) = json else {
            return Err(wrong_type(path, "an array of keys", json));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, k) in items.iter().enumerate() {
            let p = path.index(i);
            let k = key(k, &p)?;
            if !self.keys.contains_key(&k) {
                return Err(SpecError::new(
                    K::MissingKey,
                    p,
                    format!("requested output {k} is not a node"),
                ));
            }
            out.push(k);
        }
        Ok(out)
    }

    /// A whole-graph check failure, placed at the node it concerns.
    fn graph_error(&self, e: Error) -> SpecError {
        let at = |k: &Key| self.keys.get(k).map(|&at| self.node_path(at).to_string());
        match &e {
            Error::Cycle { path } => {
                let where_ = path
                    .first()
                    .and_then(at)
                    .unwrap_or_else(|| self.nodes_path.to_string());
                SpecError::new(K::Cycle, where_, e.to_string())
            }
            // References were checked as they were read, so what is left is a plan limit.
            _ => {
                let kind = match e.kind() {
                    crate::ErrorKind::MissingKey => K::MissingKey,
                    _ => K::TooLarge,
                };
                SpecError::new(kind, self.nodes_path, e.to_string())
            }
        }
    }
}

/// A key: `"name"` or `["name", atom, ...]` with integer or string atoms.
pub(super) fn key(json: &Json, path: &Path) -> Result<Key, SpecError> {
    let bad = |msg: String| SpecError::new(K::BadKey, path, msg);
    match json {
        Json::Str(s) => Ok(Key::from(s.as_str())),
        Json::Array(items) => {
            let Some(Json::Str(name)) = items.first() else {
                return Err(bad("a tuple key starts with its name, a string".into()));
            };
            let mut atoms = Vec::with_capacity(items.len() - 1);
            for (i, a) in items[1..].iter().enumerate() {
                atoms.push(match a {
                    Json::Int(v) => Atom::Int(*v),
                    Json::Str(s) => Atom::Str(s.as_str().into()),
                    other => {
                        return Err(bad(format!(
                            "element {} of a tuple key is {}; atoms are integers or strings",
                            i + 1,
                            other.describe()
                        )));
                    }
                });
            }
            Ok(Key::from_parts(name.as_str().into(), atoms))
        }
        other => Err(bad(format!(
            "a key is a string or [name, atoms...], got {}",
            other.describe()
        ))),
    }
}

/// A literal value: JSON scalars and arrays, and `{"float": "nan" | "inf" | "-inf" | number}`.
pub(super) fn value(json: &Json, path: &Path) -> Result<Value, SpecError> {
    match json {
        Json::Null => Ok(Value::Unit),
        Json::Bool(b) => Ok(Value::Bool(*b)),
        Json::Int(i) => Ok(Value::Int(*i)),
        Json::BigInt(u) => Err(SpecError::new(
            K::BadValue,
            path,
            format!("integer {u} does not fit a 64-bit signed integer"),
        )),
        Json::Float(f) => Ok(Value::Float(*f)),
        Json::Str(s) => Ok(Value::from(s.as_str())),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                out.push(value(v, &path.index(i))?);
            }
            Ok(Value::List(out.into()))
        }
        Json::Object(_) => {
            let f = Fields::of(json, path, &["float"], "a literal value")?;
            let Some(x) = f.get("float") else {
                return Err(SpecError::new(
                    K::BadValue,
                    path,
                    "an object literal must be {\"float\": ...}",
                ));
            };
            special_float(x, &path.field("float"))
        }
    }
}

fn special_float(json: &Json, path: &Path) -> Result<Value, SpecError> {
    let f = match json {
        Json::Int(i) => *i as f64,
        Json::BigInt(digits) => digits.parse().unwrap_or(f64::NAN),
        Json::Float(f) => *f,
        Json::Str(s) => match s.to_ascii_lowercase().as_str() {
            "nan" => f64::NAN,
            "inf" | "+inf" | "infinity" => f64::INFINITY,
            "-inf" | "-infinity" => f64::NEG_INFINITY,
            _ => {
                return Err(SpecError::new(
                    K::BadValue,
                    path,
                    format!("unknown float '{s}' (expected nan, inf or -inf)"),
                ));
            }
        },
        other => {
            return Err(wrong_type(
                path,
                "a number or \"nan\", \"inf\", \"-inf\"",
                other,
            ));
        }
    };
    Ok(Value::Float(f))
}
