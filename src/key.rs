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
/// use blockwork::{Atom, Key};
/// let k = Key::tuple("x", [0, 1]);
/// assert_eq!(k.to_string(), "('x', 0, 1)");
/// assert_eq!(Key::from("y").to_string(), "y");
/// assert!(Key::from("y") < k); // names sort before tuples
/// assert_eq!(k.name(), "x");
/// assert_eq!(k.atoms().collect::<Vec<_>>(), [Atom::Int(0), Atom::Int(1)]);
/// ```
///
/// A key is cheap to clone: a string key, and a tuple key of up to four integers that fit in
/// an `i32` (every block and partition key), hold no allocation of their own besides the
/// shared name; longer tuples share their atoms.
#[derive(Clone)]
pub struct Key(Repr);

/// The representation of a key. Every tuple whose atoms are at most [`SMALL`] integers that
/// fit in an `i32` is `Small`, any other tuple is `Tuple`: each key has one representation,
/// so equal keys have equal representations.
#[derive(Clone)]
enum Repr {
    Name(Arc<str>),
    Small(Arc<str>, SmallInts),
    Tuple(Arc<str>, Arc<[Atom]>),
}

/// Most atoms a key stores inline.
const SMALL: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
struct SmallInts {
    len: u8,
    v: [i32; SMALL],
}

impl SmallInts {
    #[inline]
    fn as_slice(&self) -> &[i32] {
        &self.v[..self.len as usize]
    }
}

impl Key {
    /// A tuple key from a name and atoms: `Key::tuple("x", [0, 1])` is `('x', 0, 1)`.
    pub fn tuple<A: Into<Atom>>(name: &str, atoms: impl IntoIterator<Item = A>) -> Key {
        Key::from_parts(name.into(), atoms.into_iter().map(Into::into))
    }

    /// A tuple key from a shared name and atoms (the name is not copied).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use blockwork::{Atom, Key};
    /// let name: Arc<str> = "p".into();
    /// assert_eq!(Key::from_parts(name, [Atom::Int(3)]), Key::tuple("p", [3]));
    /// ```
    pub fn from_parts(name: Arc<str>, atoms: impl IntoIterator<Item = Atom>) -> Key {
        let mut small = SmallInts {
            len: 0,
            v: [0; SMALL],
        };
        let mut atoms = atoms.into_iter();
        for a in atoms.by_ref() {
            match a {
                Atom::Int(i) if (small.len as usize) < SMALL => {
                    if let Ok(i) = i32::try_from(i) {
                        small.v[small.len as usize] = i;
                        small.len += 1;
                        continue;
                    }
                    return Key::general(name, &small, Atom::Int(i), atoms);
                }
                other => return Key::general(name, &small, other, atoms),
            }
        }
        Key(Repr::Small(name, small))
    }

    #[cold]
    fn general(
        name: Arc<str>,
        head: &SmallInts,
        next: Atom,
        rest: impl Iterator<Item = Atom>,
    ) -> Key {
        let all: Arc<[Atom]> = head
            .as_slice()
            .iter()
            .map(|&i| Atom::Int(i.into()))
            .chain(std::iter::once(next))
            .chain(rest)
            .collect();
        // `from_parts` gives up on the inline form only for an atom it cannot hold (a string,
        // an integer beyond `i32`, a fifth atom), so this key has no inline form.
        Key(Repr::Tuple(name, all))
    }

    /// A tuple key whose atoms are all integers, the common case for block indices.
    #[inline]
    pub fn block(name: &Arc<str>, index: &[usize]) -> Key {
        if index.len() <= SMALL && index.iter().all(|&i| i <= i32::MAX as usize) {
            let mut v = [0i32; SMALL];
            for (slot, &i) in v.iter_mut().zip(index) {
                *slot = i as i32;
            }
            return Key(Repr::Small(
                name.clone(),
                SmallInts {
                    len: index.len() as u8,
                    v,
                },
            ));
        }
        Key::from_parts(name.clone(), index.iter().map(|&i| Atom::from(i)))
    }

    /// The name: the whole string key, or the first element of a tuple key.
    #[inline]
    pub fn name(&self) -> &str {
        self.name_arc()
    }

    /// The name as the shared string it is stored in.
    #[inline]
    pub(crate) fn name_arc(&self) -> &Arc<str> {
        match &self.0 {
            Repr::Name(n) | Repr::Small(n, _) | Repr::Tuple(n, _) => n,
        }
    }

    /// Whether this is a tuple key (`('x', ...)`) rather than a string key.
    #[inline]
    pub fn is_tuple(&self) -> bool {
        !matches!(self.0, Repr::Name(_))
    }

    /// The number of atoms after the name (0 for a string key).
    #[inline]
    pub fn n_atoms(&self) -> usize {
        match &self.0 {
            Repr::Name(_) => 0,
            Repr::Small(_, s) => s.len as usize,
            Repr::Tuple(_, a) => a.len(),
        }
    }

    /// The atoms after the name (none for a string key).
    pub fn atoms(&self) -> Atoms<'_> {
        Atoms { key: self, next: 0 }
    }

    /// Atom `i`, if there is one.
    pub fn atom(&self, i: usize) -> Option<Atom> {
        match &self.0 {
            Repr::Name(_) => None,
            Repr::Small(_, s) => s.as_slice().get(i).map(|&v| Atom::Int(v.into())),
            Repr::Tuple(_, a) => a.get(i).cloned(),
        }
    }

    /// The atoms as integers when they are all small integers (inline), for indexing.
    #[inline]
    pub(crate) fn small_ints(&self) -> Option<&[i32]> {
        match &self.0 {
            Repr::Small(_, s) => Some(s.as_slice()),
            _ => None,
        }
    }
}

