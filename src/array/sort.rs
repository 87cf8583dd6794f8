//! Sorting along an axis: `sort`, `argsort`, `topk`, `searchsorted` and `unique`.
//!
//! `sort` and `argsort` of a 1-d array are a sample sort (`kernels::bucket_sort`): one task
//! draws splitter keys from a sample of every block; one task per block groups its elements
//! by the buckets between the splitters (keys equal to a splitter get a bucket of their own,
//! which needs no sorting); one task adds up the buckets' first ranks; one task per output
//! block gathers, from every block, the buckets whose first rank falls in its ranks and radix
//! sorts each of them (so each bucket is sorted once, however the data is skewed); one task
//! per output block copies its ranks out of those sorted groups.
//!
//! Along an axis of an n-d array they work lane by lane, in two layers:
//!
//! 1. one task per input block sorts each of its lanes (a stable sort on order keys, see
//!    `kernels::sort`), giving a sorted run per block;
//! 2. one task per output block takes, from every run of its row of blocks (the blocks
//!    that share its position on the other axes), exactly the elements whose ranks in the
//!    merged order fall in the output block (found by a rank split: a bisection over the
//!    keys with a binary search per run), and merges those pieces.
//!
//! The work is O(n log n) and each output block holds only its own elements; the output
//! has the input's chunks. The price is the exchange: with `m` blocks along the sorted
//! axis, each output block reads all `m` runs of its row, so a row has `m²` edges. A grid
//! whose exchange exceeds [`MAX_BLOCKS`](super::grid::MAX_BLOCKS) edges is a
//! [`TooLarge`](ErrorKind::TooLarge) error (rechunk to fewer, longer blocks along the axis).
//!
//! `topk` is a tree instead: each block keeps its best `k` per lane, and groups of blocks
//! are joined and cut down again until one block remains, as in `dask.array.topk`.
//!
//! `unique` is the one operation here whose result length depends on the data. It builds
//! a tree of sorted tallies (distinct values with counts) in the graph, computes it on the
//! executor it is given, and returns [`Unique`]: the values and counts as arrays of known
//! length made from the computed result, and the inverse as a lazy array.

use super::dtype::{BlockData, DType, Element, with_block, with_dtype};
use super::grid::{ChunkSpec, Chunks, MAX_BLOCKS, norm_axis};
use super::kernels::bucket_sort::{
    BucketStarts, Item, Parts, SortedRange, Splitters, bucket_starts, copy_ranks, partition,
    sample_keys, sample_size, sort_group,
};
use super::kernels::sort::{
    Run, SortKey, SortedKeys, Tally, from_lanes, keys_of, lanes_of, merge_into, rank_split,
    sort_run, type_err, values_of,
};
use super::pool::{BufferPool, Pooled};
use super::{Array, Layer, block_index, block_of, index_value, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// Which end of a run of equal values [`Array::searchsorted`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first position where the value could be inserted (`a[i-1] < v <= a[i]`).
    Left,
    /// The last such position (`a[i-1] <= v < a[i]`).
    Right,
}

/// The result of [`Array::unique`]: the sorted distinct values, and what was asked for.
#[derive(Clone, Debug)]
pub struct Unique {
    /// The distinct values, ascending (NaNs last, as one value; `-0.0` and `0.0` are one
    /// value, returned as `0.0`), computed: one block of known length.
    pub values: Array,
    /// How often each value occurs (`i64`), when asked for.
    pub counts: Option<Array>,
    /// For each input element, the position of its value in `values` (`i64`, the input's
    /// shape and chunks), when asked for: lazy, it recomputes the input's blocks.
    pub inverse: Option<Array>,
}

/// Fan-in of the `unique`, `topk`, `histogram` and `bincount` trees.
pub(crate) const TREE_FAN_IN: usize = 8;

