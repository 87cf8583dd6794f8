//! Count tables for [`Bag::frequencies_by`](super::Bag::frequencies_by): keys are looked
//! up borrowed and copied only when first seen.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

/// A key a [`Counter`] can count: any owned `Hash + Eq + Clone` value, or a borrowed `str`
/// or `[u8]` (stored as `String` or `Vec<u8>`; keys of up to 7 bytes are also kept inline
/// in the table, so that looking one up reads no heap memory).
///
/// ```
/// use blockwork::bag::CountKey;
/// // Short byte strings carry their bytes and length in the tag, which then decides
/// // equality on its own; other keys have tag 0 and are compared with `==`.
/// assert_eq!(b"abc"[..].tag(), u64::from_le_bytes(*b"abc\0\0\0\0\x03"));
/// assert!(b"abc"[..].tag_decides() && !b"longer key"[..].tag_decides());
/// assert_eq!((42u64.tag(), 42u64.tag_decides()), (0, false));
/// ```
pub trait CountKey: Hash + Eq {
    /// How the table stores the key.
    type Owned: Borrow<Self> + Hash + Eq + Clone + Send + Sync + 'static;
    /// The stored form of the key.
    fn to_owned_key(&self) -> Self::Owned;
    /// Key equality (the table calls it on every hit whose tags are equal, unless the tag
    /// decides).
    #[inline]
    fn same(a: &Self, b: &Self) -> bool {
        a == b
    }
    /// A summary that equal keys share, stored next to the key and compared first (default
    /// 0).
    #[inline]
    fn tag(&self) -> u64 {
        0
    }
    /// Whether keys with this key's tag are equal exactly when their tags are (default
    /// `false`).
    #[inline]
    fn tag_decides(&self) -> bool {
        false
    }
    /// The table's hash of the key, equal for equal keys (default: foldhash of its `Hash`).
    #[inline]
    fn hash_key(&self) -> u64 {
        HASHER.hash_one(self)
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
    #[inline]
    fn tag(&self) -> u64 {
        short_tag(self.as_bytes())
    }
    #[inline]
    fn tag_decides(&self) -> bool {
        self.len() <= SHORT
    }
    #[inline]
    fn hash_key(&self) -> u64 {
        bytes_hash(self.as_bytes())
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
    #[inline]
    fn tag(&self) -> u64 {
        short_tag(self)
    }
    #[inline]
    fn tag_decides(&self) -> bool {
        self.len() <= SHORT
    }
    #[inline]
    fn hash_key(&self) -> u64 {
        bytes_hash(self)
    }
}

/// The tables' hash: foldhash with a fixed seed (so a table's order is the same in every
/// run).
const HASHER: FixedState = FixedState::with_seed(0x243f_6a88_85a3_08d3);

/// Longest byte string whose tag holds all of it.
const SHORT: usize = 7;

/// The first (up to) 7 bytes of `b` in the low bytes, little-endian, and `min(len, 255)` in
/// the top byte: for `len <= 7`, the whole key.
#[inline(always)]
fn short_tag(b: &[u8]) -> u64 {
    let n = b.len();
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            b[at..at + 4].try_into().unwrap_or([0; 4]),
        ))
    };
    let bytes = match n {
        0 => 0,
        // Positions 0, n / 2 and n - 1 cover 1 to 3 bytes.
        1..=3 => {
            u64::from(b[0])
                | (u64::from(b[n / 2]) << (8 * (n / 2)))
                | (u64::from(b[n - 1]) << (8 * (n - 1)))
        }
        // Two overlapping 4-byte loads cover 4 to 7 bytes (the overlap ORs equal bytes).
        4..=7 => half(0) | (half(n - 4) << (8 * (n - 4))),
        _ => u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])) & 0x00ff_ffff_ffff_ffff,
    };
    bytes | ((n.min(255) as u64) << 56)
}