/// The atoms of a [`Key`], from [`Key::atoms`].
#[derive(Clone, Debug)]
pub struct Atoms<'k> {
    key: &'k Key,
    next: usize,
}

impl Iterator for Atoms<'_> {
    type Item = Atom;
    fn next(&mut self) -> Option<Atom> {
        let a = self.key.atom(self.next)?;
        self.next += 1;
        Some(a)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.key.n_atoms() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Atoms<'_> {}

/// Equality compares the atoms first (they usually differ between keys of one collection)
/// and short-cuts names that share an allocation.
impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        match (&self.0, &other.0) {
            (Repr::Name(a), Repr::Name(b)) => same_str(a, b),
            (Repr::Small(a, x), Repr::Small(b, y)) => x == y && same_str(a, b),
            (Repr::Tuple(a, x), Repr::Tuple(b, y)) => {
                (Arc::ptr_eq(x, y) || x == y) && same_str(a, b)
            }
            _ => false,
        }
    }
}

impl Eq for Key {}

#[inline]
fn same_str(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a.as_bytes() == b.as_bytes()
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u8(u8::from(self.is_tuple()));
        state.write(self.name().as_bytes());
        match &self.0 {
            Repr::Name(_) => {}
            Repr::Small(_, s) => {
                state.write_usize(s.len as usize);
                for &v in s.as_slice() {
                    state.write_i64(v.into());
                }
            }
            Repr::Tuple(_, a) => {
                state.write_usize(a.len());
                for atom in a.iter() {
                    match atom {
                        Atom::Int(i) => state.write_i64(*i),
                        Atom::Str(s) => {
                            state.write_u8(0xff);
                            state.write(s.as_bytes());
                            state.write_u8(0xff);
                        }
                    }
                }
            }
        }
    }
}

/// String keys sort before tuple keys; tuples by name, then atoms in order (an integer
/// before a string).
impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.is_tuple()
            .cmp(&other.is_tuple())
            .then_with(|| self.name().cmp(other.name()))
            .then_with(|| self.atoms().cmp(other.atoms()))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key(Repr::Name(s.into()))
    }
}
impl From<String> for Key {
    fn from(s: String) -> Self {
        Key(Repr::Name(s.into()))
    }
}
impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Key(Repr::Name(s.as_str().into()))
    }
}
impl From<Arc<str>> for Key {
    fn from(s: Arc<str>) -> Self {
        Key(Repr::Name(s))
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
                Key::from_parts(name.into(), [$($a.into()),+])
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
        if !self.is_tuple() {
            return f.write_str(self.name());
        }
        write!(f, "('{}'", self.name())?;
        for a in self.atoms() {
            write!(f, ", {a}")?;
        }
        if self.n_atoms() == 0 {
            f.write_str(",")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_tuple() {
            fmt::Display::fmt(self, f)
        } else {
            write!(f, "{:?}", self.name())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, RandomState};

    /// The logical content of a key, compared the way keys are documented to compare.
    fn model(k: &Key) -> (bool, String, Vec<Atom>) {
        (k.is_tuple(), k.name().to_owned(), k.atoms().collect())
    }

    #[test]
    fn representations_agree_with_the_logical_key() {
        let ints = [
            0i64,
            1,
            -1,
            7,
            i32::MAX as i64,
            i32::MAX as i64 + 1,
            i32::MIN as i64,
            i64::MIN,
        ];
        let mut keys: Vec<Key> = vec![Key::from("x"), Key::from("y"), Key::tuple::<i64>("x", [])];
        for &a in &ints {
            keys.push(Key::tuple("x", [a]));
            keys.push(Key::from_parts("y".into(), [Atom::Int(a)]));
            for &b in &ints[..4] {
                keys.push(Key::tuple("x", [a, b]));
                keys.push(Key::from_parts("x".into(), [Atom::Int(b), Atom::Int(a)]));
                keys.push(Key::from_parts(
                    "x".into(),
                    [Atom::Int(a), Atom::Str("s".into())],
                ));
                keys.push(Key::tuple("x", [a, b, a, b, a]));
                keys.push(Key::tuple("x", [b, a, b, a]));
            }
        }
        keys.push(Key::block(&"x".into(), &[usize::MAX]));
        keys.push(Key::block(&"x".into(), &[1, 2, 3, 4, 5]));
        let s = RandomState::new();
        for a in &keys {
            for b in &keys {
                assert_eq!(a == b, model(a) == model(b), "{a} vs {b}");
                assert_eq!(a.cmp(b), model(a).cmp(&model(b)), "{a} vs {b}");
                if a == b {
                    assert_eq!(s.hash_one(a), s.hash_one(b), "{a}");
                }
            }
            // Rebuilding a key from its parts gives the same key.
            let again = if a.is_tuple() {
                Key::from_parts(a.name().into(), a.atoms())
            } else {
                Key::from(a.name())
            };
            assert_eq!(&again, a);
        }
        assert_eq!(
            Key::block(&"x".into(), &[usize::MAX]),
            Key::tuple("x", [i64::MAX])
        );
        assert_eq!(std::mem::size_of::<Key>(), 40);
    }
}
