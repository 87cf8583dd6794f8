//! Pointwise indexing by several integer lists (dask's `x.vindex[[1, 2], [3, 4]]`).
//!
//! Point `j` of the result is `x[i0[j], i1[j], ..., :, ...]`. The points are cut into
//! blocks of consecutive points; each output block reads only the input blocks its points
//! fall in, so the graph has at most one edge per point and output block of the remaining
//! axes, whatever the pattern of the points.

use super::dtype::{BlockData, Element, with_block};
use super::grid::{Chunks, locate, norm_axis};
use super::{Array, Layer, block_index, blocks_of, index_value, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use ndarray::{ArrayD, Axis};
use std::sync::Arc;

/// The points of one output block: the input block indices (over the indexed axes) they
/// read, and per point the part it reads and its offsets in that part.
struct PointBlock {
    parts: Vec<Vec<usize>>,
    points: Vec<(usize, Vec<usize>)>,
}

impl Array {
    /// Pointwise indexing: with `p` lists of equal length `n`, element `j` of the first
    /// axis of the result is `self[idx[0][j], ..., idx[p-1][j], ...]`; the result has shape
    /// `[n]` followed by the axes after the first `p` (negative positions count from the
    /// end). Points are blocked by the length of the first axis's widest block.
    ///
    /// Errors: no lists or more lists than axes are [`Index`](ErrorKind::Index) errors, as
    /// is a position out of bounds; lists of different lengths are a
    /// [`Shape`](ErrorKind::Shape) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let a = ndarray::Array::from_shape_fn((4, 5), |(i, j)| (10 * i + j) as i64).into_dyn();
    /// let x = ctx.from_ndarray(&a, [3, 2])?;
    /// let got = x.vindex(&[&[1, 2, -1], &[3, 4, 0]])?.compute::<i64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[13, 24, 30]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn vindex(&self, idx: &[&[isize]]) -> Result<Array> {
        let p = idx.len();
        if p == 0 || p > self.ndim() {
            return Err(Error::new(
                ErrorKind::Index,
                format!("{p} index lists for {} axes", self.ndim()),
            ));
        }
        let n = idx[0].len();
        if idx.iter().any(|l| l.len() != n) {
            return Err(Error::new(
                ErrorKind::Shape,
                "vindex lists of different lengths",
            ));
        }
        let pos: Vec<Vec<usize>> = (0..p)
            .map(|k| {
                let len = self.shape()[k];
                idx[k]
                    .iter()
                    .map(|&i| {
                        norm_axis(i, len).map_err(|_| {
                            Error::new(
                                ErrorKind::Index,
                                format!("index {i} out of bounds for axis {k} of length {len}"),
                            )
                        })
                    })
                    .collect()
            })
            .collect::<Result<_>>()?;
        let step = self
            .chunks()
            .axis(0)
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1);
        let mut point_chunks: Vec<usize> = (0..n / step).map(|_| step).collect();
        if !n.is_multiple_of(step) || n == 0 {
            point_chunks.push(n % step);
        }
        let blocks: Vec<PointBlock> = point_chunks
            .iter()
            .scan(0, |start, &len| {
                let r = *start..*start + len;
                *start += len;
                Some(self.point_block(&pos, r))
            })
            .collect();
        let mut axes = vec![point_chunks];
        axes.extend(self.chunks().axes()[p..].iter().cloned());
        let chunks = Chunks::from_axes(axes)?;
        Ok(self.gather_layer(idx, blocks, chunks))
    }

    /// Where the points `range` fall.
    fn point_block(&self, pos: &[Vec<usize>], range: std::ops::Range<usize>) -> PointBlock {
        let mut parts: Vec<Vec<usize>> = Vec::new();
        let mut seen = rustc_hash::FxHashMap::default();
        let points = range
            .map(|j| {
                let (b, o): (Vec<usize>, Vec<usize>) = pos
                    .iter()
                    .enumerate()
                    .map(|(k, v)| locate(self.chunks().offsets(k), v[j]))
                    .unzip();
                let part = *seen.entry(b.clone()).or_insert_with(|| {
                    parts.push(b);
                    parts.len() - 1
                });
                (part, o)
            })
            .collect();
        PointBlock { parts, points }
    }

    fn gather_layer(&self, idx: &[&[isize]], blocks: Vec<PointBlock>, chunks: Chunks) -> Array {
        let src = self.materialize();
        let name = token("vindex", (src.name(), idx));
        let blocks = Arc::new(blocks);
        let (b2, ctx, c2, dtype) = (
            blocks.clone(),
            self.context().clone(),
            chunks.clone(),
            self.dtype(),
        );
        let op = Op::new("vindex", move |args: &[Value]| {
            let oidx = block_index(&args[0])?;
            let parts = blocks_of(&args[1..])?;
            let mut out = ctx.alloc(dtype, &c2.block_shape(&oidx))?;
            gather(&mut out, &parts, &b2[oidx[0]].points)?;
            Ok(ctx.block(out))
        });
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for oidx in chunks.indices() {
            let mut args = vec![Arg::lit(index_value(&oidx))];
            for b in &blocks[oidx[0]].parts {
                let mut s = b.clone();
                s.extend_from_slice(&oidx[1..]);
                args.push(Arg::key(src.block_key(&s)));
            }
            graph.insert(Key::block(&name, &oidx), Node::Task(Task::new(&op, args)));
        }
        let layer = Layer {
            name,
            graph,
            deps: vec![src.layer()],
        };
        Array::from_layer(self.context(), layer, chunks, self.dtype())
    }
}

/// Row `j` of `out` is `parts[part]` at `offsets` (over its first axes).
fn gather(
    out: &mut BlockData,
    parts: &[&BlockData],
    points: &[(usize, Vec<usize>)],
) -> std::result::Result<(), TaskError> {
    with_block!(out, o => gather_typed(o, parts, points))
}

fn gather_typed<T: Element>(
    out: &mut ArrayD<T>,
    parts: &[&BlockData],
    points: &[(usize, Vec<usize>)],
) -> std::result::Result<(), TaskError> {
    for (j, (part, offs)) in points.iter().enumerate() {
        let src = T::array_ref(parts[*part])
            .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "vindex: block type differs"))?;
        let mut v = src.view();
        for &off in offs {
            v = v.index_axis_move(Axis(0), off);
        }
        out.index_axis_mut(Axis(0), j).assign(&v);
    }
    Ok(())
}