/// Adds to `graph` a tree of `op` tasks, each reading up to [`TREE_FAN_IN`] keys of the
/// level below, named `(base-L, i)` at level `L`, until one key is left (returned; `None`
/// for no keys).
pub(crate) fn combine_tree(
    graph: &mut Graph,
    base: &str,
    mut keys: Vec<Key>,
    op: &Op,
) -> Option<Key> {
    let mut level = 1;
    while keys.len() > 1 {
        let name: Arc<str> = format!("{base}-{level}").into();
        keys = keys
            .chunks(TREE_FAN_IN)
            .enumerate()
            .map(|(i, g)| {
                let k = Key::block(&name, &[i]);
                let args: Vec<Arg> = g.iter().cloned().map(Arg::key).collect();
                graph.insert(k.clone(), Node::Task(Task::new(op, args)));
                k
            })
            .collect();
        level += 1;
    }
    keys.pop()
}

/// A layer of one task per block of `src`, each turning the block (and its index) into a
/// block of `chunks` (a grid with as many blocks per axis as `src`'s).
pub(crate) fn map_grid(
    src: &Array,
    chunks: Chunks,
    name: Arc<str>,
    dtype: DType,
    f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
    + Send
    + Sync
    + 'static,
) -> Array {
    debug_assert_eq!(chunks.numblocks(), src.chunks().numblocks());
    let src = src.materialize();
    let ctx = src.context().clone();
    let op_name = name.split('-').next().unwrap_or("map").to_owned();
    let op = Op::new(&op_name, move |args: &[Value]| {
        let idx = block_index(&args[0])?;
        Ok(ctx.block(f(block_of(&args[1])?, &idx)?))
    });
    let mut graph = Graph::with_capacity(chunks.nblocks());
    for idx in chunks.indices() {
        let args = [Arg::lit(index_value(&idx)), Arg::key(src.block_key(&idx))];
        graph.insert(Key::block(&name, &idx), Node::Task(Task::new(&op, args)));
    }
    let layer = Layer {
        name,
        graph,
        deps: vec![src.layer()],
    };
    Array::from_layer(src.context(), layer, chunks, dtype)
}

/// `chunks` with axis `k` replaced.
pub(crate) fn with_axis(chunks: &Chunks, k: usize, lens: Vec<usize>) -> Result<Chunks> {
    let mut axes = chunks.axes().to_vec();
    axes[k] = lens;
    Chunks::from_axes(axes)
}

/// Groups of `fan` consecutive lengths, summed.
fn grouped(lens: &[usize], fan: usize) -> Vec<usize> {
    lens.chunks(fan).map(|g| g.iter().sum()).collect()
}

