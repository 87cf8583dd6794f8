//! Operations that move data between blocks: `take` (integer lists and masks), `rechunk`,
//! `reshape`, `concatenate` and `stack`.
//!
//! A rechunk to a finer grid is a view (each new block lies inside one old block); anything
//! else gets one task per output block that copies the intersecting pieces of its input
//! blocks into a pooled buffer.

use super::dtype::{BlockData, DType, Element, with_block};
use super::expr::{AxisMap, Segment, View};
use super::grid::{BlockIndices, ChunkSpec, Chunks, checked_size, locate, norm_axis};
use super::{Array, Layer, block_of, blocks_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use ndarray::{Axis, Slice, SliceInfoElem};
use std::sync::Arc;

/// One piece of an overlap: `(input block, start in it, start in the output block, length)`.
type Piece = (usize, usize, usize, usize);
/// Per axis, per output block along it: the pieces it is made of.
type AxisPieces = Vec<Vec<Vec<Piece>>>;

/// The overlap of output block `j` (offsets `dst`) with input blocks (offsets `src`):
/// `(input block, start in it, start in the output block, length)` for each piece.
fn overlaps(src: &[usize], dst: &[usize], j: usize) -> Vec<Piece> {
    let (lo, hi) = (dst[j], dst[j + 1]);
    if lo == hi {
        let (b, off) = locate(src, lo);
        return vec![(b, off, 0, 0)];
    }
    // Start at the block holding `lo` and stop at the first block starting at `hi` or
    // beyond: the work is the number of overlapping blocks, not of all blocks.
    let nb = src.len() - 1;
    let first = src[..nb].partition_point(|&o| o <= lo).saturating_sub(1);
    let mut out = Vec::new();
    for b in first..nb {
        if src[b] >= hi {
            break;
        }
        let (s, e) = (src[b].max(lo), src[b + 1].min(hi));
        if s < e {
            out.push((b, s - src[b], s - lo, e - s));
        }
    }
    out
}

fn slice_info(starts: &[usize], lens: &[usize]) -> Vec<SliceInfoElem> {
    starts
        .iter()
        .zip(lens)
        .map(|(&s, &l)| Slice::from(s..s + l).into())
        .collect()
}

/// Copies `src[src_at .. src_at + len]` into `dst[dst_at ..]` (same types).
fn copy_region(
    dst: &mut BlockData,
    src: &BlockData,
    src_at: &[usize],
    dst_at: &[usize],
    len: &[usize],
) -> Result<(), TaskError> {
    let (si, di) = (slice_info(src_at, len), slice_info(dst_at, len));
    macro_rules! arms {
        ($($v:ident),*) => {
            match (dst, src) {
                $((BlockData::$v(d), BlockData::$v(s)) => d.slice_mut(di.as_slice()).assign(&s.slice(si.as_slice())),)*
                _ => return Err(TaskError::with_kind(ErrorKind::Type, "block types differ")),
            }
        };
    }
    arms!(Bool, I32, I64, F32, F64);
    Ok(())
}

impl Array {
    /// Elements at `positions` (already checked) along `axis`: output blocks break where
    /// consecutive positions change input block.
    pub(crate) fn take(&self, axis: usize, positions: &[usize]) -> Result<Array> {
        let src = self.materialize();
        let offs = src.chunks().offsets(axis);
        let mut runs: Vec<(usize, Vec<usize>)> = Vec::new();
        for &p in positions {
            let (b, off) = locate(offs, p);
            match runs.last_mut() {
                Some((rb, v)) if *rb == b => v.push(off),
                _ => runs.push((b, vec![off])),
            }
        }
        if runs.is_empty() {
            runs.push((0, vec![]));
        }
        let mut axes: Vec<Vec<usize>> = src.chunks().axes().to_vec();
        axes[axis] = runs.iter().map(|r| r.1.len()).collect();
        let chunks = Chunks::from_axes(axes)?;
        let name = token("take", (src.name(), axis, positions));
        let runs = Arc::new(runs);
        let (r2, ctx) = (runs.clone(), self.context().clone());
        let op = Op::new("take", move |args: &[Value]| {
            let j = args[1].as_int().unwrap_or(0) as usize;
            let pos = &r2[j].1;
            let b = block_of(&args[0])?;
            Ok(ctx.block(with_block!(b, a => Element::wrap(a.select(Axis(axis), pos)))))
        });
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for idx in chunks.indices() {
            let mut sidx = idx.clone();
            sidx[axis] = runs[idx[axis]].0;
            let args = [Arg::key(src.block_key(&sidx)), Arg::lit(idx[axis] as i64)];
            graph.insert(Key::block(&name, &idx), Node::Task(Task::new(&op, args)));
        }
        let layer = Layer {
            name,
            graph,
            deps: vec![src.layer()],
        };
        Ok(Array::from_layer(
            self.context(),
            layer,
            chunks,
            self.dtype(),
        ))
    }

    /// The same values cut into new blocks.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 3)?.rechunk(4)?;
    /// assert_eq!(x.chunks().axis(0), &[4, 4, 2]);
    /// assert_eq!(x.compute::<f64>(&blockwork::Sequential::new())?[9], 9.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn rechunk(&self, chunks: impl Into<ChunkSpec>) -> Result<Array> {
        let new = Chunks::new(self.shape(), chunks)?;
        if &new == self.chunks() {
            return Ok(self.clone());
        }
        let n = self.ndim();
        let src_offs: Vec<&[usize]> = (0..n).map(|k| self.chunks().offsets(k)).collect();
        let dst_offs: Vec<&[usize]> = (0..n).map(|k| new.offsets(k)).collect();
        let per_axis: AxisPieces = (0..n)
            .map(|k| {
                (0..new.axis(k).len())
                    .map(|j| overlaps(src_offs[k], dst_offs[k], j))
                    .collect()
            })
            .collect();
        if per_axis.iter().all(|ax| ax.iter().all(|o| o.len() == 1)) {
            // Every new block lies in one old block: a view.
            let view = View {
                axes: per_axis
                    .iter()
                    .enumerate()
                    .map(|(k, ax)| {
                        let segs = ax
                            .iter()
                            .map(|o| Segment {
                                block: o[0].0,
                                start: o[0].1,
                                step: 1,
                            })
                            .collect();
                        Some(AxisMap { src: k, segs })
                    })
                    .collect(),
                fixed: vec![],
            };
            return Ok(self.view_as(view, new, "rechunk"));
        }
        Ok(self.rechunk_tasks(new, Arc::new(per_axis)))
    }

    fn rechunk_tasks(&self, new: Chunks, per_axis: Arc<AxisPieces>) -> Array {
        let src = self.materialize();
        let name = token("rechunk", (src.name(), &new));
        let (ctx, dtype, nc, pa) = (
            self.context().clone(),
            self.dtype(),
            new.clone(),
            per_axis.clone(),
        );
        let op = Op::new("rechunk", move |args: &[Value]| {
            let idx = super::block_index(&args[0])?;
            let parts = blocks_of(args[1].as_list().unwrap_or(&[]))?;
            let mut out = ctx.alloc(dtype, &nc.block_shape(&idx));
            let counts: Vec<usize> = idx
                .iter()
                .enumerate()
                .map(|(k, &j)| pa[k][j].len())
                .collect();
            for (p, combo) in parts.iter().zip(BlockIndices::new(counts)) {
                let pieces: Vec<_> = combo
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| pa[k][idx[k]][c])
                    .collect();
                let s: Vec<usize> = pieces.iter().map(|x| x.1).collect();
                let d: Vec<usize> = pieces.iter().map(|x| x.2).collect();
                let l: Vec<usize> = pieces.iter().map(|x| x.3).collect();
                copy_region(&mut out, p, &s, &d, &l)?;
            }
            Ok(ctx.block(out))
        });
        let mut graph = Graph::with_capacity(new.nblocks());
        for idx in new.indices() {
            let counts: Vec<usize> = idx
                .iter()
                .enumerate()
                .map(|(k, &j)| per_axis[k][j].len())
                .collect();
            let keys = BlockIndices::new(counts)
                .map(|combo| {
                    let sidx: Vec<usize> = combo
                        .iter()
                        .enumerate()
                        .map(|(k, &c)| per_axis[k][idx[k]][c].0)
                        .collect();
                    Arg::key(src.block_key(&sidx))
                })
                .collect::<Vec<_>>();
            let args = [Arg::lit(super::index_value(&idx)), Arg::list(keys)];
            graph.insert(Key::block(&name, &idx), Node::Task(Task::new(&op, args)));
        }
        let layer = Layer {
            name,
            graph,
            deps: vec![src.layer()],
        };
        Array::from_layer(self.context(), layer, new, self.dtype())
    }

    /// The same elements (row-major order) in a new shape; one entry may be `-1` (inferred).
    /// Blocks are re-cut along the first axis with the trailing axes whole, so each block is
    /// a contiguous range of the flat order.
    pub fn reshape(&self, shape: &[isize]) -> Result<Array> {
        let total = self.len();
        let dims = || shape.iter().filter(|&&d| d >= 0).map(|&d| d as usize);
        // The product of the given lengths, which may overflow only when none is 0.
        let known: usize = if dims().any(|d| d == 0) {
            0
        } else {
            dims()
                .try_fold(1usize, |a, d| a.checked_mul(d))
                .ok_or_else(|| Error::new(ErrorKind::Overflow, "element count overflows"))?
        };
        let infer = shape.iter().filter(|&&d| d == -1).count();
        if infer > 1 || shape.iter().any(|&d| d < -1) {
            return Err(Error::new(ErrorKind::Shape, format!("bad shape {shape:?}")));
        }
        let out: Vec<usize> = shape
            .iter()
            .map(|&d| {
                if d == -1 {
                    total.checked_div(known).unwrap_or(0)
                } else {
                    d as usize
                }
            })
            .collect();
        if checked_size(&out, 8)? != total {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("cannot reshape {:?} to {shape:?}", self.shape()),
            ));
        }
        if out == self.shape() {
            return Ok(self.clone());
        }
        if total == 0 {
            // Nothing to move: an empty array of the new shape, one block per axis.
            let whole: Vec<usize> = out.iter().map(|&d| d.max(1)).collect();
            return self.context().zeros(&out, whole, self.dtype());
        }
        let target = self
            .chunks()
            .indices()
            .next()
            .map_or(1, |i| {
                self.chunks().block_shape(&i).iter().product::<usize>()
            })
            .max(1);
        let src = self
            .rechunk(row_blocks(self.shape(), target))?
            .materialize();
        let new = Chunks::new(&out, row_blocks(&out, target))?;
        Ok(flat_regroup(&src, new))
    }

    /// Arrays joined along an existing axis (types promote; other axes must match).
    pub fn concatenate(arrays: &[Array], axis: isize) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "concatenate of no arrays"))?;
        let k = norm_axis(axis, first.ndim())?;
        let dtype = arrays
            .iter()
            .map(Array::dtype)
            .reduce(DType::promote)
            .expect("non-empty");
        for a in arrays {
            let same = a.ndim() == first.ndim()
                && (0..a.ndim()).all(|j| j == k || a.shape()[j] == first.shape()[j]);
            if !same {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!(
                        "cannot concatenate {:?} with {:?} on axis {k}",
                        first.shape(),
                        a.shape()
                    ),
                ));
            }
        }
        let srcs: Vec<Array> = arrays
            .iter()
            .map(|a| a.astype(dtype).map(|a| a.materialize()))
            .collect::<Result<_>>()?;
        // Other axes take the first array's chunks; the rest are rechunked to match.
        let mut axes = first.chunks().axes().to_vec();
        axes[k] = srcs
            .iter()
            .flat_map(|a| a.chunks().axis(k).to_vec())
            .collect();
        let srcs: Vec<Array> = srcs
            .iter()
            .map(|a| {
                let mut c = axes.clone();
                c[k] = a.chunks().axis(k).to_vec();
                a.rechunk(c).map(|a| a.materialize())
            })
            .collect::<Result<_>>()?;
        let names: Vec<&Arc<str>> = srcs.iter().map(Array::name).collect();
        let name = token("concatenate", (names, k));
        let chunks = Chunks::from_axes(axes)?;
        let mut graph = Graph::with_capacity(chunks.nblocks());
        let owner: Vec<(usize, usize)> = srcs
            .iter()
            .enumerate()
            .flat_map(|(i, a)| (0..a.chunks().axis(k).len()).map(move |b| (i, b)))
            .collect();
        for idx in chunks.indices() {
            let (i, b) = owner[idx[k]];
            let mut sidx = idx.clone();
            sidx[k] = b;
            graph.insert(
                Key::block(&name, &idx),
                Node::Alias(srcs[i].block_key(&sidx)),
            );
        }
        let layer = Layer {
            name,
            graph,
            deps: srcs.iter().map(Array::layer).collect(),
        };
        Ok(Array::from_layer(first.context(), layer, chunks, dtype))
    }

    /// Arrays of one shape joined along a new axis.
    pub fn stack(arrays: &[Array], axis: isize) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "stack of no arrays"))?;
        if arrays.iter().any(|a| a.shape() != first.shape()) {
            return Err(Error::new(
                ErrorKind::Shape,
                "stack needs arrays of one shape",
            ));
        }
        let k = norm_axis(axis, first.ndim() + 1)? as isize;
        let expanded: Vec<Array> = arrays
            .iter()
            .map(|a| a.expand_dims(k))
            .collect::<Result<_>>()?;
        Array::concatenate(&expanded, k)
    }
}

