//! Sorting loops: order keys, a block's sorted runs, rank splits across runs and their
//! k-way merge, and the sorted tallies behind `unique`.
//!
//! Every element maps to a `u64` key whose unsigned order is NumPy's sort order: integers
//! and bools by value, floats by value with `-0.0` equal to `0.0` and every NaN equal to
//! each other and after everything else. Ties keep their original order (a stable sort), so
//! `argsort` gives the same permutation as NumPy's stable sort.
//!
//! Blocks are handled as "lanes": the sorted axis moved last and the block made contiguous,
//! so lane `l` of a block with axis length `c` is `data[l * c..(l + 1) * c]`.

use crate::array::dtype::{BlockData, DType, Element, with_block, with_dtype};
use crate::error::{ErrorKind, TaskError};
use crate::value::Payload;
use ndarray::{ArrayD, IxDyn};
use rustc_hash::FxHashMap;
use std::any::Any;

/// Elements with an order key.
pub(crate) trait SortKey: Element {
    /// The key: unsigned order is the sort order.
    fn key(self) -> u64;
    /// The element of a key (floats: `0.0` for both zeros, one NaN for all).
    fn from_key(k: u64) -> Self;
}

const SIGN: u64 = 1 << 63;

impl SortKey for bool {
    fn key(self) -> u64 {
        self as u64
    }
    fn from_key(k: u64) -> bool {
        k != 0
    }
}
impl SortKey for i32 {
    fn key(self) -> u64 {
        (self as i64 as u64) ^ SIGN
    }
    fn from_key(k: u64) -> i32 {
        (k ^ SIGN) as i64 as i32
    }
}
impl SortKey for i64 {
    fn key(self) -> u64 {
        (self as u64) ^ SIGN
    }
    fn from_key(k: u64) -> i64 {
        (k ^ SIGN) as i64
    }
}
impl SortKey for f64 {
    fn key(self) -> u64 {
        if self.is_nan() {
            return u64::MAX;
        }
        // `+ 0.0` turns -0.0 into 0.0.
        let b = (self + 0.0).to_bits();
        if b & SIGN != 0 { !b } else { b | SIGN }
    }
    fn from_key(k: u64) -> f64 {
        if k == u64::MAX {
            return f64::NAN;
        }
        f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k })
    }
}
impl SortKey for f32 {
    fn key(self) -> u64 {
        (self as f64).key()
    }
    fn from_key(k: u64) -> f32 {
        f64::from_key(k) as f32
    }
}

#[cold]
pub(crate) fn type_err(what: &str) -> TaskError {
    TaskError::with_kind(ErrorKind::Type, format!("internal: {what}"))
}

/// The block with `axis` moved last, contiguous, as a flat vector, with the lane length.
pub(crate) fn lanes_of<T: Element>(a: &ArrayD<T>, axis: usize) -> (Vec<T>, usize) {
    let mut perm: Vec<usize> = (0..a.ndim()).filter(|&k| k != axis).collect();
    perm.push(axis);
    let v = a.view().permuted_axes(perm);
    (v.iter().copied().collect(), a.shape()[axis])
}

/// The inverse of [`lanes_of`]: lane-major `data` back to a block of `shape` (which has
/// `shape[axis]` as lane length).
pub(crate) fn from_lanes<T: Element>(data: Vec<T>, shape: &[usize], axis: usize) -> ArrayD<T> {
    let mut perm: Vec<usize> = (0..shape.len()).filter(|&k| k != axis).collect();
    perm.push(axis);
    let moved: Vec<usize> = perm.iter().map(|&k| shape[k]).collect();
    let mut inv = vec![0; perm.len()];
    for (j, &k) in perm.iter().enumerate() {
        inv[k] = j;
    }
    let a = ArrayD::from_shape_vec(IxDyn(&moved), data).expect("lane data fills the block");
    a.permuted_axes(inv).as_standard_layout().into_owned()
}

/// One block sorted along its lanes: per lane, the keys ascending and the values that go
/// with them (the elements for `sort`, their positions along the whole axis for
/// `argsort`), lane-major.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) keys: Vec<u64>,
    pub(crate) vals: BlockData,
    pub(crate) len: usize,
}