impl Array {
    /// The array sorted along `axis` (negative counts from the end), ascending, NaNs last,
    /// as NumPy's stable sort; works along a chunked axis (see the module docs for the
    /// graph). The result has this array's chunks.
    ///
    /// Errors: an axis out of range is an [`Index`](ErrorKind::Index) error; an exchange of
    /// more than [`MAX_BLOCKS`] edges is
    /// [`TooLarge`](ErrorKind::TooLarge).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[3.0, f64::NAN, -1.0, 2.0, 0.5]).into_dyn(), 2)?;
    /// let seq = blockwork::Sequential::new();
    /// let s = x.sort(0)?.compute::<f64>(&seq)?;
    /// assert_eq!(&s.as_slice().unwrap()[..4], &[-1.0, 0.5, 2.0, 3.0]);
    /// assert!(s[4].is_nan());
    /// let i = x.argsort(-1)?.compute::<i64>(&seq)?;
    /// assert_eq!(i.as_slice().unwrap(), &[2, 4, 3, 0, 1]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn sort(&self, axis: isize) -> Result<Array> {
        self.sort_along(axis, false)
    }

    /// The positions (`i64`, along `axis`) that sort the array, as NumPy's stable
    /// `argsort`: equal values keep their order. Errors as [`Array::sort`].
    pub fn argsort(&self, axis: isize) -> Result<Array> {
        self.sort_along(axis, true)
    }

    fn sort_along(&self, axis: isize, arg: bool) -> Result<Array> {
        let k = norm_axis(axis, self.ndim())?;
        let m = self.chunks().axis(k).len();
        if self.chunks().nblocks().saturating_mul(m) > MAX_BLOCKS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("sorting along {m} blocks exchanges too many pieces; rechunk the axis"),
            ));
        }
        let src = self.materialize();
        let base = token(if arg { "argsort" } else { "sort" }, (src.name(), k));
        if self.ndim() == 1 {
            let dtype = self.dtype();
            return Ok(with_dtype!(dtype, T => if arg {
                bucket_sort::<T, (u64, i64)>(&src, base, split_arg::<T>)
            } else {
                bucket_sort::<T, T>(&src, base, split_values::<T>)
            }));
        }
        let runs: Arc<str> = format!("{base}-runs").into();
        let chunks = self.chunks().clone();
        let c2 = chunks.clone();
        let run_op = Op::new("sort-run", move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let b = block_of(&args[1])?;
            Ok(Value::payload(sort_run(b, k, c2.offset(k, idx[k]), arg)))
        });
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for idx in chunks.indices() {
            let args = [Arg::lit(index_value(&idx)), Arg::key(src.block_key(&idx))];
            graph.insert(
                Key::block(&runs, &idx),
                Node::Task(Task::new(&run_op, args)),
            );
        }
        let run_layer = Arc::new(Layer {
            name: runs.clone(),
            graph,
            deps: vec![src.layer()],
        });
        let dtype = if arg { DType::I64 } else { self.dtype() };
        let (ctx, c3) = (self.context().clone(), chunks.clone());
        let merge_op = Op::new("sort-merge", move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let parts: Vec<&Run> = args[1]
                .as_list()
                .unwrap_or(&[])
                .iter()
                .map(|v| {
                    v.downcast_ref::<Run>()
                        .ok_or_else(|| type_err("sorted run"))
                })
                .collect::<std::result::Result<_, _>>()?;
            let offs = c3.offsets(k);
            let shape = c3.block_shape(&idx);
            let (lo, hi) = (offs[idx[k]], offs[idx[k] + 1]);
            let out = merge_block(dtype, &parts, lo, hi, &shape, k, !arg)?;
            Ok(ctx.block(out))
        });
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for idx in chunks.indices() {
            let row: Vec<Arg> = (0..m)
                .map(|j| {
                    let mut s = idx.clone();
                    s[k] = j;
                    Arg::key(Key::block(&runs, &s))
                })
                .collect();
            let args = [Arg::lit(index_value(&idx)), Arg::list(row)];
            graph.insert(
                Key::block(&base, &idx),
                Node::Task(Task::new(&merge_op, args)),
            );
        }
        let layer = Layer {
            name: base,
            graph,
            deps: vec![run_layer],
        };
        Ok(Array::from_layer(self.context(), layer, chunks, dtype))
    }

    /// The `k` largest values along `axis`, largest first; for negative `k`, the `|k|`
    /// smallest, smallest first (as `dask.array.topk`). NaN counts as the largest value.
    /// Each block keeps its best `|k|` per lane, then groups of blocks are joined and cut
    /// down again, so no task holds more than a few blocks' worth of candidates.
    ///
    /// Errors: `k == 0` or `|k|` over the axis length is
    /// [`InvalidArgument`](ErrorKind::InvalidArgument); an axis out of range is
    /// [`Index`](ErrorKind::Index).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[5i64, 1, 9, 3, 7, 2]).into_dyn(), 2)?;
    /// let seq = blockwork::Sequential::new();
    /// assert_eq!(x.topk(2, 0)?.compute::<i64>(&seq)?.as_slice().unwrap(), &[9, 7]);
    /// assert_eq!(x.topk(-3, 0)?.compute::<i64>(&seq)?.as_slice().unwrap(), &[1, 2, 3]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn topk(&self, k: isize, axis: isize) -> Result<Array> {
        let ax = norm_axis(axis, self.ndim())?;
        let want = k.unsigned_abs();
        if k == 0 || want > self.shape()[ax] {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("topk of {k} along an axis of length {}", self.shape()[ax]),
            ));
        }
        let largest = k > 0;
        let mut cur = self.clone();
        let mut level = 0;
        loop {
            let lens: Vec<usize> = cur.chunks().axis(ax).iter().map(|&c| c.min(want)).collect();
            let chunks = with_axis(cur.chunks(), ax, lens)?;
            let name = token("topk", (cur.name(), k, ax, level));
            cur = map_grid(&cur, chunks, name, self.dtype(), move |b, _| {
                Ok(with_block!(b, a => Element::wrap(best_k(a, ax, want, largest))))
            });
            let nb = cur.chunks().axis(ax).len();
            if nb <= 1 {
                return Ok(cur);
            }
            let joined = grouped(cur.chunks().axis(ax), TREE_FAN_IN);
            let spec = ChunkSpec::Explicit(with_axis(cur.chunks(), ax, joined)?.axes().to_vec());
            cur = cur.rechunk(spec)?;
            level += 1;
        }
    }

    /// Where the values of `v` would go in this sorted 1-d array to keep it sorted:
    /// indices (`i64`, with `v`'s shape and chunks), as NumPy's `searchsorted`, comparing
    /// in the promoted type with NumPy's sort order (NaN last). This array is gathered
    /// into one block, checked to be sorted, and read by every block of `v`.
    ///
    /// Errors: this array not 1-d is a [`Shape`](ErrorKind::Shape) error; not sorted, the
    /// computation fails ([`TaskFailed`](ErrorKind::TaskFailed), with
    /// [`task_cause`](crate::Error::task_cause) [`InvalidArgument`](ErrorKind::InvalidArgument)).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, Side};
    /// let ctx = ArrayContext::new();
    /// let a = ctx.from_ndarray(&ndarray::arr1(&[1.0, 2.0, 2.0, 5.0]).into_dyn(), 3)?;
    /// let v = ctx.from_ndarray(&ndarray::arr1(&[2.0, 0.0, 9.0]).into_dyn(), 2)?;
    /// let seq = blockwork::Sequential::new();
    /// assert_eq!(a.searchsorted(&v, Side::Left)?.compute::<i64>(&seq)?.as_slice().unwrap(), &[1, 0, 4]);
    /// assert_eq!(a.searchsorted(&v, Side::Right)?.compute::<i64>(&seq)?.as_slice().unwrap(), &[3, 0, 4]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn searchsorted(&self, v: &Array, side: Side) -> Result<Array> {
        if self.ndim() != 1 {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("searchsorted needs a 1-d array, not {}-d", self.ndim()),
            ));
        }
        let t = DType::promote(self.dtype(), v.dtype());
        let (a, v) = (self.astype(t)?, v.astype(t)?);
        let keys = a.sorted_keys_layer(true)?;
        let name = token("searchsorted", (keys.name.clone(), v.name(), side));
        let v = v.materialize();
        let ctx = self.context().clone();
        let op = Op::new("searchsorted", move |args: &[Value]| {
            let sorted = args[0]
                .downcast_ref::<SortedKeys>()
                .ok_or_else(|| type_err("sorted keys"))?;
            let b = block_of(&args[1])?;
            let ks = keys_of(b);
            let pos: Vec<i64> = ks
                .iter()
                .map(|&x| match side {
                    Side::Left => sorted.0.partition_point(|&s| s < x),
                    Side::Right => sorted.0.partition_point(|&s| s <= x),
                } as i64)
                .collect();
            let a = ArrayD::from_shape_vec(IxDyn(b.shape()), pos).expect("same shape");
            Ok(ctx.block(BlockData::I64(a)))
        });
        let kk = Key::block(&keys.name, &[0]);
        let mut graph = Graph::with_capacity(v.chunks().nblocks());
        for idx in v.chunks().indices() {
            let args = [Arg::key(kk.clone()), Arg::key(v.block_key(&idx))];
            graph.insert(Key::block(&name, &idx), Node::Task(Task::new(&op, args)));
        }
        let layer = Layer {
            name,
            graph,
            deps: vec![keys, v.layer()],
        };
        Ok(Array::from_layer(
            self.context(),
            layer,
            v.chunks().clone(),
            DType::I64,
        ))
    }

    /// One task `(name, 0)` holding the keys of this 1-d array as one sorted list: the
    /// array's own order, checked (`check`), or the keys sorted.
    fn sorted_keys_layer(&self, check: bool) -> Result<Arc<Layer>> {
        let n = self.shape()[0];
        let one = self
            .rechunk(ChunkSpec::Explicit(vec![vec![n]]))?
            .materialize();
        let name = token("sorted-keys", (one.name(), check));
        let op = Op::new("sorted-keys", move |args: &[Value]| {
            let mut ks = keys_of(block_of(&args[0])?);
            if !check {
                ks.sort_unstable();
            } else if ks.windows(2).any(|w| w[0] > w[1]) {
                return Err(TaskError::with_kind(
                    ErrorKind::InvalidArgument,
                    "searchsorted: the array is not sorted",
                ));
            }
            Ok(Value::payload(SortedKeys(ks)))
        });
        let mut graph = Graph::with_capacity(1);
        let args = [Arg::key(one.block_key(&[0]))];
        graph.insert(Key::block(&name, &[0]), Node::Task(Task::new(&op, args)));
        Ok(Arc::new(Layer {
            name,
            graph,
            deps: vec![one.layer()],
        }))
    }

    /// The sorted distinct values of the whole array (NaNs as one value, last), computed
    /// on `exec`, with their counts and the inverse when asked for (see [`Unique`]). The
    /// values are tallied per block and the tallies merged in a tree in the graph; only the
    /// merged tally comes back.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[3i64, 1, 3, 2, 1, 3]).into_dyn(), 4)?;
    /// let seq = blockwork::Sequential::new();
    /// let u = x.unique(&seq, true, true)?;
    /// assert_eq!(u.values.compute::<i64>(&seq)?.as_slice().unwrap(), &[1, 2, 3]);
    /// assert_eq!(u.counts.unwrap().compute::<i64>(&seq)?.as_slice().unwrap(), &[2, 1, 3]);
    /// let inv = u.inverse.unwrap().compute::<i64>(&seq)?;
    /// assert_eq!(inv.as_slice().unwrap(), &[2, 0, 2, 1, 0, 2]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn unique(
        &self,
        exec: &impl Executor,
        return_counts: bool,
        return_inverse: bool,
    ) -> Result<Unique> {
        let tally = self.compute_tally(exec)?;
        let ctx = self.context();
        let u = tally.keys.len();
        let one = ChunkSpec::Explicit(vec![vec![u]]);
        let vals = values_of(&tally.keys, self.dtype());
        let values = with_block!(&vals, a => ctx.from_ndarray(a, one.clone()))?;
        let counts = if return_counts {
            let c = ArrayD::from_shape_vec(IxDyn(&[u]), tally.counts.clone()).expect("1-d");
            Some(ctx.from_ndarray(&c, one)?)
        } else {
            None
        };
        let inverse = if return_inverse {
            Some(self.inverse_of(tally.keys, values.name()))
        } else {
            None
        };
        Ok(Unique {
            values,
            counts,
            inverse,
        })
    }

    fn compute_tally(&self, exec: &impl Executor) -> Result<Tally> {
        let src = self.materialize();
        let base = token("unique", src.name());
        let name: Arc<str> = format!("{base}-0").into();
        let op = Op::new("unique-block", |args: &[Value]| {
            Ok(Value::payload(Tally::of(block_of(&args[0])?)))
        });
        let mut graph = Graph::with_capacity(src.chunks().nblocks());
        let mut keys = Vec::with_capacity(src.chunks().nblocks());
        for (i, idx) in src.chunks().indices().enumerate() {
            let k = Key::block(&name, &[i]);
            graph.insert(
                k.clone(),
                Node::Task(Task::new(&op, [Arg::key(src.block_key(&idx))])),
            );
            keys.push(k);
        }
        let merge = Op::new("unique-merge", |args: &[Value]| {
            let parts: Vec<&Tally> = args
                .iter()
                .map(|v| v.downcast_ref::<Tally>().ok_or_else(|| type_err("tally")))
                .collect::<std::result::Result<_, _>>()?;
            Ok(Value::payload(Tally::merge(&parts)))
        });
        let root = combine_tree(&mut graph, &base, keys, &merge);
        let Some(root) = root else {
            return Ok(Tally::default());
        };
        let layer = Arc::new(Layer {
            name: base,
            graph,
            deps: vec![src.layer()],
        });
        let plan = Plan::new(&super::collect_graph(&[layer])?, &[root])?;
        let out = exec.run(&plan)?;
        out.values
            .first()
            .and_then(|v| v.downcast_ref::<Tally>())
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::Type, "internal: unique tally"))
    }

    /// For each element, its position among the sorted distinct `keys`.
    fn inverse_of(&self, keys: Vec<u64>, values: &Arc<str>) -> Array {
        let name = token("unique-inverse", (self.name(), values));
        let keys = Arc::new(keys);
        map_grid(
            self,
            self.chunks().clone(),
            name,
            DType::I64,
            move |b, _| {
                let pos: Vec<i64> = keys_of(b)
                    .iter()
                    .map(|x| keys.partition_point(|k| k < x) as i64)
                    .collect();
                Ok(BlockData::I64(
                    ArrayD::from_shape_vec(IxDyn(b.shape()), pos).expect("same shape"),
                ))
            },
        )
    }
}

