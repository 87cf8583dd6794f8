//! User functions on blocks: `map_blocks` (with the block index) and `map_overlap` (each
//! block extended by a halo from its neighbours or the boundary).

use super::dtype::{BlockData, DType, Element, Scalar, with_block};
use super::grid::{BlockIndices, Chunks, Grid, locate};
use super::{Array, Layer, block_index, blocks_of, index_value, token, unique};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use ndarray::{ArrayD, IxDyn, Slice};
use std::sync::Arc;

/// What lies beyond the array's edges in [`Array::map_overlap`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Boundary {
    /// Nothing: blocks at the edges get no halo on that side.
    None,
    /// A constant value.
    Constant(f64),
    /// The array wraps around.
    Periodic,
    /// The array mirrored at its edge, edge element included (`symmetric` in NumPy's pad).
    Reflect,
    /// The edge element repeated (`edge` in NumPy's pad, `nearest` in dask).
    Nearest,
}

/// What tells one user function from another in its output's keys.
#[derive(Clone, Copy, Hash)]
enum FnToken<'a> {
    /// A number no other call got: keys of their own.
    Unique(u64),
    /// The caller's token: the caller promises one function per token.
    Given(&'a str),
}

#[cold]
fn shape_err(want: &[usize], got: &[usize]) -> TaskError {
    TaskError::with_kind(
        ErrorKind::Shape,
        format!("block function returned shape {got:?}, expected {want:?}"),
    )
}

impl Array {
    /// Applies `f(block, index)` to every block. `name` labels the function in the keys and
    /// in errors; `dtype` is the type it returns, and each result must have its input block's
    /// shape (a task error otherwise).
    ///
    /// Every call gets keys of its own, so two different closures under one name never share
    /// keys. To let equal computations share keys (and be computed once when both appear in
    /// one graph), use [`map_blocks_with_token`](Self::map_blocks_with_token).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, BlockData, DType};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.zeros(&[4], 2, DType::I64)?;
    /// // Each element becomes its block's index.
    /// let y = x.map_blocks("block-id", DType::I64, |b, idx| {
    ///     Ok(BlockData::I64(ndarray::ArrayD::from_elem(b.shape(), idx[0] as i64)))
    /// })?;
    /// let got = y.compute::<i64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[0, 0, 1, 1]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn map_blocks(
        &self,
        name: &str,
        dtype: DType,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array> {
        self.map_blocks_named(name, FnToken::Unique(unique()), dtype, f)
    }

    /// [`map_blocks`](Self::map_blocks) with a caller-supplied token: the output's keys are
    /// a hash of `name`, `token`, the input and `dtype`, so the same call made twice gives
    /// the same keys. Passing one token promises that the function is the same: two
    /// different functions given the same name and token on the same input are taken to be
    /// one (whichever a graph holds first is computed).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, BlockData, DType};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.ones(&[4], 2, DType::F64)?;
    /// let double = |b: &BlockData, _: &[usize]| match b {
    ///     BlockData::F64(a) => Ok(BlockData::F64(a * 2.0)),
    ///     _ => Err("expected f64".into()),
    /// };
    /// let a = x.map_blocks_with_token("double", "v1", DType::F64, double)?;
    /// let b = x.map_blocks_with_token("double", "v1", DType::F64, double)?;
    /// assert_eq!(a.name(), b.name());
    /// assert_eq!(a.add(&b)?.sum(None)?.compute_scalar(&blockwork::Sequential::new())?.as_f64(), 16.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn map_blocks_with_token(
        &self,
        name: &str,
        token: &str,
        dtype: DType,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array> {
        self.map_blocks_named(name, FnToken::Given(token), dtype, f)
    }

    fn map_blocks_named(
        &self,
        name: &str,
        fn_token: FnToken<'_>,
        dtype: DType,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array> {
        let src = self.materialize();
        let out = token(name, (src.name(), dtype, fn_token));
        let (ctx, grid) = (self.context().clone(), self.grid().clone());
        let op = Op::new(name, move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let b = blocks_of(&args[1..])?[0];
            let r = f(b, &idx)?;
            // Unknown lengths: each result keeps its input block's length.
            let want = match &grid {
                Grid::Known(c) => c.block_shape(&idx),
                Grid::Unknown(_) => b.shape().to_vec(),
            };
            if r.shape() != want.as_slice() || r.dtype() != dtype {
                return Err(shape_err(&want, r.shape()));
            }
            Ok(ctx.block(r))
        });
        let mut graph = Graph::with_capacity(self.grid().nblocks());
        for idx in self.grid().indices() {
            let args = [Arg::lit(index_value(&idx)), Arg::key(src.block_key(&idx))];
            graph.insert(Key::block(&out, &idx), Node::Task(Task::new(&op, args)));
        }
        let layer = Layer {
            name: out,
            graph,
            deps: vec![src.layer()],
        };
        Ok(Array::from_layer(
            self.context(),
            layer,
            self.grid().clone(),
            dtype,
        ))
    }

