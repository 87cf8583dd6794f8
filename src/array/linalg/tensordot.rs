//! `tensordot` over any number of axes, and `matmul` / `dot` on top of it.
//!
//! Contraction axes of the two operands are chunked alike first (the common refinement,
//! a view). Each output block is one task that multiplies the matching pairs of input
//! blocks, reached through two panel values (the blocks of one row of `a` and of one
//! column of `b`, so the graph grows with the blocks, not with the block pairs) with faer's
//! sequential GEMM (`C ← A·B + β·C`), accumulating straight into the
//! output block: β = 0 for the first pair (the pooled buffer need not be initialised) and
//! 1 after. That block product is [`block_product`]; this file builds the graph.

use crate::array::dtype::{BlockData, DType};
use crate::array::grid::{BlockIndices, Chunks, norm_axis, refine};
use crate::array::kernels::gemm::{MatLayout, block_product};
use crate::array::{Array, Layer, blocks_of, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use std::sync::Arc;

impl Array {
    /// Sums products over `axes_a` of `self` and `axes_b` of `other` (NumPy's `tensordot`).
    /// The result's axes are `self`'s free axes, then `other`'s. Types promote (`bool`
    /// multiplies as `i64`).
    ///
    /// Errors: axis lists of different lengths or repeated axes are
    /// [`Index`](ErrorKind::Index) errors; contracted axes of different lengths are
    /// [`Shape`](ErrorKind::Shape) errors.
    pub fn tensordot(&self, other: &Array, axes_a: &[isize], axes_b: &[isize]) -> Result<Array> {
        if axes_a.len() != axes_b.len() {
            return Err(Error::new(
                ErrorKind::Index,
                "tensordot needs as many axes on each side",
            ));
        }
        let ca: Vec<usize> = axes_a
            .iter()
            .map(|&a| norm_axis(a, self.ndim()))
            .collect::<Result<_>>()?;
        let cb: Vec<usize> = axes_b
            .iter()
            .map(|&a| norm_axis(a, other.ndim()))
            .collect::<Result<_>>()?;
        for (list, n) in [(&ca, self.ndim()), (&cb, other.ndim())] {
            let mut seen = vec![false; n];
            if list.iter().any(|&k| std::mem::replace(&mut seen[k], true)) {
                return Err(Error::new(ErrorKind::Index, "tensordot axis repeated"));
            }
        }
        for (&i, &j) in ca.iter().zip(&cb) {
            if self.shape()[i] != other.shape()[j] {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!(
                        "contracted axes of lengths {} and {}",
                        self.shape()[i],
                        other.shape()[j]
                    ),
                ));
            }
        }
        let mut dt = DType::promote(self.dtype(), other.dtype());
        if dt == DType::Bool {
            dt = DType::I64;
        }
        // Chunk the contracted axes alike.
        let (mut a_axes, mut b_axes) = (
            self.chunks().axes().to_vec(),
            other.chunks().axes().to_vec(),
        );
        for (&i, &j) in ca.iter().zip(&cb) {
            let r = refine(&a_axes[i], &b_axes[j]);
            a_axes[i] = r.clone();
            b_axes[j] = r;
        }
        let a = self.astype(dt)?.rechunk(a_axes)?.materialize();
        let b = other.astype(dt)?.rechunk(b_axes)?.materialize();
        contract(&a, &b, &ca, &cb, dt)
    }

    /// Matrix product (NumPy's `matmul`): 1-D and 2-D operands directly; with more axes,
    /// the leading ones are batch axes, broadcast against each other, and each batch entry
    /// is a 2-D product (a 1-D operand is a row or column vector, as in NumPy).
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        match (self.ndim(), other.ndim()) {
            (0, _) | (_, 0) => Err(Error::new(
                ErrorKind::InvalidArgument,
                "matmul of a 0-d array",
            )),
            (1 | 2, 1 | 2) => self.tensordot(other, &[-1], &[0]),
            (1, _) => self.expand_dims(0)?.matmul(other)?.squeeze(Some(&[-2])),
            (_, 1) => self.matmul(&other.expand_dims(1)?)?.squeeze(Some(&[-1])),
            _ => self.batched_matmul(other),
        }
    }

    /// `matmul` with batch axes: one 2-D product per batch entry, stacked back.
    fn batched_matmul(&self, other: &Array) -> Result<Array> {
        let (na, nb) = (self.ndim(), other.ndim());
        let batch = crate::array::grid::broadcast_shapes(
            &self.shape()[..na - 2],
            &other.shape()[..nb - 2],
        )?;
        let mut a_shape = batch.clone();
        a_shape.extend_from_slice(&self.shape()[na - 2..]);
        let mut b_shape = batch.clone();
        b_shape.extend_from_slice(&other.shape()[nb - 2..]);
        let (a, b) = (self.broadcast_to(&a_shape)?, other.broadcast_to(&b_shape)?);
        stack_products(&a, &b, batch.len())
    }
    /// NumPy's `dot`: sums over the last axis of `self` and the second-to-last of `other`
    /// (its only axis when it is 1-D); scalars (0-d) multiply elementwise.
    pub fn dot(&self, other: &Array) -> Result<Array> {
        match (self.ndim(), other.ndim()) {
            (0, _) | (_, 0) => self.mul(other),
            (_, 1) => self.tensordot(other, &[-1], &[0]),
            _ => self.tensordot(other, &[-1], &[-2]),
        }
    }
}

