//! Keys: the names of graph nodes.
//!
//! A key is a string (`"x"`) or a tuple of a name and atoms (`("x", 0, 1)`), as dask arrays
//! and bags name their blocks. Keys hash and compare by value, order strings before tuples,
//! and print the way dask prints them: `x` and `('x', 0, 1)`.

use std::fmt;
use std::sync::Arc;

/// One element of a tuple key after its name: an integer or a string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Atom {
    /// An integer position, such as a block index.
    Int(i64),
    /// A string tag.
    Str(Arc<str>),
}

impl From<i64> for Atom {
    fn from(v: i64) -> Self {
        Atom::Int(v)
    }
}
impl From<usize> for Atom {
    fn from(v: usize) -> Self {
        Atom::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<i32> for Atom {
    fn from(v: i32) -> Self {
        Atom::Int(v.into())
    }
}
impl From<&str> for Atom {
    fn from(v: &str) -> Self {
        Atom::Str(v.into())
    }
}

/// The name of a node in a [`Graph`](crate::Graph).
///
/// ```
/// use blockwork::Key;
/// let k = Key::tuple("x", [0, 1]);
/// assert_eq!(k.to_string(), "('x', 0, 1)");
/// assert_eq!(Key::from("y").to_string(), "y");
/// assert!(Key::from("y") < k); // names sort before tuples
/// ```
// `PartialEq` is written by hand only to order its comparisons; it is equivalent to the
// derived one, so the derived `Hash` agrees with it.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A plain string key.
    Name(Arc<str>),
    /// A tuple key: a name followed by atoms.
    Tuple(Arc<str>, Arc<[Atom]>),
}

impl Key {
    /// A tuple key from a name and atoms: `Key::tuple("x", [0, 1])` is `('x', 0, 1)`.
    pub fn tuple<A: Into<Atom>>(name: &str, atoms: impl IntoIterator<Item = A>) -> Key {
        Key::Tuple(name.into(), atoms.into_iter().map(Into::into).collect())
    }

    /// A tuple key whose atoms are all integers, the common case for block indices.
    pub fn block(name: &Arc<str>, index: &[usize]) -> Key {
        Key::Tuple(name.clone(), index.iter().map(|&i| Atom::from(i)).collect())
    }

    /// The name: the whole string key, or the first element of a tuple key.
    pub fn name(&self) -> &str {
        match self {
            Key::Name(n) | Key::Tuple(n, _) => n,
        }
    }

    /// The atoms after the name (empty for a string key).
    pub fn atoms(&self) -> &[Atom] {
        match self {
            Key::Name(_) => &[],
            Key::Tuple(_, a) => a,
        }
    }
}

/// Equality compares the atoms first (they usually differ between keys of one collection)
/// and short-cuts names that share an allocation.
impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Name(a), Key::Name(b)) => same_str(a, b),
            (Key::Tuple(a, x), Key::Tuple(b, y)) => (Arc::ptr_eq(x, y) || x == y) && same_str(a, b),
            _ => false,
        }
    }
}

#[inline]
fn same_str(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a.as_bytes() == b.as_bytes()
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Name(s.into())
    }
}
impl From<String> for Key {
    fn from(s: String) -> Self {
        Key::Name(s.into())
    }
}
impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Key::Name(s.as_str().into())
    }
}
impl From<&Key> for Key {
    fn from(k: &Key) -> Self {
        k.clone()
    }
}
macro_rules! tuple_key_from {
    ($($a:ident),+) => {
        impl<$($a: Into<Atom>),+> From<(&str, $($a),+)> for Key {
            #[allow(non_snake_case)]
            fn from((name, $($a),+): (&str, $($a),+)) -> Self {
                Key::Tuple(name.into(), vec![$($a.into()),+].into())
            }
        }
    };
}
tuple_key_from!(A);
tuple_key_from!(A, B);
tuple_key_from!(A, B, C);
tuple_key_from!(A, B, C, D);

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Int(i) => write!(f, "{i}"),
            Atom::Str(s) => write!(f, "'{s}'"),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Name(n) => f.write_str(n),
            Key::Tuple(n, atoms) => {
                write!(f, "('{n}'")?;
                for a in atoms.iter() {
                    write!(f, ", {a}")?;
                }
                if atoms.is_empty() {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Name(n) => write!(f, "{n:?}"),
            Key::Tuple(..) => fmt::Display::fmt(self, f),
        }
    }
}