/// A 1-d sort or argsort by buckets (see `kernels::bucket_sort`), in five layers after the
/// input's: one task drawing the splitters from a sample of every block; one per block
/// grouping its elements by bucket; one adding up the buckets' first ranks; one per output
/// block sorting the buckets whose first rank falls in that block's ranks (each bucket is
/// sorted once); one per output block copying its ranks out of those sorted groups. The
/// input's elements become items `I` (the elements, or key and position for `argsort`),
/// made by `items` from a block, its first position and the splitters.
fn bucket_sort<T: SortKey, I: Item>(
    src: &Array,
    base: Arc<str>,
    items: fn(&Arc<BufferPool>, &Splitters, &[T], usize) -> Parts<I>,
) -> Array {
    let chunks = src.chunks().clone();
    let m = chunks.axis(0).len();
    let n = src.shape()[0];
    let offs: Arc<[usize]> = chunks.offsets(0).into();
    let stage = |s: &str| -> Arc<str> { format!("{base}-{s}").into() };
    let layer = |s: &str, graph: Graph, deps: Vec<Arc<Layer>>| {
        Arc::new(Layer {
            name: stage(s),
            graph,
            deps,
        })
    };
    let one = |s: &str, op: Op, args: Vec<Arg>, deps: Vec<Arc<Layer>>| {
        let mut graph = Graph::with_capacity(1);
        graph.insert(
            Key::block(&stage(s), &[0]),
            Node::Task(Task::new(&op, args)),
        );
        layer(s, graph, deps)
    };
    let per_block = |name: &Arc<str>, op: Op, args: &dyn Fn(usize) -> Vec<Arg>| {
        let mut graph = Graph::with_capacity(m);
        for j in 0..m {
            let mut a = vec![Arg::lit(index_value(&[j]))];
            a.extend(args(j));
            graph.insert(Key::block(name, &[j]), Node::Task(Task::new(&op, a)));
        }
        graph
    };
    let src_keys: Vec<Arg> = (0..m).map(|j| Arg::key(src.block_key(&[j]))).collect();

    let split_op = Op::new("sort-splitters", move |args: &[Value]| {
        let mut sample = Vec::new();
        for (j, v) in args.iter().enumerate() {
            let s = slice_of::<T>(v)?;
            sample_keys(s, sample_size(s.len(), n), j as u64, &mut sample);
        }
        Ok(Value::payload(Splitters::from_sample(sample, n)))
    });
    let split = one("splitters", split_op, src_keys.clone(), vec![src.layer()]);
    let split_key = Key::block(&split.name, &[0]);

    let (o1, ctx1) = (offs.clone(), src.context().clone());
    let part_op = Op::new("sort-buckets", move |args: &[Value]| {
        let (j, sp) = (block_index(&args[0])?[0], payload::<Splitters>(&args[1])?);
        let block = slice_of::<T>(&args[2])?;
        Ok(Value::payload(items(ctx1.pool(), sp, block, o1[j])))
    });
    let graph = per_block(&stage("buckets"), part_op, &|j| {
        vec![Arg::key(split_key.clone()), src_keys[j].clone()]
    });
    let parts = layer("buckets", graph, vec![split, src.layer()]);
    let part_keys: Vec<Arg> = (0..m)
        .map(|j| Arg::key(Key::block(&parts.name, &[j])))
        .collect();

    let starts_op = Op::new("sort-starts", move |args: &[Value]| {
        Ok(Value::payload(bucket_starts(&payloads::<Parts<I>>(args)?)?))
    });
    let starts = one("starts", starts_op, part_keys.clone(), vec![parts.clone()]);
    let starts_key = Key::block(&starts.name, &[0]);

    let (o2, ctx2) = (offs.clone(), src.context().clone());
    let group_op = Op::new("sort-group", move |args: &[Value]| {
        let (g, st) = (
            block_index(&args[0])?[0],
            payload::<BucketStarts>(&args[1])?,
        );
        let ps = payloads::<Parts<I>>(args[2].as_list().unwrap_or(&[]))?;
        Ok(Value::payload(sort_group(
            ctx2.pool(),
            &ps,
            st,
            o2[g],
            o2[g + 1],
        )))
    });
    let graph = per_block(&stage("groups"), group_op, &|_| {
        vec![Arg::key(starts_key.clone()), Arg::list(part_keys.clone())]
    });
    let groups = layer("groups", graph, vec![starts, parts]);
    let group_keys: Vec<Arg> = (0..m)
        .map(|j| Arg::key(Key::block(&groups.name, &[j])))
        .collect();

    let ctx = src.context().clone();
    let out_op = Op::new("sort-out", move |args: &[Value]| {
        let i = block_index(&args[0])?[0];
        let gs = payloads::<SortedRange<I>>(args[1].as_list().unwrap_or(&[]))?;
        let mut buf = ctx.pool().try_take::<I::Out>(offs[i + 1] - offs[i])?;
        copy_ranks(&gs, offs[i], &mut buf)?;
        let a = ArrayD::from_shape_vec(IxDyn(&[buf.len()]), buf).expect("1-d");
        Ok(ctx.block(Element::wrap(a)))
    });
    let graph = per_block(&base, out_op, &|_| vec![Arg::list(group_keys.clone())]);
    let layer = Layer {
        name: base,
        graph,
        deps: vec![groups],
    };
    Array::from_layer(src.context(), layer, chunks, I::Out::DTYPE)
}