/// Products of the 2-D trailing matrices of `a` and `b` over `depth` leading batch axes.
fn stack_products(a: &Array, b: &Array, depth: usize) -> Result<Array> {
    if depth == 0 {
        return a.tensordot(b, &[-1], &[0]);
    }
    let parts: Vec<Array> = (0..a.shape()[0])
        .map(|i| {
            let (ai, bi) = (
                a.index(&[crate::array::Idx::Int(i as isize)])?,
                b.index(&[crate::array::Idx::Int(i as isize)])?,
            );
            stack_products(&ai, &bi, depth - 1)
        })
        .collect::<Result<_>>()?;
    if parts.is_empty() {
        let mut shape = a.shape()[..a.ndim() - 1].to_vec();
        shape.push(b.shape()[b.ndim() - 1]);
        return a.context().zeros(&shape, 1, a.dtype());
    }
    Array::stack(&parts, 0)
}

/// The task op: the output block of the index given as first argument, from the lists of
/// `a` and `b` blocks given as second and third.
fn product_op(
    ctx: crate::array::ArrayContext,
    nc: Chunks,
    layouts: Arc<(MatLayout, MatLayout)>,
    dt: DType,
) -> Op {
    Op::new("tensordot", move |args: &[Value]| {
        let idx = crate::array::block_index(&args[0])?;
        let av = blocks_of(args[1].as_list().unwrap_or(&[]))?;
        let bv = blocks_of(args[2].as_list().unwrap_or(&[]))?;
        let mut out = ctx.alloc(dt, &nc.block_shape(&idx))?;
        let (la, lb) = (&layouts.0, &layouts.1);
        macro_rules! run {
            ($($v:ident),*) => {
                match &mut out {
                    $(BlockData::$v(o) => {
                        let pairs: Vec<_> = av.iter().zip(&bv).filter_map(|(x, y)| match (x, y) {
                            (BlockData::$v(x), BlockData::$v(y)) => Some((x, y)),
                            _ => None,
                        }).collect();
                        if pairs.len() != av.len() {
                            return Err(TaskError::with_kind(ErrorKind::Type, "tensordot block types differ"));
                        }
                        block_product(&pairs, la, lb, o)?;
                    })*
                    _ => return Err(TaskError::with_kind(ErrorKind::Type, "tensordot of bool blocks")),
                }
            };
        }
        run!(I32, I64, F32, F64);
        Ok(ctx.block(out))
    })
}

/// The contraction graph. Each operand's blocks are gathered into panels, one per index of
/// its free axes: a panel task lists the blocks along the contracted axes (shared values,
/// nothing copied). Each output block is then one task of two references, its row panel of
/// `a` and its column panel of `b`, summing the block products into the output block.
///
/// Tasks: output blocks plus panels; references: the blocks of `a` and `b` once each plus
/// two per output block. Spelling out every block pair instead would take output blocks ×
/// contracted blocks references: 2^24 of them for two 256 × 256 grids.
fn contract(a: &Array, b: &Array, ca: &[usize], cb: &[usize], dt: DType) -> Result<Array> {
    let fa: Vec<usize> = (0..a.ndim()).filter(|k| !ca.contains(k)).collect();
    let fb: Vec<usize> = (0..b.ndim()).filter(|k| !cb.contains(k)).collect();
    let la = MatLayout {
        order: fa.iter().chain(ca).copied().collect(),
        rows: fa.len(),
    };
    let lb = MatLayout {
        order: cb.iter().chain(&fb).copied().collect(),
        rows: cb.len(),
    };
    let out_axes: Vec<Vec<usize>> = fa
        .iter()
        .map(|&k| a.chunks().axis(k).to_vec())
        .chain(fb.iter().map(|&k| b.chunks().axis(k).to_vec()))
        .collect();
    let chunks = Chunks::from_axes(out_axes)?;
    let name = token("tensordot", (a.name(), b.name(), ca, cb));
    let op = product_op(a.context().clone(), chunks.clone(), Arc::new((la, lb)), dt);
    let mut graph = Graph::with_capacity(chunks.nblocks());
    let panel_a: Arc<str> = format!("{name}-a").into();
    let panel_b: Arc<str> = format!("{name}-b").into();
    add_panels(&mut graph, &panel_a, a, &fa, ca);
    add_panels(&mut graph, &panel_b, b, &fb, cb);
    for idx in chunks.indices() {
        let (ia, ib) = idx.split_at(fa.len());
        let args = [
            Arg::lit(crate::array::index_value(&idx)),
            Arg::key(Key::block(&panel_a, ia)),
            Arg::key(Key::block(&panel_b, ib)),
        ];
        graph.insert(Key::block(&name, &idx), Node::Task(Task::new(&op, args)));
    }
    let layer = Layer {
        name,
        graph,
        deps: vec![a.layer(), b.layer()],
    };
    Ok(Array::from_layer(a.context(), layer, chunks, dt))
}

/// Adds to `graph` one panel task `(name, free index...)` per index of the `free` axes of
/// `x`: the list of its blocks along the `contracted` axes, in row-major order of those axes.
fn add_panels(graph: &mut Graph, name: &Arc<str>, x: &Array, free: &[usize], contracted: &[usize]) {
    let panel = Op::new("tensordot-panel", |args: &[Value]| {
        Ok(Value::List(args.into()))
    });
    let counts =
        |axes: &[usize]| -> Vec<usize> { axes.iter().map(|&k| x.chunks().axis(k).len()).collect() };
    let mut at = vec![0; x.ndim()];
    for f in BlockIndices::new(counts(free)) {
        for (&k, &i) in free.iter().zip(&f) {
            at[k] = i;
        }
        let blocks: Vec<Arg> = BlockIndices::new(counts(contracted))
            .map(|c| {
                for (&k, &i) in contracted.iter().zip(&c) {
                    at[k] = i;
                }
                Arg::key(x.block_key(&at))
            })
            .collect();
        graph.insert(Key::block(name, &f), Node::Task(Task::new(&panel, blocks)));
    }
}