/// Hash of a byte string: one multiplication of its tag when the tag is the whole key,
/// else foldhash of the bytes.
#[inline(always)]
fn bytes_hash(b: &[u8]) -> u64 {
    if b.len() <= SHORT {
        // Folded multiply: the high and low halves of the 128-bit product, XORed.
        let p = u128::from(short_tag(b) ^ 0x9e37_79b9_7f4a_7c15) * 0x2d35_8dcc_aa6c_78a5;
        (p as u64) ^ ((p >> 64) as u64)
    } else {
        HASHER.hash_one(b)
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

/// One key of a [`Counter`]: its tag, the stored key, its count.
struct Entry<K: CountKey + ?Sized> {
    tag: u64,
    key: K::Owned,
    count: usize,
}

impl<K: CountKey + ?Sized> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Entry {
            tag: self.tag,
            key: self.key.clone(),
            count: self.count,
        }
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
    table: HashTable<Entry<K>>,
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
    #[inline(always)]
    pub fn add(&mut self, key: &K) {
        self.add_n(key, 1);
    }

    /// Counts `key` `n` times.
    #[inline(always)]
    pub fn add_n(&mut self, key: &K, n: usize) {
        // The lookup is inlined into the caller's loop; the first sighting of a key is not.
        let (h, tag, decides) = (key.hash_key(), key.tag(), key.tag_decides());
        let found = self.table.find_mut(h, |e| {
            e.tag == tag && (decides || K::same(e.key.borrow(), key))
        });
        match found {
            Some(e) => e.count += n,
            None => self.insert_new(h, tag, key, n),
        }
    }

    /// Stores a key not yet in the table (`h` its hash, `tag` its tag) with count `n`.
    #[inline(never)]
    fn insert_new(&mut self, h: u64, tag: u64, key: &K, n: usize) {
        let entry = Entry {
            tag,
            key: key.to_owned_key(),
            count: n,
        };
        self.table
            .insert_unique(h, entry, |e| e.key.borrow().hash_key());
    }

    /// The count of `key` (0 if never added).
    pub fn get(&self, key: &K) -> usize {
        let tag = key.tag();
        self.table
            .find(key.hash_key(), |e| {
                e.tag == tag && K::same(e.key.borrow(), key)
            })
            .map_or(0, |e| e.count)
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
        self.table.iter().map(|e| (&e.key, e.count))
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
    use super::{CountKey, Counter, bytes_eq};
    use std::collections::HashMap;

    /// Words of 0 to 19 bytes from a small alphabet (so many share prefixes, lengths and
    /// 7-byte heads), counted by a `Counter` of `[u8]` and of `str`, against a `HashMap`.
    #[test]
    fn counts_match_a_hashmap_and_tags_decide_only_short_keys() {
        let mut state = 11u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let words: Vec<String> = (0..20_000)
            .map(|_| {
                let len = next() % 20;
                (0..len)
                    .map(|_| ['a', 'b', '\u{e9}'][next() % 3])
                    .collect::<String>()
            })
            .collect();
        let mut want: HashMap<&str, usize> = HashMap::new();
        let (mut bytes, mut text) = (Counter::<[u8]>::new(), Counter::<str>::new());
        for w in &words {
            *want.entry(w).or_default() += 1;
            bytes.add(w.as_bytes());
            text.add(w);
        }
        assert_eq!((bytes.len(), text.len()), (want.len(), want.len()));
        for (w, c) in &want {
            assert_eq!((bytes.get(w.as_bytes()), text.get(w)), (*c, *c), "{w:?}");
        }
        for (k, c) in bytes.iter() {
            assert_eq!(want[std::str::from_utf8(k).unwrap()], c);
        }
        // Equal tags that decide mean equal keys; equal keys have equal tags and hashes.
        for a in want.keys().take(300) {
            for b in want.keys().take(300) {
                let (a, b) = (a.as_bytes(), b.as_bytes());
                if a.tag() == b.tag() && a.tag_decides() {
                    assert_eq!(a, b);
                }
                if a == b {
                    assert_eq!((a.tag(), a.hash_key()), (b.tag(), b.hash_key()));
                }
            }
        }
        assert!(b"1234567"[..].tag_decides() && !b"12345678"[..].tag_decides());
        // Merging tables adds the counts.
        let merged = Counter::merged(&[&bytes, &bytes]);
        for (w, c) in &want {
            assert_eq!(merged.get(w.as_bytes()), 2 * c);
        }
    }

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
