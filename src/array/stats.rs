//! Counting and order statistics: `histogram`, `bincount`, `quantile` / `percentile`,
//! plus `diff`, `coarsen` and `choose`.
//!
//! `histogram` and `bincount` count per block and sum the counts in a tree (fan-in
//! `TREE_FAN_IN`, shared with `unique`). Histogram edges derived from the data's range come from the `min` and
//! `max` reductions inside the same graph, so the result stays lazy and of known length.
//! `bincount`'s length depends on the data's maximum: it computes `min` and `max` on the
//! executor it is given, then returns a lazy array of that known length.
//!
//! Quantiles are exact: the axis is sorted ([`Array::sort`]) and the two neighbours of
//! each virtual index are picked and interpolated linearly, as NumPy's default method.

use super::dtype::{BlockData, DType};
use super::grid::{ChunkSpec, Chunks, checked_size};
use super::sort::combine_tree;
use super::{Array, Layer, block_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::{Payload, Value};
use ndarray::{ArrayD, IxDyn};
use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

/// How [`Array::histogram`] bins values.
#[derive(Clone, Debug, PartialEq)]
pub enum Bins {
    /// This many equal-width bins over the range.
    Count(usize),
    /// Explicit edges, non-decreasing: bin `i` is `[e[i], e[i+1])`, the last one closed.
    Edges(Vec<f64>),
}

impl From<usize> for Bins {
    fn from(n: usize) -> Bins {
        Bins::Count(n)
    }
}
impl From<Vec<f64>> for Bins {
    fn from(e: Vec<f64>) -> Bins {
        Bins::Edges(e)
    }
}
impl From<&[f64]> for Bins {
    fn from(e: &[f64]) -> Bins {
        Bins::Edges(e.to_vec())
    }
}

/// The result of [`Array::histogram`]: both lazy, one block each.
#[derive(Clone, Debug)]
pub struct Histogram {
    /// Per bin: the count (`i64`), or the sum of weights or the density (`f64`).
    pub counts: Array,
    /// The `bins + 1` edges (`f64`).
    pub edges: Array,
}

/// Per-bin sums of one block or group of blocks.
#[derive(Clone, Debug)]
pub(crate) enum Counts {
    I(Vec<i64>),
    F(Vec<f64>),
}

impl Payload for Counts {
    fn nbytes(&self) -> usize {
        8 * match self {
            Counts::I(v) => v.len(),
            Counts::F(v) => v.len(),
        }
    }
    fn type_name(&self) -> &'static str {
        "bin counts"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Appends bin counts as bytes (distributed runs): a tag (0 integer, 1 float), then the
/// length and the little-endian values.
#[cfg(feature = "distributed")]
pub(crate) fn encode_counts(c: &Counts, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    use crate::distributed::codec::put_vec;
    match c {
        Counts::I(v) => {
            out.push(0);
            put_vec(v, out);
        }
        Counts::F(v) => {
            out.push(1);
            put_vec(v, out);
        }
    }
    Ok(())
}

/// The bin counts [`encode_counts`] wrote, as a value.
#[cfg(feature = "distributed")]
pub(crate) fn decode_counts(b: &[u8]) -> std::result::Result<Value, String> {
    use crate::distributed::codec::{Reader, get_vec};
    let mut r = Reader(b);
    let counts = match r.u8()? {
        0 => Counts::I(get_vec(&mut r)?),
        1 => Counts::F(get_vec(&mut r)?),
        t => return Err(format!("unknown bin counts tag {t}")),
    };
    r.finish("bin counts")?;
    Ok(Value::payload(counts))
}

#[cold]
fn task_err(kind: ErrorKind, msg: impl Into<String>) -> TaskError {
    TaskError::with_kind(kind, msg.into())
}

fn counts_of(v: &Value) -> std::result::Result<&Counts, TaskError> {
    v.downcast_ref::<Counts>()
        .ok_or_else(|| task_err(ErrorKind::Type, "internal: bin counts"))
}

/// A block's values as `f64`, in logical order: borrowed where the block is an `f64` block
/// in standard layout.
fn as_f64(b: &BlockData) -> Cow<'_, [f64]> {
    if let BlockData::F64(a) = b
        && let Some(s) = a.as_slice()
    {
        return Cow::Borrowed(s);
    }
    Cow::Owned(match b {
        BlockData::Bool(a) => a.iter().map(|&x| x as u8 as f64).collect(),
        BlockData::I32(a) => a.iter().map(|&x| x as f64).collect(),
        BlockData::I64(a) => a.iter().map(|&x| x as f64).collect(),
        BlockData::F32(a) => a.iter().map(|&x| x as f64).collect(),
        BlockData::F64(a) => a.iter().copied().collect(),
    })
}

/// `num` points from `lo` to `hi` inclusive, as NumPy's `linspace`.
fn linspace(lo: f64, hi: f64, num: usize) -> Vec<f64> {
    let step = (hi - lo) / (num - 1).max(1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + lo).collect();
    if let Some(l) = v.last_mut().filter(|_| num > 1) {
        *l = hi;
    }
    v
}

/// Equal-width edges over `[lo, hi]` (widened by a half on each side when equal), or why
/// the range cannot be used.
fn uniform_edges(lo: f64, hi: f64, n: usize) -> std::result::Result<Vec<f64>, String> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(format!("histogram range [{lo}, {hi}] is not finite"));
    }
    if lo > hi {
        return Err(format!("histogram range [{lo}, {hi}]: max under min"));
    }
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    Ok(linspace(lo, hi, n + 1))
}

