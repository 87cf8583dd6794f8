//! The loops of the 1-d sort by buckets (a sample sort): splitters from a sample of the keys,
//! each block's elements classified and grouped by bucket, each bucket gathered from every
//! block and radix sorted once, and the output blocks copied out of the sorted buckets.
//!
//! Buckets come in two kinds. For the distinct splitter keys `s[0] < s[1] < .. < s[q-1]`,
//! bucket `2i + 1` holds the elements whose key equals `s[i]` and bucket `2i` those strictly
//! between `s[i-1]` and `s[i]` (with `s[-1] = -inf`, `s[q] = +inf`). A key repeated often
//! enough to be sampled twice becomes a splitter, so its copies land in an equality bucket,
//! which is already in order (blocks in order, positions in order within a block: the sort
//! is stable) and is never sorted. The other buckets are radix sorted by key, stably.
//!
//! Every bucket is sorted exactly once, by the group task owning its first rank, so the work
//! is O(n) per key byte whatever the data (a bad sample only makes buckets larger, costing
//! cache misses but no repeated work) and the memory stays a few copies of the data.

use super::sort::SortKey;
use crate::array::pool::{BufferPool, Pooled};
use crate::error::{ErrorKind, TaskError};
use crate::value::Payload;
use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;

/// Elements a bucket holds on average when the sample is representative: its elements and
/// the radix sort's scratch stay in a core's L2 cache.
const BUCKET_TARGET: usize = 1 << 15;
/// Most splitters: bucket ids (`2 q + 1` of them) fit in a `u16`.
const MAX_SPLITTERS: usize = (1 << 15) - 1;
/// Sampled keys per splitter.
const OVERSAMPLE: usize = 16;
/// Group buffers of at least this many items are taken from the pool rounded up to a
/// multiple of it, so that groups of slightly different sizes share buffers from one run to
/// the next.
const GROUP_ROUND: usize = 1 << 16;

thread_local! {
    /// The bucket ids of the block being grouped, kept per worker thread: reused, not faulted
    /// in anew for every block.
    static IDS: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// What the sort moves around: the elements themselves (`sort`), whose buffers come from
/// (and go back to) the array context's pool, or key-position pairs (`argsort`), allocated.
pub(crate) trait Item: Copy + Default + Send + Sync + 'static {
    /// The element type of the output block.
    type Out: Pooled;
    /// The sort key.
    fn sort_key(&self) -> u64;
    /// What the output block holds for this item.
    fn out(&self) -> Self::Out;
    /// A buffer of `len` items (contents unspecified).
    fn take(pool: &BufferPool, len: usize) -> Vec<Self>;
    /// Returns a buffer for reuse.
    fn give(pool: &BufferPool, v: Vec<Self>);
}

impl<T: Pooled + SortKey> Item for T {
    type Out = T;
    fn sort_key(&self) -> u64 {
        self.key()
    }
    fn out(&self) -> T {
        *self
    }
    fn take(pool: &BufferPool, len: usize) -> Vec<T> {
        pool.take(len)
    }
    fn give(pool: &BufferPool, v: Vec<T>) {
        pool.give(v);
    }
}

impl Item for (u64, i64) {
    type Out = i64;
    fn sort_key(&self) -> u64 {
        self.0
    }
    fn out(&self) -> i64 {
        self.1
    }
    fn take(_: &BufferPool, len: usize) -> Vec<(u64, i64)> {
        vec![(0, 0); len]
    }
    fn give(_: &BufferPool, _: Vec<(u64, i64)>) {}
}

/// A buffer that goes back to its pool when dropped.
#[derive(Debug)]
pub(crate) struct Buffer<I: Item> {
    data: Vec<I>,
    pool: Arc<BufferPool>,
}

impl<I: Item> Buffer<I> {
    fn new(pool: &Arc<BufferPool>, len: usize) -> Buffer<I> {
        Buffer {
            data: I::take(pool, len),
            pool: pool.clone(),
        }
    }
}

impl<I: Item> Drop for Buffer<I> {
    fn drop(&mut self) {
        I::give(&self.pool, std::mem::take(&mut self.data));
    }
}