impl Payload for Run {
    fn nbytes(&self) -> usize {
        self.keys.len() * 8 + self.vals.len() * self.vals.dtype().itemsize()
    }
    fn type_name(&self) -> &'static str {
        "sorted run"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Sorts each lane of `a` along `axis`, stably; `first` is the block's position along the
/// axis (added to positions for `argsort`).
pub(crate) fn sort_run(a: &BlockData, axis: usize, first: usize, arg: bool) -> Run {
    with_block!(a, a => sort_run_typed(a, axis, first, arg))
}

fn sort_run_typed<T: SortKey>(a: &ArrayD<T>, axis: usize, first: usize, arg: bool) -> Run {
    let (mut data, c) = lanes_of(a, axis);
    let lanes = data.len() / c.max(1);
    // Radix sorts by key, stable: equal keys keep their order (so `-0.0` and `0.0`, or NaNs
    // of different payloads, stay as NumPy's stable sort leaves them).
    if arg {
        let mut pos: Vec<i64> = Vec::with_capacity(data.len());
        let mut pairs: Vec<(u64, i64)> = Vec::with_capacity(c);
        let mut keys = Vec::with_capacity(data.len());
        for lane in data.chunks(c.max(1)) {
            pairs.clear();
            pairs.extend(
                lane.iter()
                    .enumerate()
                    .map(|(i, x)| (x.key(), (first + i) as i64)),
            );
            radsort::sort_by_key(&mut pairs, |p| p.0);
            keys.extend(pairs.iter().map(|p| p.0));
            pos.extend(pairs.iter().map(|p| p.1));
        }
        let vals = i64::wrap(ArrayD::from_shape_vec(IxDyn(&[lanes, c]), pos).expect("lanes"));
        return Run { keys, vals, len: c };
    }
    for lane in data.chunks_mut(c.max(1)) {
        radsort::sort_by_key(lane, |x| x.key());
    }
    let keys = data.iter().map(|x| x.key()).collect();
    let vals = T::wrap(ArrayD::from_shape_vec(IxDyn(&[lanes, c]), data).expect("lanes"));
    Run { keys, vals, len: c }
}

/// How many elements of each sorted run come before overall rank `r` of their stable
/// merge (ties ordered by run, then position): `out[i]` for run `i`.
///
/// The key `v` of rank `r` is found by bisection over the keys' range. Each run keeps the
/// window of its keys inside the current range (those below it are counted, those above it
/// cannot be), so each step's binary searches cover only the windows, which shrink with the
/// range: O(64 · runs) steps at most, each a binary search of a shrinking window.
pub(crate) fn rank_split(runs: &[&[u64]], r: usize, out: &mut [usize]) {
    let total: usize = runs.iter().map(|x| x.len()).sum();
    if r == 0 || r >= total {
        for (o, run) in out.iter_mut().zip(runs) {
            *o = if r == 0 { 0 } else { run.len() };
        }
        return;
    }
    let (mut lo, mut hi) = (
        runs.iter()
            .filter_map(|x| x.first())
            .copied()
            .min()
            .unwrap_or(0),
        runs.iter()
            .filter_map(|x| x.last())
            .copied()
            .max()
            .unwrap_or(0),
    );
    // Per run, `below` keys are < lo and `upto` keys are <= hi.
    let mut below = vec![0usize; runs.len()];
    let mut upto: Vec<usize> = runs.iter().map(|x| x.len()).collect();
    let mut cut = vec![0usize; runs.len()];
    // Smallest v in [lo, hi] with (keys <= v) >= r (all keys are <= hi: the count is total).
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let mut le = 0;
        for (i, run) in runs.iter().enumerate() {
            cut[i] = below[i] + run[below[i]..upto[i]].partition_point(|&k| k <= mid);
            le += cut[i];
        }
        if le >= r {
            hi = mid;
            upto.copy_from_slice(&cut);
        } else {
            lo = mid + 1;
            below.copy_from_slice(&cut);
        }
    }
    // Now lo == hi: `below` counts the keys < lo in each run, `upto` those <= lo.
    let mut left = r;
    for (o, &b) in out.iter_mut().zip(&below) {
        *o = b;
        left -= b;
    }
    for (o, (&b, &u)) in out.iter_mut().zip(below.iter().zip(&upto)) {
        let take = (u - b).min(left);
        *o += take;
        left -= take;
    }
}