/// The elements of a 1-d block of type `T`.
fn slice_of<T: Element>(v: &Value) -> std::result::Result<&[T], TaskError> {
    T::array_ref(block_of(v)?)
        .and_then(|a| a.as_slice())
        .ok_or_else(|| type_err("1-d block"))
}

/// The payload `P` of a task's argument.
fn payload<P: 'static>(v: &Value) -> std::result::Result<&P, TaskError> {
    v.downcast_ref::<P>()
        .ok_or_else(|| type_err(std::any::type_name::<P>()))
}

/// The payloads `P` of `args`.
fn payloads<P: 'static>(args: &[Value]) -> std::result::Result<Vec<&P>, TaskError> {
    args.iter().map(payload).collect()
}

/// A block's elements grouped by bucket (a sort: the elements themselves).
fn split_values<T: SortKey + Pooled>(
    pool: &Arc<BufferPool>,
    sp: &Splitters,
    block: &[T],
    _first: usize,
) -> Parts<T> {
    partition(pool, sp, block, |_, x| x)
}

/// A block's keys and positions (`first` is the block's) grouped by bucket (an argsort).
fn split_arg<T: SortKey>(
    pool: &Arc<BufferPool>,
    sp: &Splitters,
    block: &[T],
    first: usize,
) -> Parts<(u64, i64)> {
    partition(pool, sp, block, |i, x| (x.key(), (first + i) as i64))
}

