//! Count tables for [`Bag::frequencies_by`](super::Bag::frequencies_by): keys are looked
//! up borrowed and copied only when first seen.

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

/// A key a [`Counter`] can count: any owned `Hash + Eq + Clone` value, or a borrowed `str`
/// or `[u8]` (stored as `String` or `Vec<u8>`, with an inlined comparison for short keys).
pub trait CountKey: Hash + Eq {
    /// How the table stores the key.
    type Owned: Borrow<Self> + Hash + Eq + Clone + Send + Sync + 'static;
    /// The stored form of the key.
    fn to_owned_key(&self) -> Self::Owned;
    /// Key equality (the table calls it on every hit).
    #[inline]
    fn same(a: &Self, b: &Self) -> bool {
        a == b
    }
}

impl<T: Hash + Eq + Clone + Send + Sync + 'static> CountKey for T {
    type Owned = T;
    #[inline]
    fn to_owned_key(&self) -> T {
        self.clone()
    }
}

impl CountKey for str {
    type Owned = String;
    #[inline]
    fn to_owned_key(&self) -> String {
        self.to_owned()
    }
    #[inline]
    fn same(a: &str, b: &str) -> bool {
        bytes_eq(a.as_bytes(), b.as_bytes())
    }
}

impl CountKey for [u8] {
    type Owned = Vec<u8>;
    #[inline]
    fn to_owned_key(&self) -> Vec<u8> {
        self.to_vec()
    }
    #[inline]
    fn same(a: &[u8], b: &[u8]) -> bool {
        bytes_eq(a, b)
    }
}

/// Byte-slice equality that compares keys of up to 16 bytes with two overlapping loads
/// instead of a call to `memcmp`: words are short, and the call dominated the lookup.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Counts of keys: what a partition's [`Bag::frequencies_by`](super::Bag::frequencies_by)
/// closure adds to.
///
/// ```
/// use blockwork::bag::Counter;
/// let mut c = Counter::<str>::new();
/// for w in "a b a".split(' ') {
///     c.add(w);
/// }
/// assert_eq!((c.get("a"), c.get("b"), c.get("z"), c.len()), (2, 1, 0, 2));
/// ```
pub struct Counter<K: CountKey + ?Sized> {
    table: HashTable<(K::Owned, usize)>,
}

impl<K: CountKey + ?Sized> Default for Counter<K> {
    fn default() -> Self {
        Counter {
            table: HashTable::new(),
        }
    }
}

impl<K: CountKey + ?Sized> Clone for Counter<K> {
    fn clone(&self) -> Self {
        Counter {
            table: self.table.clone(),
        }
    }
}

impl<K: CountKey + ?Sized> Counter<K> {
    /// An empty table.
    pub fn new() -> Counter<K> {
        Counter::default()
    }

    /// Counts `key` once.
    #[inline]
    pub fn add(&mut self, key: &K) {
        self.add_n(key, 1);
    }

    /// Counts `key` `n` times.
    #[inline]
    pub fn add_n(&mut self, key: &K, n: usize) {
        let h = FxBuildHasher.hash_one(key);
        match self.table.find_mut(h, |(o, _)| K::same(o.borrow(), key)) {
            Some((_, c)) => *c += n,
            None => {
                let rehash = |(o, _): &(K::Owned, usize)| FxBuildHasher.hash_one(o.borrow());
                self.table.insert_unique(h, (key.to_owned_key(), n), rehash);
            }
        }
    }

    /// The count of `key` (0 if never added).
    pub fn get(&self, key: &K) -> usize {
        let h = FxBuildHasher.hash_one(key);
        self.table
            .find(h, |(o, _)| K::same(o.borrow(), key))
            .map_or(0, |(_, c)| *c)
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Keys and counts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K::Owned, usize)> {
        self.table.iter().map(|(k, c)| (k, *c))
    }

    /// The sum of several tables: the largest is copied once and the others added to it.
    pub(crate) fn merged(parts: &[&Counter<K>]) -> Counter<K> {
        let Some(big) = (0..parts.len()).max_by_key(|&i| parts[i].len()) else {
            return Counter::new();
        };
        let mut out = parts[big].clone();
        for (i, p) in parts.iter().enumerate() {
            if i != big {
                for (k, c) in p.iter() {
                    out.add_n(k.borrow(), c);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::bytes_eq;

    #[test]
    fn bytes_eq_matches_slice_eq() {
        let words: Vec<Vec<u8>> = (0..40)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut tweaked = base.clone();
                if let Some(last) = tweaked.last_mut() {
                    *last = b'#';
                }
                let mut first = base.clone();
                if let Some(f) = first.first_mut() {
                    *f = b'#';
                }
                let mut mid = base.clone();
                if n > 0 {
                    mid[n / 2] = b'#';
                }
                [base, tweaked, first, mid]
            })
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(bytes_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}
