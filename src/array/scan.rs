//! Cumulative sums and products along an axis.
//!
//! Each block is scanned on its own; then a chain of small "carry" tasks along the axis
//! folds in the totals of the blocks before it (the last slice of each scanned block), and
//! each output block is its scan combined with its carry. The loops are in
//! [`kernels::scan`](super::kernels::scan); this file builds the graph.

use super::dtype::{BlockData, DType};
use super::grid::norm_axis;
use super::kernels::scan::{apply_carry, next_carry, scan_block};
use super::{Array, Layer, block_of, token};
use crate::error::{ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::Value;
use std::sync::Arc;

#[cold]
fn type_err() -> TaskError {
    TaskError::with_kind(ErrorKind::Type, "scan of a block of unexpected type")
}

impl Array {
    /// Cumulative sum along `axis` (integers and bools accumulate as `i64`).
    pub fn cumsum(&self, axis: isize) -> Result<Array> {
        self.scan(axis, false)
    }

    /// Cumulative product along `axis`.
    pub fn cumprod(&self, axis: isize) -> Result<Array> {
        self.scan(axis, true)
    }

    fn scan(&self, axis: isize, prod: bool) -> Result<Array> {
        let k = norm_axis(axis, self.ndim())?;
        let float = self.dtype().is_float();
        let x = self
            .astype(if float { DType::F64 } else { DType::I64 })?
            .materialize();
        let base = token(if prod { "cumprod" } else { "cumsum" }, (x.name(), k));
        let (local, carry): (Arc<str>, Arc<str>) = (
            format!("{base}-local").into(),
            format!("{base}-carry").into(),
        );
        let (local_op, carry_op, out_op) = scan_ops(self.context(), k, prod);
        // Lengths are read from the blocks: a grid of unknown lengths scans as well.
        let mut graph = Graph::with_capacity(3 * x.grid().nblocks());
        for idx in x.grid().indices() {
            let lk = Key::block(&local, &idx);
            graph.insert(
                lk.clone(),
                Node::Task(Task::new(&local_op, [Arg::key(x.block_key(&idx))])),
            );
            let mut args = vec![Arg::key(lk.clone())];
            if idx[k] > 0 {
                let mut p = idx.to_vec();
                p[k] -= 1;
                args.push(Arg::key(Key::block(&carry, &p)));
            }
            graph.insert(
                Key::block(&carry, &idx),
                Node::Task(Task::new(&carry_op, args)),
            );
            let out = if idx[k] == 0 {
                Node::Alias(lk)
            } else {
                let mut p = idx.to_vec();
                p[k] -= 1;
                Node::Task(Task::new(
                    &out_op,
                    [Arg::key(lk), Arg::key(Key::block(&carry, &p))],
                ))
            };
            graph.insert(Key::block(&base, &idx), out);
        }
        let layer = Layer {
            name: base,
            graph,
            deps: vec![x.layer()],
        };
        let out = Array::from_layer(self.context(), layer, x.grid().clone(), x.dtype());
        if self.dtype() == DType::F32 {
            out.astype(DType::F32)
        } else {
            Ok(out)
        }
    }
}

/// The three ops of a scan along axis `k`: scan a block; fold a block's total into the
/// running carry; combine a scanned block with the carry of the blocks before it.
fn scan_ops(ctx: &super::ArrayContext, k: usize, prod: bool) -> (Op, Op, Op) {
    let ctx = ctx.clone();
    let c1 = ctx.clone();
    let local_op = Op::new("scan-block", move |a: &[Value]| {
        Ok(c1.block(match block_of(&a[0])? {
            BlockData::F64(b) => BlockData::F64(scan_block(b, k, prod)),
            BlockData::I64(b) => BlockData::I64(scan_block(b, k, prod)),
            _ => return Err(type_err()),
        }))
    });
    let c2 = ctx.clone();
    let carry_op = Op::new("scan-carry", move |a: &[Value]| {
        let prev = if a.len() > 1 {
            Some(block_of(&a[1])?)
        } else {
            None
        };
        Ok(c2.block(match (block_of(&a[0])?, prev) {
            (BlockData::F64(l), None) => BlockData::F64(next_carry(None, l, k, prod)),
            (BlockData::F64(l), Some(BlockData::F64(c))) => {
                BlockData::F64(next_carry(Some(c), l, k, prod))
            }
            (BlockData::I64(l), None) => BlockData::I64(next_carry(None, l, k, prod)),
            (BlockData::I64(l), Some(BlockData::I64(c))) => {
                BlockData::I64(next_carry(Some(c), l, k, prod))
            }
            _ => return Err(type_err()),
        }))
    });
    let out_op = Op::new("scan-apply", move |a: &[Value]| {
        Ok(ctx.block(match (block_of(&a[0])?, block_of(&a[1])?) {
            (BlockData::F64(l), BlockData::F64(c)) => BlockData::F64(apply_carry(l, c, prod)),
            (BlockData::I64(l), BlockData::I64(c)) => BlockData::I64(apply_carry(l, c, prod)),
            _ => return Err(type_err()),
        }))
    });
    (local_op, carry_op, out_op)
}