/// Output block of a sort: ranks `lo..hi` of each lane's merged runs, as a block of
/// `shape` (the sorted axis `k`); `by_value`: the runs' values are the elements (a sort, not
/// an argsort).
fn merge_block(
    dtype: DType,
    runs: &[&Run],
    lo: usize,
    hi: usize,
    shape: &[usize],
    k: usize,
    by_value: bool,
) -> std::result::Result<BlockData, TaskError> {
    super::dtype::with_dtype!(dtype, T => merge_typed::<T>(runs, lo, hi, shape, k, by_value).map(T::wrap))
}

fn merge_typed<T: SortKey>(
    runs: &[&Run],
    lo: usize,
    hi: usize,
    shape: &[usize],
    k: usize,
    by_value: bool,
) -> std::result::Result<ArrayD<T>, TaskError> {
    let vals: Vec<&[T]> = runs
        .iter()
        .map(|r| {
            T::array_ref(&r.vals)
                .and_then(|a| a.as_slice())
                .ok_or_else(|| type_err("sorted run values"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let lanes: usize = (0..shape.len())
        .filter(|&a| a != k)
        .map(|a| shape[a])
        .product();
    let mut out: Vec<T> = Vec::with_capacity(lanes * (hi - lo));
    let (mut s_lo, mut s_hi) = (vec![0; runs.len()], vec![0; runs.len()]);
    for l in 0..lanes {
        let keys: Vec<&[u64]> = runs
            .iter()
            .map(|r| &r.keys[l * r.len..(l + 1) * r.len])
            .collect();
        let lv: Vec<&[T]> = runs
            .iter()
            .zip(&vals)
            .map(|(r, v)| &v[l * r.len..(l + 1) * r.len])
            .collect();
        rank_split(&keys, lo, &mut s_lo);
        rank_split(&keys, hi, &mut s_hi);
        merge_into(&keys, &lv, &s_lo, &s_hi, by_value, &mut out);
    }
    if out.len() != lanes * (hi - lo) {
        return Err(type_err("sort: runs do not cover the block"));
    }
    Ok(from_lanes(out, shape, k))
}

/// The best `want` values of each lane along `axis` (largest first, or smallest first),
/// keeping at most the lane's length.
fn best_k<T: SortKey>(a: &ArrayD<T>, axis: usize, want: usize, largest: bool) -> ArrayD<T> {
    let (data, c) = lanes_of(a, axis);
    let take = want.min(c);
    let mut out = Vec::with_capacity(data.len() / c.max(1) * take);
    let mut lane: Vec<(u64, T)> = Vec::with_capacity(c);
    for l in data.chunks(c.max(1)).filter(|_| c > 0) {
        lane.clear();
        lane.extend(
            l.iter()
                .map(|&x| (if largest { !x.key() } else { x.key() }, x)),
        );
        if take < lane.len() && take > 0 {
            lane.select_nth_unstable_by_key(take - 1, |p| p.0);
        }
        lane.truncate(take);
        lane.sort_unstable_by_key(|p| p.0);
        out.extend(lane.iter().map(|p| p.1));
    }
    let mut shape = a.shape().to_vec();
    shape[axis] = take;
    from_lanes(out, &shape, axis)
}