/// Finds the bin of a value among edges `e` (the `i` with `e[i] <= x < e[i + 1]`, the last
/// bin closed): for equal-width bins, an index computed as `(x - e[0]) * (bins / width)`,
/// then NumPy's one-step corrections against the edges (NumPy divides by the width instead
/// of multiplying by its inverse; either estimate is within one bin, and the corrections
/// make the answer the edges' own); otherwise a binary search.
struct Binner<'e> {
    e: &'e [f64],
    first: f64,
    last: f64,
    /// Bins per unit, for equal-width bins.
    norm: f64,
    uniform: bool,
}

impl<'e> Binner<'e> {
    fn new(e: &'e [f64], uniform: bool) -> Binner<'e> {
        let (first, last) = (e[0], e[e.len() - 1]);
        let n = e.len() - 1;
        Binner {
            e,
            first,
            last,
            norm: n as f64 / (last - first),
            uniform,
        }
    }

    /// The bin of `x`, if inside the edges.
    #[inline]
    fn bin(&self, x: f64) -> Option<usize> {
        let (e, n) = (self.e, self.e.len() - 1);
        if !(x >= self.first && x <= self.last) || n == 0 {
            return None;
        }
        if self.uniform {
            let mut i = ((x - self.first) * self.norm) as usize;
            i = i.min(n - 1);
            if x < e[i] {
                i -= 1;
            } else if i != n - 1 && x >= e[i + 1] {
                i += 1;
            }
            return Some(i);
        }
        if x == self.last {
            return Some(n - 1);
        }
        Some(e.partition_point(|&b| b <= x) - 1)
    }
}

/// Adds the `Counts` tasks summing `leaves` to `graph`, in a tree; returns the root key.
fn sum_tree(graph: &mut Graph, base: &str, keys: Vec<Key>) -> Key {
    let op = Op::new("counts-sum", |args: &[Value]| {
        let mut acc = counts_of(&args[0])?.clone();
        for v in &args[1..] {
            match (&mut acc, counts_of(v)?) {
                (Counts::I(a), Counts::I(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x += y),
                (Counts::F(a), Counts::F(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x += y),
                _ => return Err(task_err(ErrorKind::Type, "internal: mixed counts")),
            }
        }
        Ok(Value::payload(acc))
    });
    combine_tree(graph, &format!("{base}-sum"), keys, &op).expect("at least one block")
}

/// One counting task per block of `x` (with the aligned `weights` block and the `extra`
/// key first), summed in a tree; returns the graph, its root and the layers read.
fn count_layers(
    x: &Array,
    weights: Option<&Array>,
    extra: Option<&Key>,
    base: &str,
    count: impl Fn(&[f64], Option<&[f64]>, Option<&BlockData>) -> std::result::Result<Counts, TaskError>
    + Send
    + Sync
    + 'static,
) -> (Graph, Key) {
    let name: Arc<str> = format!("{base}-blocks").into();
    let op = Op::new("bin-count", move |args: &[Value]| {
        let extra = match args.len() {
            3 => Some(block_of(&args[2])?),
            _ => None,
        };
        let xs = as_f64(block_of(&args[0])?);
        let ws = match args.get(1).map(|v| v.as_list().map(|_| ()).is_none()) {
            Some(true) => Some(as_f64(block_of(&args[1])?)),
            _ => None,
        };
        Ok(Value::payload(count(&xs, ws.as_deref(), extra)?))
    });
    let mut graph = Graph::with_capacity(x.chunks().nblocks() * 2);
    let mut keys = Vec::with_capacity(x.chunks().nblocks());
    for (i, idx) in x.chunks().indices().enumerate() {
        let mut args = vec![Arg::key(x.block_key(&idx))];
        args.push(match weights {
            Some(w) => Arg::key(w.block_key(&idx)),
            None => Arg::list(Vec::<Arg>::new()),
        });
        if let Some(e) = extra {
            args.push(Arg::key(e.clone()));
        }
        let k = Key::block(&name, &[i]);
        graph.insert(k.clone(), Node::Task(Task::new(&op, args)));
        keys.push(k);
    }
    let root = sum_tree(&mut graph, base, keys);
    (graph, root)
}

impl Array {
    /// `weights` checked to have this array's shape and cut into its chunks.
    fn aligned_weights(&self, weights: Option<&Array>) -> Result<Option<Array>> {
        match weights {
            Some(w) if w.shape() != self.shape() => Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "weights of shape {:?} for data {:?}",
                    w.shape(),
                    self.shape()
                ),
            )),
            Some(w) => Ok(Some(w.rechunk(self.chunks())?.materialize())),
            None => Ok(None),
        }
    }