/// Merges the pieces `runs[i][lo[i]..hi[i]]` (keys, with values `vals[i]`) into `out`,
/// ties in run order: the pieces concatenated in run order and radix sorted by key, stably
/// (O(n) per byte of the keys that varies, where a k-way merge costs O(n log k) comparisons).
/// With `by_value`, the values are the sorted elements themselves, sorted by their own keys
/// (no key-value pairs are made).
pub(crate) fn merge_into<T: SortKey>(
    keys: &[&[u64]],
    vals: &[&[T]],
    lo: &[usize],
    hi: &[usize],
    by_value: bool,
    out: &mut Vec<T>,
) {
    let pieces = || (0..keys.len()).map(|i| (lo[i], hi[i], i));
    if by_value {
        let start = out.len();
        for (l, h, i) in pieces() {
            out.extend_from_slice(&vals[i][l..h]);
        }
        radsort::sort_by_key(&mut out[start..], |x| x.key());
        return;
    }
    let total: usize = lo.iter().zip(hi).map(|(l, h)| h - l).sum();
    let mut pairs: Vec<(u64, T)> = Vec::with_capacity(total);
    for (l, h, i) in pieces() {
        pairs.extend(
            keys[i][l..h]
                .iter()
                .copied()
                .zip(vals[i][l..h].iter().copied()),
        );
    }
    radsort::sort_by_key(&mut pairs, |p| p.0);
    out.extend(pairs.iter().map(|p| p.1));
}

/// Distinct values a block's tally counts in a hash table whatever the block's length (see
/// [`Tally::of`]).
const HASHED_DISTINCT: usize = 1 << 12;

/// Sorted distinct keys with their counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) keys: Vec<u64>,
    pub(crate) counts: Vec<i64>,
}