    /// Applies `f` to each block extended by `depth[k]` elements on both sides of axis `k`
    /// (taken from the neighbouring blocks, or from `boundary` at the array's edges: a
    /// constant, the wrapped-around array, its mirror image or its edge element repeated), then
    /// trims the halo from the result. `f` must return a block of the extended shape.
    /// `name` labels the function; every call gets keys of its own (see
    /// [`map_overlap_with_token`](Self::map_overlap_with_token) for shared keys).
    ///
    /// Errors: a depth list of the wrong length is a [`Shape`](ErrorKind::Shape) error;
    /// a halo deeper than its axis is [`InvalidArgument`](ErrorKind::InvalidArgument),
    /// except with [`Boundary::None`], where halos stop at the array's edge anyway; an
    /// extended block too large to allocate is [`Overflow`](ErrorKind::Overflow).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, BlockData, Boundary, DType};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 6.0, 1.0, 2)?;
    /// // Each element becomes the sum of itself and its neighbours (zeros beyond the ends).
    /// let y = x.map_overlap("sum3", &[1], Boundary::Constant(0.0), |b, _| match b {
    ///     BlockData::F64(a) => {
    ///         let n = a.len();
    ///         Ok(BlockData::F64(ndarray::ArrayD::from_shape_fn(a.raw_dim(), |i| {
    ///             let j = i[0];
    ///             (j.saturating_sub(1)..(j + 2).min(n)).map(|k| a[[k]]).sum()
    ///         })))
    ///     }
    ///     _ => Err("expected f64".into()),
    /// })?;
    /// let got = y.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[1.0, 3.0, 6.0, 9.0, 12.0, 9.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn map_overlap(
        &self,
        name: &str,
        depth: &[usize],
        boundary: Boundary,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array> {
        self.map_overlap_named(name, FnToken::Unique(unique()), depth, boundary, f)
    }

    /// [`map_overlap`](Self::map_overlap) with a caller-supplied token: the same name,
    /// token, input, depth and boundary give the same keys. One token promises one function,
    /// as in [`map_blocks_with_token`](Self::map_blocks_with_token).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, BlockData, Boundary, DType};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.ones(&[4], 2, DType::F64)?;
    /// let id = |b: &BlockData, _: &[usize]| Ok(b.clone());
    /// let a = x.map_overlap_with_token("id", "v1", &[1], Boundary::Reflect, id)?;
    /// let b = x.map_overlap_with_token("id", "v1", &[1], Boundary::Reflect, id)?;
    /// assert_eq!(a.name(), b.name());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn map_overlap_with_token(
        &self,
        name: &str,
        token: &str,
        depth: &[usize],
        boundary: Boundary,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array> {
        self.map_overlap_named(name, FnToken::Given(token), depth, boundary, f)
    }

    fn map_overlap_named(
        &self,
        name: &str,
        fn_token: FnToken<'_>,
        depth: &[usize],
        boundary: Boundary,
        f: impl Fn(&BlockData, &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Array> {
        let (shape, chunks) = (self.shape(), self.chunks());
        let n = self.ndim();
        if depth.len() != n {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("{} depths for {n} axes", depth.len()),
            ));
        }
        if boundary != Boundary::None && (0..n).any(|k| depth[k] > shape[k]) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "halo deeper than its axis",
            ));
        }
        // Without a boundary a halo stops at the array's edge: a deeper one is the same.
        let depth: Vec<usize> = (0..n).map(|k| depth[k].min(shape[k])).collect();
        let depth = depth.as_slice();
        // The largest extended block must be a size that can be allocated.
        let ext: Vec<usize> = (0..n)
            .map(|k| {
                let widest = chunks.axis(k).iter().copied().max().unwrap_or(0);
                depth[k]
                    .checked_mul(2)
                    .and_then(|d| d.checked_add(widest))
                    .ok_or_else(|| Error::new(ErrorKind::Overflow, "halo size overflows"))
            })
            .collect::<Result<_>>()?;
        super::grid::checked_size(&ext, self.dtype().itemsize())?;
        let src = self.materialize();
        let plans: Vec<Vec<AxisHalo>> = (0..n)
            .map(|k| {
                (0..chunks.axis(k).len())
                    .map(|b| axis_halo(chunks, k, b, depth[k], boundary))
                    .collect()
            })
            .collect();
        let plans = Arc::new(plans);
        let out = token(name, (src.name(), depth, format!("{boundary:?}"), fn_token));
        let (ctx, ck, p2) = (self.context().clone(), chunks.clone(), plans.clone());
        let plans = &plans[..];
        let fill = match boundary {
            Boundary::Constant(c) => Scalar::F64(c),
            _ => Scalar::F64(0.0),
        };
        let op = Op::new(name, move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let parts = blocks_of(args[1].as_list().unwrap_or(&[]))?;
            let halos: Vec<&AxisHalo> = idx.iter().enumerate().map(|(k, &b)| &p2[k][b]).collect();
            let ext = assemble(&parts, &halos, fill)?;
            let r = f(&ext, &idx)?;
            if r.shape() != ext.shape() {
                return Err(shape_err(ext.shape(), r.shape()));
            }
            Ok(ctx.block(trim(&r, &halos, &ck.block_shape(&idx))))
        });
        let layer = overlap_layer(&src, plans, &op, out);
        Ok(Array::from_layer(
            self.context(),
            layer,
            chunks.clone(),
            self.dtype(),
        ))
    }
}