/// Splitters a slot may hold to be searched without branches.
const PAD: usize = 4;
/// Bits of the slot table of [`Splitters`]: `2^SLOT_BITS + 1` entries.
const SLOT_BITS: u32 = 16;

/// The splitter keys of a sort, searchable in about one step: the keys between the smallest
/// and the largest splitter are cut into `2^SLOT_BITS` slots of equal width (by the bits
/// after the common prefix of the two), and a table gives the splitters of each slot.
#[derive(Debug, Default)]
pub(crate) struct Splitters {
    /// The distinct splitter keys, ascending, then `PAD` copies of `u64::MAX` (none without
    /// splitters).
    keys: Vec<u64>,
    /// The common prefix of the splitters (its other bits zero).
    base: u64,
    /// A key's slot is `(key - base) >> shift` (the key clamped to the splitters' range).
    shift: u32,
    /// `slots[s]`: the first splitter of slot `s` or a later one (`2^SLOT_BITS + 1` entries).
    slots: Vec<u16>,
}

impl Payload for Splitters {
    fn nbytes(&self) -> usize {
        self.keys.len() * 8 + self.slots.len() * 2
    }
    fn type_name(&self) -> &'static str {
        "sort splitters"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A 64-bit mix (SplitMix64's finaliser): positions of the sample.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How many keys to sample from a block of `len` of the `n` elements to sort.
pub(crate) fn sample_size(len: usize, n: usize) -> usize {
    let total = OVERSAMPLE * (splitter_count(n) + 1);
    // `len <= n`, so this is at most `total`.
    (total as u128 * len as u128).div_ceil(n.max(1) as u128) as usize
}

/// The splitters wanted for `n` elements.
fn splitter_count(n: usize) -> usize {
    (n / BUCKET_TARGET).min(MAX_SPLITTERS)
}

/// Appends to `out` the keys of `want` elements of `block` at pseudo-random positions
/// (fixed by `seed`; none for an empty block).
pub(crate) fn sample_keys<T: SortKey>(block: &[T], want: usize, seed: u64, out: &mut Vec<u64>) {
    if block.is_empty() {
        return;
    }
    let len = block.len() as u64;
    out.extend((0..want as u64).map(|i| block[(mix(seed ^ mix(i)) % len) as usize].key()));
}

impl Splitters {
    /// Splitters for `n` elements from a sample of their keys: evenly spaced quantiles of
    /// the sample, deduplicated.
    pub(crate) fn from_sample(mut sample: Vec<u64>, n: usize) -> Splitters {
        let q = splitter_count(n).min(sample.len());
        if q == 0 {
            return Splitters::default();
        }
        sample.sort_unstable();
        let mut keys: Vec<u64> = (1..=q)
            .map(|i| sample[i * sample.len() / (q + 1)])
            .collect();
        keys.dedup();
        Splitters::from_keys(keys)
    }

    /// Splitters from distinct keys in ascending order (at least one).
    fn from_keys(mut keys: Vec<u64>) -> Splitters {
        let q = keys.len();
        let (lo, hi) = (keys[0], keys[q - 1]);
        let width = u64::BITS - (lo ^ hi).leading_zeros();
        let base = if width == u64::BITS {
            0
        } else {
            lo & !((1u64 << width) - 1)
        };
        let shift = width.saturating_sub(SLOT_BITS);
        keys.extend([u64::MAX; PAD]);
        let mut sp = Splitters {
            keys,
            base,
            shift,
            slots: Vec::new(),
        };
        let mut slots = Vec::with_capacity((1 << SLOT_BITS) + 1);
        let mut j = 0;
        for s in 0..=(1usize << SLOT_BITS) {
            while j < q && sp.slot(sp.keys[j]) < s {
                j += 1;
            }
            slots.push(j as u16);
        }
        sp.slots = slots;
        sp
    }

    /// The slot of a key in the splitters' range.
    #[inline]
    fn slot(&self, key: u64) -> usize {
        ((key - self.base) >> self.shift) as usize
    }

    /// The number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        2 * self.keys.len().saturating_sub(PAD) + 1
    }

    /// The bucket of `key`.
    #[inline]
    fn bucket_of(&self, key: u64) -> usize {
        let Some(hi) = self.keys.len().checked_sub(PAD + 1).map(|i| self.keys[i]) else {
            return 0;
        };
        let lo = self.keys[0];
        let s = self.slot(key.clamp(lo, hi));
        let (a, b) = (self.slots[s] as usize, self.slots[s + 1] as usize);
        // Splitters of earlier slots are below the key, those of later slots above it; a
        // slot of at most `PAD` splitters is counted without branches (what follows them is
        // above the key: later slots' splitters or the padding).
        let c = a + if b - a <= PAD {
            (0..PAD)
                .map(|t| usize::from(self.keys[a + t] < key))
                .sum::<usize>()
        } else {
            self.keys[a..b].partition_point(|&x| x < key)
        };
        let q = self.keys.len() - PAD;
        if c < q && self.keys[c] == key {
            2 * c + 1
        } else {
            2 * c
        }
    }

    /// The bucket of each of `items` (keys by `key`) into `ids`, counted in `counts` (one
    /// entry per bucket).
    pub(crate) fn classify<I>(
        &self,
        items: &[I],
        key: impl Fn(&I) -> u64,
        ids: &mut Vec<u16>,
        counts: &mut [usize],
    ) {
        ids.extend(items.iter().map(|x| {
            let b = self.bucket_of(key(x));
            counts[b] += 1;
            b as u16
        }));
    }
}

/// One block's elements grouped by bucket: bucket `b` is `data[starts[b]..starts[b + 1]]`,
/// in the block's order.
#[derive(Debug)]
pub(crate) struct Parts<I: Item> {
    data: Buffer<I>,
    starts: Vec<usize>,
}

impl<I: Item> Parts<I> {
    fn bucket(&self, b: usize) -> &[I] {
        &self.data.data[self.starts[b]..self.starts[b + 1]]
    }
}

impl<I: Item> Payload for Parts<I> {
    fn nbytes(&self) -> usize {
        self.data.data.len() * std::mem::size_of::<I>() + self.starts.len() * 8
    }
    fn type_name(&self) -> &'static str {
        "sort buckets of a block"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The items `make(i, &block[i])` grouped by the buckets of `splitters` (of the elements'
/// keys), in the block's order within a bucket (a stable counting sort), in a buffer of
/// `pool`.
pub(crate) fn partition<T: SortKey, I: Item>(
    pool: &Arc<BufferPool>,
    splitters: &Splitters,
    block: &[T],
    make: impl Fn(usize, T) -> I,
) -> Parts<I> {
    IDS.with_borrow_mut(|ids| {
        ids.clear();
        partition_with(pool, splitters, block, make, ids)
    })
}

fn partition_with<T: SortKey, I: Item>(
    pool: &Arc<BufferPool>,
    splitters: &Splitters,
    block: &[T],
    make: impl Fn(usize, T) -> I,
    ids: &mut Vec<u16>,
) -> Parts<I> {
    let nb = splitters.buckets();
    let mut counts = vec![0usize; nb];
    splitters.classify(block, |x| x.key(), ids, &mut counts);
    let mut starts = Vec::with_capacity(nb + 1);
    let mut acc = 0;
    starts.push(0);
    for c in &counts {
        acc += c;
        starts.push(acc);
    }
    let mut next = starts[..nb].to_vec();
    let mut data = Buffer::new(pool, block.len());
    for (i, (&x, &b)) in block.iter().zip(ids.iter()).enumerate() {
        let at = &mut next[b as usize];
        data.data[*at] = make(i, x);
        *at += 1;
    }
    Parts { data, starts }
}

/// The first rank of each bucket over all blocks (one more entry: the element count).
#[derive(Debug)]
pub(crate) struct BucketStarts(pub(crate) Vec<usize>);

impl Payload for BucketStarts {
    fn nbytes(&self) -> usize {
        self.0.len() * 8
    }
    fn type_name(&self) -> &'static str {
        "sort bucket starts"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The buckets' first ranks over all of `parts` (which share their bucket count).
pub(crate) fn bucket_starts<I: Item>(parts: &[&Parts<I>]) -> Result<BucketStarts, TaskError> {
    let nb = parts.first().map_or(1, |p| p.starts.len() - 1);
    if parts.iter().any(|p| p.starts.len() != nb + 1) {
        return Err(bucket_err());
    }
    let mut starts = vec![0usize; nb + 1];
    for p in parts {
        for (s, w) in starts[1..].iter_mut().zip(p.starts.windows(2)) {
            *s += w[1] - w[0];
        }
    }
    for b in 1..=nb {
        starts[b] += starts[b - 1];
    }
    Ok(BucketStarts(starts))
}

#[cold]
fn bucket_err() -> TaskError {
    TaskError::with_kind(ErrorKind::Type, "internal: sort buckets do not match")
}

/// The sorted buckets of one group: ranks `start..start + data.len()` of the whole sort.
#[derive(Debug)]
pub(crate) struct SortedRange<I: Item> {
    start: usize,
    len: usize,
    /// The sorted items are `data[..len]`.
    data: Buffer<I>,
}

impl<I: Item> Payload for SortedRange<I> {
    fn nbytes(&self) -> usize {
        self.data.data.len() * std::mem::size_of::<I>()
    }
    fn type_name(&self) -> &'static str {
        "sorted buckets"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The buckets whose first rank lies in `lo..hi`, each gathered from every block (in block
/// order) and sorted by key, stably; equality buckets are already in order.
pub(crate) fn sort_group<I: Item>(
    pool: &Arc<BufferPool>,
    parts: &[&Parts<I>],
    starts: &BucketStarts,
    lo: usize,
    hi: usize,
) -> SortedRange<I> {
    let s = &starts.0;
    let nb = s.len() - 1;
    let b0 = s[..nb].partition_point(|&r| r < lo);
    let b1 = s[..nb].partition_point(|&r| r < hi);
    let (from, to) = (s[b0], s[b1]);
    let len = to - from;
    let cap = if len < GROUP_ROUND {
        len
    } else {
        len.next_multiple_of(GROUP_ROUND)
    };
    let mut buf = Buffer::new(pool, cap);
    let data = &mut buf.data;
    let mut end = 0;
    for b in b0..b1 {
        let at = end;
        for p in parts {
            let piece = p.bucket(b);
            data[end..end + piece.len()].copy_from_slice(piece);
            end += piece.len();
        }
        if b % 2 == 0 && end - at > 1 {
            radsort::sort_by_key(&mut data[at..end], I::sort_key);
        }
    }
    SortedRange {
        start: from,
        len: end,
        data: buf,
    }
}

/// Ranks `lo..lo + out.len()` of the sort into `out` from the groups' sorted ranges (which
/// tile all ranks).
pub(crate) fn copy_ranks<I: Item>(
    groups: &[&SortedRange<I>],
    lo: usize,
    out: &mut [I::Out],
) -> Result<(), TaskError> {
    let hi = lo + out.len();
    let mut filled = 0;
    for g in groups {
        let (s, e) = (g.start, g.start + g.len);
        let (a, b) = (s.max(lo), e.min(hi));
        if a < b {
            for (o, x) in out[a - lo..b - lo]
                .iter_mut()
                .zip(&g.data.data[a - s..b - s])
            {
                *o = x.out();
            }
            filled += b - a;
        }
    }
    if filled != out.len() {
        return Err(bucket_err());
    }
    Ok(())
}

/// Wire formats of the sort's intermediates (distributed runs): every number as a
/// little-endian `u64`, items as raw bytes. Decoded buffers belong to a pool of their own.
#[cfg(feature = "distributed")]
pub(crate) mod wire {
    use super::{BucketStarts, Buffer, Item, MAX_SPLITTERS, PAD, Parts, SortedRange, Splitters};
    use crate::array::pool::BufferPool;
    use crate::distributed::codec::{Codecs, Raw, Reader, get_vec, put_vec};
    use crate::value::Value;
    use std::sync::Arc;

    type Res<T> = Result<T, String>;

    fn put_usizes(v: &[usize], out: &mut Vec<u8>) {
        out.extend((v.len() as u64).to_le_bytes());
        v.iter().for_each(|&x| out.extend((x as u64).to_le_bytes()));
    }

    fn get_usizes(r: &mut Reader<'_>) -> Res<Vec<usize>> {
        get_vec::<u64>(r)?
            .into_iter()
            .map(|x| usize::try_from(x).map_err(|_| "a length out of range".to_string()))
            .collect()
    }

    /// Whether `v` starts at 0, never decreases and ends at `end`.
    fn tiles(v: &[usize], end: usize) -> bool {
        v.first() == Some(&0) && v.last() == Some(&end) && v.windows(2).all(|w| w[0] <= w[1])
    }

    fn buffer<I: Item>(data: Vec<I>) -> Buffer<I> {
        Buffer {
            data,
            pool: Arc::new(BufferPool::new(0)),
        }
    }

    fn splitters(b: &[u8]) -> Res<Value> {
        let mut r = Reader(b);
        let keys: Vec<u64> = get_vec(&mut r)?;
        r.finish("sort splitters")?;
        if keys.len() > MAX_SPLITTERS || keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err("sort splitters out of order".into());
        }
        Ok(Value::payload(if keys.is_empty() {
            Splitters::default()
        } else {
            Splitters::from_keys(keys)
        }))
    }

    fn parts<I: Item + Raw>(b: &[u8]) -> Res<Value> {
        let mut r = Reader(b);
        let starts = get_usizes(&mut r)?;
        let data: Vec<I> = get_vec(&mut r)?;
        r.finish("sort buckets")?;
        if !tiles(&starts, data.len()) {
            return Err("sort buckets that do not tile their block".into());
        }
        Ok(Value::payload(Parts {
            data: buffer(data),
            starts,
        }))
    }

    fn sorted_range<I: Item + Raw>(b: &[u8]) -> Res<Value> {
        let mut r = Reader(b);
        let (start, len) = (r.len()?, r.len()?);
        let data: Vec<I> = get_vec(&mut r)?;
        r.finish("sorted buckets")?;
        if len > data.len() || start.checked_add(len).is_none() {
            return Err("sorted buckets longer than their data".into());
        }
        Ok(Value::payload(SortedRange {
            start,
            len,
            data: buffer(data),
        }))
    }

    /// Registers the codecs of the sort's intermediates for items `I`, named after `name`.
    fn items<I: Item + Raw>(c: &mut Codecs, name: &str) {
        c.custom::<Parts<I>>(
            &format!("blockwork.sort-buckets.{name}"),
            |p, out| {
                put_usizes(&p.starts, out);
                put_vec(&p.data.data, out);
                Ok(())
            },
            |b, _| parts::<I>(b),
        );
        c.custom::<SortedRange<I>>(
            &format!("blockwork.sorted-buckets.{name}"),
            |g, out| {
                out.extend((g.start as u64).to_le_bytes());
                out.extend((g.len as u64).to_le_bytes());
                put_vec(&g.data.data[..g.len], out);
                Ok(())
            },
            |b, _| sorted_range::<I>(b),
        );
    }

    /// Registers the codecs of every intermediate of the 1-d sort and argsort.
    pub(crate) fn register(c: &mut Codecs) {
        c.custom::<Splitters>(
            "blockwork.sort-splitters",
            |sp, out| {
                put_vec(&sp.keys[..sp.keys.len().saturating_sub(PAD)], out);
                Ok(())
            },
            |b, _| splitters(b),
        );
        c.custom::<BucketStarts>(
            "blockwork.sort-bucket-starts",
            |st, out| {
                put_usizes(&st.0, out);
                Ok(())
            },
            |b, _| {
                let mut r = Reader(b);
                let starts = get_usizes(&mut r)?;
                r.finish("sort bucket starts")?;
                let end = starts.last().copied().unwrap_or(0);
                if !tiles(&starts, end) {
                    return Err("sort bucket starts out of order".into());
                }
                Ok(Value::payload(BucketStarts(starts)))
            },
        );
        items::<bool>(c, "bool");
        items::<i32>(c, "i32");
        items::<i64>(c, "i64");
        items::<f32>(c, "f32");
        items::<f64>(c, "f64");
        items::<(u64, i64)>(c, "arg");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_matches_a_linear_search() {
        let sample: Vec<u64> = (0..5000u64).map(|i| mix(i) % 700 * 3).collect();
        let sp = Splitters::from_sample(sample, 1 << 22);
        let q = sp.buckets() / 2;
        assert!(q > 10 && sp.keys[..q].windows(2).all(|w| w[0] < w[1]));
        let items: Vec<u64> = (0..2200).chain([u64::MAX, u64::MAX - 1]).collect();
        check_classes(&sp, &items);
        // Splitters spread over the whole key range, and crowded into one slot.
        let wide: Vec<u64> = (0..3000u64).map(|i| mix(i) | 1 << 63).collect();
        let sp = Splitters::from_sample(wide.clone(), 1 << 26);
        check_classes(
            &sp,
            &wide
                .iter()
                .map(|k| k ^ 1)
                .chain([0, u64::MAX])
                .collect::<Vec<_>>(),
        );
        let crowd: Vec<u64> = (0..3000u64)
            .map(|i| {
                if i % 100 == 0 {
                    1 << 62
                } else {
                    mix(i) % 100_000
                }
            })
            .collect();
        let sp = Splitters::from_sample(crowd.clone(), 1 << 26);
        check_classes(
            &sp,
            &crowd
                .iter()
                .map(|k| k + 1)
                .chain(0..100)
                .collect::<Vec<_>>(),
        );
    }

    fn check_classes(sp: &Splitters, items: &[u64]) {
        let mut ids = Vec::new();
        let mut counts = vec![0; sp.buckets()];
        sp.classify(items, |&k| k, &mut ids, &mut counts);
        let keys = &sp.keys[..sp.buckets() / 2];
        for (&k, &b) in items.iter().zip(&ids) {
            let below = keys.iter().filter(|&&s| s < k).count();
            let want = if keys.get(below) == Some(&k) {
                2 * below + 1
            } else {
                2 * below
            };
            assert_eq!(b as usize, want, "key {k}");
        }
        assert_eq!(counts.iter().sum::<usize>(), items.len());
    }

    #[test]
    fn big_buckets_from_a_bad_sample_are_each_sorted_once() {
        // Splitters from a sample of one repeated key: all other elements fall into the two
        // interval buckets around it, each spanning several output blocks.
        let pool = Arc::new(BufferPool::new(1 << 24));
        let sp = Splitters::from_sample(vec![0.5f64.key(); 64], 1 << 22);
        assert_eq!(sp.buckets(), 3);
        let blocks: Vec<Vec<f64>> = (0..7u64)
            .map(|j| {
                (0..1000u64)
                    .map(|i| (mix(j * 1000 + i) % 10_000) as f64 / 10_000.0)
                    .collect()
            })
            .collect();
        let parts: Vec<Parts<f64>> = blocks
            .iter()
            .map(|b| partition(&pool, &sp, b, |_, x| x))
            .collect();
        let pr: Vec<&Parts<f64>> = parts.iter().collect();
        let starts = bucket_starts(&pr).unwrap();
        let groups: Vec<SortedRange<f64>> = (0..7)
            .map(|g| sort_group(&pool, &pr, &starts, g * 1000, (g + 1) * 1000))
            .collect();
        // Every element is sorted by exactly one group.
        assert_eq!(groups.iter().map(|g| g.len).sum::<usize>(), 7000);
        let gr: Vec<&SortedRange<f64>> = groups.iter().collect();
        let mut got = vec![0.0; 7000];
        for (i, out) in got.chunks_mut(1000).enumerate() {
            copy_ranks(&gr, i * 1000, out).unwrap();
        }
        let mut want = blocks.concat();
        want.sort_by(f64::total_cmp);
        assert_eq!(got, want);
    }

    /// Every intermediate of a sort and an argsort sent through its codec before the next
    /// stage reads it: the same result as without; damaged messages are errors.
    #[cfg(feature = "distributed")]
    #[test]
    fn intermediates_survive_their_codecs() {
        use crate::distributed::codec::Codecs;
        use crate::value::Value;
        let c = Codecs::new();
        fn wire<P: Payload>(c: &Codecs, p: P) -> Value {
            let bytes = c.encode(&Value::payload(p)).unwrap();
            for cut in [bytes.len() - 1, bytes.len() / 2] {
                assert!(c.decode(&bytes[..cut]).is_err());
            }
            c.decode(&bytes).unwrap()
        }
        fn get<T: Any>(v: &Value) -> &T {
            v.downcast_ref::<T>().unwrap()
        }
        fn run<I: Item + std::fmt::Debug + PartialEq>(
            c: &Codecs,
            blocks: &[Vec<f64>],
            make: fn(usize, f64) -> I,
        ) -> Vec<I::Out>
        where
            I::Out: Default + Clone,
        {
            let pool = Arc::new(BufferPool::new(1 << 24));
            let sample: Vec<u64> = blocks.concat().iter().step_by(7).map(|x| x.key()).collect();
            let sp = wire(c, Splitters::from_sample(sample, 1 << 20));
            let parts: Vec<Value> = blocks
                .iter()
                .map(|b| wire(c, partition(&pool, get(&sp), b, make)))
                .collect();
            let pr: Vec<&Parts<I>> = parts.iter().map(get).collect();
            let starts = wire(c, bucket_starts(&pr).unwrap());
            let groups: Vec<Value> = (0..blocks.len())
                .map(|g| {
                    wire(
                        c,
                        sort_group(&pool, &pr, get(&starts), g * 500, (g + 1) * 500),
                    )
                })
                .collect();
            let gr: Vec<&SortedRange<I>> = groups.iter().map(get).collect();
            let mut out = vec![I::Out::default(); 500 * blocks.len()];
            for (i, o) in out.chunks_mut(500).enumerate() {
                copy_ranks(&gr, i * 500, o).unwrap();
            }
            out
        }
        let blocks: Vec<Vec<f64>> = (0..4u64)
            .map(|j| {
                (0..500u64)
                    .map(|i| (mix(j * 500 + i) % 97) as f64 - 40.0)
                    .collect()
            })
            .collect();
        let all = blocks.concat();
        let mut want = all.clone();
        want.sort_by(f64::total_cmp);
        assert_eq!(run::<f64>(&c, &blocks, |_, x| x), want);
        // Argsort items carry the position within their block here: ties keep block order,
        // then position, so the stable order of (key, block, position) is the reference.
        let order = run::<(u64, i64)>(&c, &blocks, |i, x| (x.key(), i as i64));
        let mut idx: Vec<usize> = (0..all.len()).collect();
        idx.sort_by_key(|&k| all[k].key());
        let want: Vec<i64> = idx.iter().map(|&k| (k % 500) as i64).collect();
        assert_eq!(order, want);
        // Parts whose bucket starts do not tile the block are refused.
        let bad = Parts {
            data: Buffer::new(&Arc::new(BufferPool::new(0)), 3),
            starts: vec![0, 2, 1, 3],
        };
        let bytes = c.encode(&Value::payload::<Parts<f64>>(bad)).unwrap();
        assert!(c.decode(&bytes).is_err());
    }

    #[test]
    fn no_splitters_for_few_elements() {
        let sp = Splitters::from_sample(vec![5, 1, 3], 100);
        assert_eq!(sp.buckets(), 1);
        let mut ids = Vec::new();
        let mut counts = vec![0; 1];
        sp.classify(&[9u64, 0, u64::MAX], |&k| k, &mut ids, &mut counts);
        assert_eq!((ids, counts), (vec![0, 0, 0], vec![3]));
    }
}