    /// A histogram of all the array's values, as NumPy's `histogram`: `bins` equal-width
    /// bins over `range` (the data's min and max when `None`, computed in the graph), or
    /// explicit edges; each value counted once, or with its weight (`weights`: an array of
    /// this shape); with `density`, counts divided by their total and the bin widths.
    /// Values outside the range, and NaN, are not counted.
    ///
    /// Errors: 0 bins, fewer than 2 edges, edges that decrease or are not finite, a range
    /// that is not finite or has max under min are
    /// [`InvalidArgument`](ErrorKind::InvalidArgument); weights of another shape are a
    /// [`Shape`](ErrorKind::Shape) error; a data range that is not finite (NaN or infinite
    /// data without a range) fails the computation ([`TaskFailed`](ErrorKind::TaskFailed),
    /// with [`task_cause`](crate::Error::task_cause) `InvalidArgument`).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, Bins};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[1.0, 2.0, 1.0, 4.0]).into_dyn(), 3)?;
    /// let seq = blockwork::Sequential::new();
    /// let h = x.histogram(3, None, None, false)?;
    /// assert_eq!(h.counts.compute::<i64>(&seq)?.as_slice().unwrap(), &[2, 1, 1]);
    /// assert_eq!(h.edges.compute::<f64>(&seq)?.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    /// let h = x.histogram(vec![0.0, 1.0, 2.0, 3.0], None, None, false)?;
    /// assert_eq!(h.counts.compute::<i64>(&seq)?.as_slice().unwrap(), &[0, 2, 1]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn histogram(
        &self,
        bins: impl Into<Bins>,
        range: Option<(f64, f64)>,
        weights: Option<&Array>,
        density: bool,
    ) -> Result<Histogram> {
        let bad = |m: String| Error::new(ErrorKind::InvalidArgument, m);
        let bins = bins.into();
        let weights = self.aligned_weights(weights)?;
        let x = self.materialize();
        let base = token(
            "histogram",
            (
                x.name(),
                weights.as_ref().map(|w| w.name().clone()),
                density,
                format!("{bins:?}{range:?}"),
            ),
        );
        let (edges, uniform) = self.histogram_edges(&bins, range, &base, bad)?;
        let ekey = edges.block_key(&[0]);
        let weighted = weights.is_some();
        let nb = edges.len() - 1;
        let (mut graph, root) = count_layers(
            &x,
            weights.as_ref(),
            Some(&ekey),
            &base,
            move |xs, ws, e| {
                let e = match e {
                    Some(BlockData::F64(e)) => e.as_slice().unwrap_or(&[]),
                    _ => return Err(task_err(ErrorKind::Type, "internal: histogram edges")),
                };
                let mut f = vec![0.0; if ws.is_some() { nb } else { 0 }];
                let mut c = vec![0i64; if ws.is_some() { 0 } else { nb }];
                let binner = Binner::new(e, uniform);
                for (j, &v) in xs.iter().enumerate() {
                    if let Some(b) = binner.bin(v) {
                        match ws {
                            Some(w) => f[b] += w[j],
                            None => c[b] += 1,
                        }
                    }
                }
                Ok(if ws.is_some() {
                    Counts::F(f)
                } else {
                    Counts::I(c)
                })
            },
        );
        let out_dtype = if weighted || density {
            DType::F64
        } else {
            DType::I64
        };
        let ctx = self.context().clone();
        let fin = Op::new("histogram", move |args: &[Value]| {
            let c = counts_of(&args[0])?;
            let e = as_f64(block_of(&args[1])?);
            let data = match (c, density) {
                (Counts::I(v), false) => BlockData::I64(
                    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).expect("1-d"),
                ),
                (c, _) => {
                    let v: Vec<f64> = match c {
                        Counts::I(v) => v.iter().map(|&x| x as f64).collect(),
                        Counts::F(v) => v.clone(),
                    };
                    let total: f64 = v.iter().sum();
                    let v: Vec<f64> = if density {
                        v.iter()
                            .zip(e.windows(2))
                            .map(|(&n, w)| n / (w[1] - w[0]) / total)
                            .collect()
                    } else {
                        v
                    };
                    BlockData::F64(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).expect("1-d"))
                }
            };
            Ok(ctx.block(data))
        });
        graph.insert(
            Key::block(&base, &[0]),
            Node::Task(Task::new(&fin, [Arg::key(root), Arg::key(ekey)])),
        );
        let mut deps = vec![x.layer(), edges.layer()];
        deps.extend(weights.map(|w| w.layer()));
        let layer = Layer {
            name: base,
            graph,
            deps,
        };
        let counts = Array::from_layer(
            self.context(),
            layer,
            Chunks::from_axes(vec![vec![nb]])?,
            out_dtype,
        );
        Ok(Histogram { counts, edges })
    }

    /// The edges as a one-block array (a literal, or a task on the data's min and max),
    /// and whether they are equal-width.
    fn histogram_edges(
        &self,
        bins: &Bins,
        range: Option<(f64, f64)>,
        base: &str,
        bad: impl Fn(String) -> Error,
    ) -> Result<(Array, bool)> {
        let ctx = self.context();
        let literal = |e: Vec<f64>| {
            ctx.from_ndarray(
                &ArrayD::from_shape_vec(IxDyn(&[e.len()]), e).expect("1-d"),
                ChunkSpec::Same(usize::MAX),
            )
        };
        match bins {
            Bins::Edges(e) => {
                if e.len() < 2
                    || e.iter().any(|x| !x.is_finite())
                    || e.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(bad(
                        "histogram edges: at least 2, finite, non-decreasing".into()
                    ));
                }
                Ok((literal(e.clone())?, false))
            }
            Bins::Count(0) => Err(bad("histogram of 0 bins".into())),
            &Bins::Count(n) => {
                checked_size(&[n, 2], 8)?;
                let range = range.or(self.is_empty().then_some((0.0, 1.0)));
                if let Some((lo, hi)) = range {
                    return Ok((literal(uniform_edges(lo, hi, n).map_err(bad)?)?, true));
                }
                let (lo, hi) = (self.min(None)?.materialize(), self.max(None)?.materialize());
                let name: Arc<str> = format!("{base}-edges").into();
                let ctx2 = ctx.clone();
                let op = Op::new("histogram-edges", move |args: &[Value]| {
                    let lo = as_f64(block_of(&args[0])?)[0];
                    let hi = as_f64(block_of(&args[1])?)[0];
                    let e = uniform_edges(lo, hi, n)
                        .map_err(|m| task_err(ErrorKind::InvalidArgument, m))?;
                    Ok(ctx2.block(BlockData::F64(
                        ArrayD::from_shape_vec(IxDyn(&[e.len()]), e).expect("1-d"),
                    )))
                });
                let mut graph = Graph::with_capacity(1);
                let args = [Arg::key(lo.block_key(&[])), Arg::key(hi.block_key(&[]))];
                graph.insert(Key::block(&name, &[0]), Node::Task(Task::new(&op, args)));
                let layer = Layer {
                    name,
                    graph,
                    deps: vec![lo.layer(), hi.layer()],
                };
                let chunks = Chunks::from_axes(vec![vec![n + 1]])?;
                Ok((Array::from_layer(ctx, layer, chunks, DType::F64), true))
            }
        }
    }

    /// Occurrences of each value `0..len` of this 1-d integer array (or the sum of the
    /// `weights` at those positions, `f64`), as NumPy's `bincount`; `len` is the larger of
    /// the maximum plus one and `minlength`. The minimum and maximum are computed on `exec`
    /// first (the length depends on them); the counts are a lazy one-block array.
    ///
    /// Errors: not 1-d, or weights of another shape, are [`Shape`](ErrorKind::Shape)
    /// errors; a float array is a [`Type`](ErrorKind::Type) error; a negative value is
    /// [`InvalidArgument`](ErrorKind::InvalidArgument); a length too large to allocate is
    /// [`Overflow`](ErrorKind::Overflow).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let seq = blockwork::Sequential::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[0i64, 1, 1, 3]).into_dyn(), 3)?;
    /// assert_eq!(x.bincount(None, 0, &seq)?.compute::<i64>(&seq)?.as_slice().unwrap(), &[1, 2, 0, 1]);
    /// let w = ctx.from_ndarray(&ndarray::arr1(&[0.5, 1.0, 1.0, 2.0]).into_dyn(), 2)?;
    /// let c = x.bincount(Some(&w), 6, &seq)?.compute::<f64>(&seq)?;
    /// assert_eq!(c.as_slice().unwrap(), &[0.5, 2.0, 0.0, 2.0, 0.0, 0.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn bincount(
        &self,
        weights: Option<&Array>,
        minlength: usize,
        exec: &impl Executor,
    ) -> Result<Array> {
        if self.ndim() != 1 {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("bincount needs a 1-d array, not {}-d", self.ndim()),
            ));
        }
        if self.dtype().is_float() {
            return Err(Error::new(
                ErrorKind::Type,
                format!("bincount of {} values", self.dtype()),
            ));
        }
        let weights = self.aligned_weights(weights)?;
        let x = self.materialize();
        let mut len = minlength;
        if !x.is_empty() {
            let (lo, hi) = (x.min(None)?, x.max(None)?);
            let g = super::collect_graph(&[lo.layer(), hi.layer()])?;
            let plan = Plan::new(&g, &[lo.block_key(&[]), hi.block_key(&[])])?;
            let out = exec.run(&plan)?;
            let v: Vec<i64> = out
                .values
                .iter()
                .map(|v| block_of(v).map(|b| as_f64(b)[0] as i64))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::new(e.kind(), e.message()))?;
            if v[0] < 0 {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "bincount of negative values",
                ));
            }
            len = len.max(
                usize::try_from(v[1])
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
            );
        }
        checked_size(&[len], 8)?;
        let base = token(
            "bincount",
            (x.name(), weights.as_ref().map(|w| w.name().clone()), len),
        );
        let weighted = weights.is_some();
        let (mut graph, root) =
            count_layers(&x, weights.as_ref(), None, &base, move |xs, ws, _| {
                let mut f = vec![0.0; if ws.is_some() { len } else { 0 }];
                let mut c = vec![0i64; if ws.is_some() { 0 } else { len }];
                for (j, &v) in xs.iter().enumerate() {
                    if !(v >= 0.0 && v < len as f64) {
                        return Err(task_err(
                            ErrorKind::InvalidArgument,
                            format!("bincount value {v} outside 0..{len}"),
                        ));
                    }
                    match ws {
                        Some(w) => f[v as usize] += w[j],
                        None => c[v as usize] += 1,
                    }
                }
                Ok(if ws.is_some() {
                    Counts::F(f)
                } else {
                    Counts::I(c)
                })
            });
        let ctx = self.context().clone();
        let fin = Op::new("bincount", move |args: &[Value]| {
            let data = match counts_of(&args[0])? {
                Counts::I(v) => BlockData::I64(
                    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).expect("1-d"),
                ),
                Counts::F(v) => BlockData::F64(
                    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.clone()).expect("1-d"),
                ),
            };
            Ok(ctx.block(data))
        });
        graph.insert(
            Key::block(&base, &[0]),
            Node::Task(Task::new(&fin, [Arg::key(root)])),
        );
        let mut deps = vec![x.layer()];
        deps.extend(weights.map(|w| w.layer()));
        let layer = Layer {
            name: base,
            graph,
            deps,
        };
        let dtype = if weighted { DType::F64 } else { DType::I64 };
        Ok(Array::from_layer(
            self.context(),
            layer,
            Chunks::from_axes(vec![vec![len]])?,
            dtype,
        ))
    }
}