/// Chunks with trailing axes whole and about `target` elements per block along axis 0.
fn row_blocks(shape: &[usize], target: usize) -> ChunkSpec {
    if shape.is_empty() {
        return ChunkSpec::Explicit(vec![]);
    }
    let row: usize = shape[1..].iter().product::<usize>().max(1);
    let rows = (target / row).max(1);
    let mut v = vec![rows];
    v.extend_from_slice(&shape[1..]);
    for (k, &d) in shape.iter().enumerate().skip(1) {
        v[k] = d.max(1);
    }
    ChunkSpec::PerAxis(v)
}

/// Output blocks (contiguous flat ranges) gathered from input blocks (contiguous flat
/// ranges) of `src`.
fn flat_regroup(src: &Array, new: Chunks) -> Array {
    let flat = |c: &Chunks| -> Vec<usize> {
        let row: usize = if c.ndim() == 0 {
            1
        } else {
            c.shape()[1..].iter().product()
        };
        if c.ndim() == 0 {
            vec![0, 1]
        } else {
            c.offsets(0).iter().map(|o| o * row).collect()
        }
    };
    let (so, dofs) = (flat(src.chunks()), flat(&new));
    let name = token("reshape", (src.name(), &new));
    let (ctx, dtype, nc) = (src.context().clone(), src.dtype(), new.clone());
    let pieces: Arc<Vec<Vec<Piece>>> = Arc::new(
        (0..dofs.len() - 1)
            .map(|j| overlaps(&so, &dofs, j))
            .collect(),
    );
    let pc = pieces.clone();
    let op = Op::new("reshape", move |args: &[Value]| {
        let j = args[0].as_int().unwrap_or(0) as usize;
        let parts = blocks_of(args[1].as_list().unwrap_or(&[]))?;
        let idx: Vec<usize> = if nc.ndim() == 0 {
            vec![]
        } else {
            let mut v = vec![0; nc.ndim()];
            v[0] = j;
            v
        };
        let mut out = ctx.alloc(dtype, &nc.block_shape(&idx));
        copy_flat(&mut out, &parts, &pc[j])?;
        Ok(ctx.block(out))
    });
    let mut graph = Graph::with_capacity(new.nblocks());
    for (j, idx) in new.indices().enumerate() {
        let keys: Vec<Arg> = pieces[j]
            .iter()
            .map(|&(b, ..)| {
                let mut s = vec![0; src.ndim()];
                if !s.is_empty() {
                    s[0] = b;
                }
                Arg::key(src.block_key(&s))
            })
            .collect();
        graph.insert(
            Key::block(&name, &idx),
            Node::Task(Task::new(&op, [Arg::lit(j as i64), Arg::list(keys)])),
        );
    }
    let layer = Layer {
        name,
        graph,
        deps: vec![src.layer()],
    };
    Array::from_layer(src.context(), layer, new, src.dtype())
}

/// Copies each piece `(_, from, to, len)` of the flat order from its part into `out`.
fn copy_flat(out: &mut BlockData, parts: &[&BlockData], pieces: &[Piece]) -> Result<(), TaskError> {
    for (p, &(_, s, d, l)) in parts.iter().zip(pieces) {
        macro_rules! arms {
            ($($v:ident),*) => {
                match (&mut *out, p) {
                    $((BlockData::$v(o), BlockData::$v(i)) => match (o.as_slice_mut(), i.as_slice()) {
                        (Some(o), Some(i)) => o[d..d + l].copy_from_slice(&i[s..s + l]),
                        _ => return Err(TaskError::new("internal: non-contiguous block")),
                    },)*
                    _ => return Err(TaskError::with_kind(ErrorKind::Type, "block types differ")),
                }
            };
        }
        arms!(Bool, I32, I64, F32, F64);
    }
    Ok(())
}