/// `r` without its halos: `shape` elements from each axis's halo start.
fn trim(r: &BlockData, halos: &[&AxisHalo], shape: &[usize]) -> BlockData {
    with_block!(r, a => Element::wrap(
        a.slice_each_axis(|ax| {
            let k = ax.axis.index();
            Slice::from(halos[k].before..halos[k].before + shape[k])
        })
        .to_owned()
    ))
}

/// One `op` task per block of `src`, reading every block its halo plan lists.
fn overlap_layer(src: &Array, plans: &[Vec<AxisHalo>], op: &Op, out: Arc<str>) -> Layer {
    let mut graph = Graph::with_capacity(src.grid().nblocks());
    for idx in src.grid().indices() {
        let counts: Vec<usize> = idx
            .iter()
            .enumerate()
            .map(|(k, &b)| plans[k][b].blocks.len())
            .collect();
        let keys: Vec<Arg> = BlockIndices::new(counts)
            .map(|c| {
                let s: Vec<usize> = c
                    .iter()
                    .enumerate()
                    .map(|(k, &j)| plans[k][idx[k]].blocks[j])
                    .collect();
                Arg::key(src.block_key(&s))
            })
            .collect();
        let args = [Arg::lit(index_value(&idx)), Arg::list(keys)];
        graph.insert(Key::block(&out, &idx), Node::Task(Task::new(op, args)));
    }
    Layer {
        name: out,
        graph,
        deps: vec![src.layer()],
    }
}

/// Where the extended block's positions come from along one axis.
#[derive(Debug)]
struct AxisHalo {
    /// Source blocks read, ascending.
    blocks: Vec<usize>,
    /// Per extended position: `(index into blocks, offset)`, or `None` for the constant.
    src: Vec<Option<(usize, usize)>>,
    /// Halo length before the block (the trim).
    before: usize,
}

fn axis_halo(c: &Chunks, k: usize, b: usize, d: usize, boundary: Boundary) -> AxisHalo {
    let offs = c.offsets(k);
    let len = offs[offs.len() - 1] as isize;
    let (s, e) = (offs[b] as isize, offs[b + 1] as isize);
    let (lo, hi) = match boundary {
        Boundary::None => ((s - d as isize).max(0), (e + d as isize).min(len)),
        _ => (s - d as isize, e + d as isize),
    };
    let global: Vec<Option<usize>> = (lo..hi)
        .map(|p| match boundary {
            _ if (0..len).contains(&p) => Some(p as usize),
            Boundary::Periodic => Some(p.rem_euclid(len) as usize),
            Boundary::Reflect if p < 0 => Some((-p - 1) as usize),
            Boundary::Reflect => Some((2 * len - p - 1) as usize),
            Boundary::Nearest => Some(p.clamp(0, len - 1) as usize),
            _ => None,
        })
        .collect();
    let mut blocks: Vec<usize> = global
        .iter()
        .flatten()
        .map(|&p| locate(offs, p).0)
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    if blocks.is_empty() {
        blocks.push(b);
    }
    let src = global
        .iter()
        .map(|g| {
            g.map(|p| {
                let (blk, off) = locate(offs, p);
                (blocks.binary_search(&blk).expect("listed"), off)
            })
        })
        .collect();
    AxisHalo {
        blocks,
        src,
        before: (s - lo) as usize,
    }
}

/// The extended block: every position looked up in the parts (row-major over the per-axis
/// block lists) or filled with the constant.
fn assemble(
    parts: &[&BlockData],
    halos: &[&AxisHalo],
    fill: Scalar,
) -> std::result::Result<BlockData, TaskError> {
    let shape: Vec<usize> = halos.iter().map(|h| h.src.len()).collect();
    let counts: Vec<usize> = halos.iter().map(|h| h.blocks.len()).collect();
    macro_rules! arms {
        ($($v:ident : $t:ty),*) => {
            match parts[0] {
                $(BlockData::$v(_) => {
                    let typed: Vec<&ArrayD<$t>> = parts.iter().map(|p| match p {
                        BlockData::$v(a) => Ok(a),
                        _ => Err(TaskError::with_kind(ErrorKind::Type, "mixed block types")),
                    }).collect::<std::result::Result<_, _>>()?;
                    let c = <$t>::from_scalar(fill);
                    BlockData::$v(ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                        let mut part = 0;
                        let mut at = Vec::with_capacity(halos.len());
                        for (k, h) in halos.iter().enumerate() {
                            match h.src[i[k]] {
                                None => return c,
                                Some((j, off)) => {
                                    part = part * counts[k] + j;
                                    at.push(off);
                                }
                            }
                        }
                        typed[part][IxDyn(&at)]
                    }))
                })*
            }
        };
    }
    Ok(arms!(Bool: bool, I32: i32, I64: i64, F32: f32, F64: f64))
}
