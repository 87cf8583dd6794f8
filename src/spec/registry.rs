//! The op registry: the ops a spec file may name, with their arities.

use super::builtins;
use super::limits::Limits;
use crate::array::ArrayContext;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::Op;
use indexmap::IndexMap;
use std::fmt;
use std::sync::OnceLock;

/// How many arguments an op accepts: at least `min`, at most `max` (`None`: no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arity {
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments, or `None` for any number.
    pub max: Option<usize>,
}

impl Arity {
    /// Exactly `n` arguments.
    pub const fn exactly(n: usize) -> Arity {
        Arity {
            min: n,
            max: Some(n),
        }
    }

    /// `min` arguments or more.
    pub const fn at_least(min: usize) -> Arity {
        Arity { min, max: None }
    }

    /// Between `min` and `max` arguments, inclusive.
    pub const fn between(min: usize, max: usize) -> Arity {
        Arity {
            min,
            max: Some(max),
        }
    }

    /// Whether `n` arguments are accepted.
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(m) if m == self.min => write!(f, "{m}"),
            Some(m) => write!(f, "{} to {m}", self.min),
            None => write!(f, "{} or more", self.min),
        }
    }
}

/// One registered op: the op itself, its arity and a one-line description.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The op (its name is the name spec files use).
    pub op: Op,
    /// The arguments it accepts, checked when a spec file is read.
    pub arity: Arity,
    /// What it does, in one line.
    pub doc: &'static str,
}

/// Ops by name, for reading and writing spec files.
///
/// [`Registry::builtins`] is the shared registry of builtin ops; a graph built with its ops
/// (see [`builtin`]) writes to JSON and reads back equal, since ops compare
/// by identity and the registry hands out the same op every time. Extend a copy with
/// [`Registry::register`] to let spec files name your own ops.
///
/// ```
/// use blockwork::spec::{Arity, Registry};
/// use blockwork::Op;
/// let mut reg = Registry::with_builtins();
/// reg.register(Op::typed("twice", |x: i64| x * 2), Arity::exactly(1), "doubles an int")?;
/// assert!(reg.get("twice").is_some() && reg.get("add").is_some());
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Registry {
    ops: IndexMap<String, Entry>,
    limits: Limits,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// An empty registry that records `limits` (see [`Registry::limits`]).
    pub(super) fn with_limits(limits: Limits) -> Registry {
        Registry {
            ops: IndexMap::new(),
            limits,
        }
    }

    /// The shared registry of builtin ops (built once, on first use).
    ///
    /// Its `array.*` ops make arrays in a context whose buffer pool keeps no freed blocks, so
    /// that nothing is held for the life of the process; to recycle block storage, read spec
    /// files with a registry of your own context ([`Registry::with_arrays`]).
    pub fn builtins() -> &'static Registry {
        static BUILTINS: OnceLock<Registry> = OnceLock::new();
        BUILTINS.get_or_init(|| {
            builtins::registry(&ArrayContext::with_pool_limit(0), Limits::default())
        })
    }

    /// The builtin ops, with `array.*` ops that make their arrays in `arrays` (and recycle
    /// block storage through its pool). Its array ops are its own, not the shared
    /// registry's: write and read the graphs built with them through this registry.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::spec::{Registry, Spec};
    /// use blockwork::{Executor, Sequential, Value};
    /// let ctx = ArrayContext::new();
    /// let reg = Registry::with_arrays(ctx.clone());
    /// let text = r#"{"nodes": {"x": {"op": "array.ones", "args": [[4], 2]},
    ///                "s": {"op": "array.sum", "args": [{"ref": "x"}]},
    ///                "out": {"op": "array.compute", "args": [{"ref": "s"}]}}}"#;
    /// let spec = Spec::from_slice_with(text.as_bytes(), &reg)?;
    /// assert_eq!(Sequential::new().get(spec.graph(), "out")?, Value::Float(4.0));
    /// assert!(ctx.pool().stats().held_bytes > 0); // the result's block, kept for reuse
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_arrays(arrays: ArrayContext) -> Registry {
        builtins::registry(&arrays, Limits::default())
    }

    /// A registry of the builtin ops that enforce `limits` instead of the defaults. Its ops
    /// are new ops (a graph built with them writes to JSON only through this registry).
    ///
    /// ```
    /// use blockwork::spec::{Limits, Registry};
    /// let reg = Registry::builtins_with_limits(Limits { max_value_bytes: 1 << 20 });
    /// assert_eq!(reg.limits().max_value_bytes, 1 << 20);
    /// assert_eq!(reg.len(), Registry::builtins().len());
    /// ```
    pub fn builtins_with_limits(limits: Limits) -> Registry {
        builtins::registry(&ArrayContext::with_pool_limit(0), limits)
    }

    /// The builtin ops enforcing `limits`, with `array.*` ops making arrays in `arrays`.
    pub fn with_arrays_and_limits(arrays: ArrayContext, limits: Limits) -> Registry {
        builtins::registry(&arrays, limits)
    }

    /// The limits its builtin ops enforce (the defaults for a registry made empty).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A copy of the builtin registry to extend; its ops are the same ops as the shared one's.
    pub fn with_builtins() -> Registry {
        Registry::builtins().clone()
    }

    /// Adds an op under its own name. A name already present is a
    /// [`DuplicateKey`](ErrorKind::DuplicateKey) error.
    pub fn register(&mut self, op: Op, arity: Arity, doc: &'static str) -> Result<&mut Self> {
        let name = op.name().to_owned();
        if self.ops.contains_key(&name) {
            return Err(Error::new(
                ErrorKind::DuplicateKey,
                format!("op '{name}' is already registered"),
            ));
        }
        self.ops.insert(name, Entry { op, arity, doc });
        Ok(self)
    }

    /// The entry for a name.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.ops.get(name)
    }

    /// Whether `op` itself (not just an op of the same name) is registered.
    pub fn contains(&self, op: &Op) -> bool {
        self.get(op.name()).is_some_and(|e| e.op.same(op))
    }

    /// Entries in registration order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Entry> {
        self.ops.values()
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the registry is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The builtin op of that name (the same op each call, so graphs built with it round-trip).
///
/// ```
/// use blockwork::spec::builtin;
/// use blockwork::Value;
/// let add = builtin("add").unwrap();
/// assert_eq!(add.call(&[Value::Int(2), Value::Float(0.5)]).unwrap(), Value::Float(2.5));
/// assert!(builtin("no such op").is_none());
/// ```
pub fn builtin(name: &str) -> Option<Op> {
    Registry::builtins().get(name).map(|e| e.op.clone())
}