impl Payload for Tally {
    fn nbytes(&self) -> usize {
        self.keys.len() * 16
    }
    fn type_name(&self) -> &'static str {
        "unique tally"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Tally {
    /// The tally of a block's elements.
    pub(crate) fn of(b: &BlockData) -> Tally {
        with_block!(b, a => Tally::of_typed(a))
    }

    /// Few distinct values (the usual case of integer data) are counted in a hash table,
    /// which stays in cache, and only the distinct keys sorted; once the table holds more
    /// than an eighth of the block (at least [`HASHED_DISTINCT`]) the keys are radix sorted
    /// and counted in runs instead.
    fn of_typed<T: SortKey>(a: &ArrayD<T>) -> Tally {
        let cap = (a.len() / 8).max(HASHED_DISTINCT);
        let mut table: FxHashMap<u64, i64> = FxHashMap::default();
        for x in a.iter() {
            *table.entry(x.key()).or_insert(0) += 1;
            if table.len() > cap {
                let mut keys: Vec<u64> = a.iter().map(|x| x.key()).collect();
                radsort::sort(&mut keys);
                return Tally::of_sorted(&keys);
            }
        }
        let mut pairs: Vec<(u64, i64)> = table.into_iter().collect();
        pairs.sort_unstable_by_key(|p| p.0);
        Tally {
            keys: pairs.iter().map(|p| p.0).collect(),
            counts: pairs.iter().map(|p| p.1).collect(),
        }
    }

    /// The tally of sorted keys: one entry per run of equal keys.
    fn of_sorted(keys: &[u64]) -> Tally {
        let mut t = Tally::default();
        for &k in keys {
            match t.keys.last() {
                Some(&l) if l == k => *t.counts.last_mut().expect("paired") += 1,
                _ => {
                    t.keys.push(k);
                    t.counts.push(1);
                }
            }
        }
        t
    }

    /// The tally of several tallies (a linear merge of sorted lists, pairwise).
    pub(crate) fn merge(parts: &[&Tally]) -> Tally {
        let mut acc = parts.first().map(|t| (*t).clone()).unwrap_or_default();
        for p in &parts[1.min(parts.len())..] {
            let mut out = Tally::default();
            let (mut i, mut j) = (0, 0);
            while i < acc.keys.len() || j < p.keys.len() {
                let take_a = j >= p.keys.len() || (i < acc.keys.len() && acc.keys[i] <= p.keys[j]);
                let take_b = i >= acc.keys.len() || (j < p.keys.len() && p.keys[j] <= acc.keys[i]);
                let (k, mut c) = if take_a {
                    (acc.keys[i], acc.counts[i])
                } else {
                    (p.keys[j], 0)
                };
                if take_b {
                    c += p.counts[j];
                    j += 1;
                }
                if take_a {
                    i += 1;
                }
                out.keys.push(k);
                out.counts.push(c);
            }
            acc = out;
        }
        acc
    }
}

/// The sorted keys of a 1-d block (for `searchsorted`).
#[derive(Debug)]
pub(crate) struct SortedKeys(pub(crate) Vec<u64>);

impl Payload for SortedKeys {
    fn nbytes(&self) -> usize {
        self.0.len() * 8
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The keys of a block's elements, in order.
pub(crate) fn keys_of(b: &BlockData) -> Vec<u64> {
    with_block!(b, a => a.iter().map(|x| x.key()).collect())
}

/// Elements of `dtype` from keys.
pub(crate) fn values_of(keys: &[u64], dtype: DType) -> BlockData {
    with_dtype!(dtype, T => T::wrap(
        ArrayD::from_shape_vec(IxDyn(&[keys.len()]), keys.iter().map(|&k| T::from_key(k)).collect())
            .expect("1-d")
    ))
}

/// Appends a sorted run as bytes (distributed runs): its lane length, keys and values.
#[cfg(feature = "distributed")]
pub(crate) fn encode_run(run: &Run, out: &mut Vec<u8>) -> Result<(), String> {
    use crate::distributed::codec::{put_block_data, put_vec};
    out.extend((run.len as u64).to_le_bytes());
    put_vec(&run.keys, out);
    put_block_data(&run.vals, out);
    Ok(())
}

/// The sorted run [`encode_run`] wrote, as a value.
#[cfg(feature = "distributed")]
pub(crate) fn decode_run(b: &[u8]) -> Result<crate::Value, String> {
    use crate::distributed::codec::{Reader, get_block_data, get_vec};
    let mut r = Reader(b);
    let len = r.len()?;
    let keys = get_vec(&mut r)?;
    let vals = get_block_data(&mut r)?;
    r.finish("a sorted run")?;
    if keys.len() != vals.len() || (len == 0 && !keys.is_empty()) || keys.len() % len.max(1) != 0 {
        return Err("a sorted run whose keys, values and lanes do not agree".into());
    }
    Ok(crate::Value::payload(Run { keys, vals, len }))
}

/// Appends a tally as bytes (distributed runs): its keys, then its counts.
#[cfg(feature = "distributed")]
pub(crate) fn encode_tally(t: &Tally, out: &mut Vec<u8>) -> Result<(), String> {
    use crate::distributed::codec::put_vec;
    put_vec(&t.keys, out);
    put_vec(&t.counts, out);
    Ok(())
}

/// The tally [`encode_tally`] wrote, as a value.
#[cfg(feature = "distributed")]
pub(crate) fn decode_tally(b: &[u8]) -> Result<crate::Value, String> {
    use crate::distributed::codec::{Reader, get_vec};
    let mut r = Reader(b);
    let (keys, counts) = (get_vec(&mut r)?, get_vec(&mut r)?);
    r.finish("a unique tally")?;
    if keys.len() != counts.len() {
        return Err("a unique tally whose keys and counts differ in length".into());
    }
    Ok(crate::Value::payload(Tally { keys, counts }))
}
