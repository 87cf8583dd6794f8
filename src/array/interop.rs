//! Arrays and the rest of a program: a caller's `ndarray` wrapped in place, arrays made of
//! the caller's own tasks, and array blocks read by the caller's own tasks.
//!
//! [`ArrayContext::from_shared`] takes an [`ArcArray`] (an owned array becomes one with
//! `into_shared()`, without a copy) and reads it where it lies: it is a leaf of the fused
//! expressions that consume it, as a generator is, so `from_shared(a)?.sum(None)` reads
//! `a`'s memory straight into the reduction. Nothing is copied or hashed; the name is a
//! process-unique number, or a token the caller passes
//! ([`from_shared_with_token`](ArrayContext::from_shared_with_token)).
//!
//! [`ArrayContext::from_blocks`] makes an array of the values of the caller's own keys;
//! [`Array::blocks`] and [`Array::graph`] give the keys and graph of an array's blocks for
//! the caller's own tasks to read, with [`Block::data_of`] inside them.

use super::creation::gen_view;
use super::dtype::{BlockData, DType, Element};
use super::expr::{Expr, ExprKind, Fused, Leaf, LeafSrc, Shared};
use super::grid::{ChunkSpec, Chunks};
use super::pool::Block;
use super::{Array, ArrayContext, Layer, block_index, block_of, index_value, token, unique};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::value::{IntoTaskResult, Value};
use ndarray::{ArcArray, Dimension, IxDyn};
use std::sync::Arc;

impl ArrayContext {
    /// An array reading `a` in place, cut into blocks by `chunks`: no copy and no hash of
    /// the contents (an array that is not contiguous in memory, such as a strided slice, is
    /// copied once into standard layout first). `a` stays shared: the caller may keep
    /// clones of it, and writing through one of them copies it first ([`ArcArray`] is
    /// copy-on-write), so the array never changes under a computation.
    ///
    /// Each call names its array anew (a process-unique number), so two calls on the same
    /// data give different keys; [`from_shared_with_token`](Self::from_shared_with_token)
    /// names it by a token instead.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::ndarray::Array2;
    /// let ctx = ArrayContext::new();
    /// let a = Array2::from_shape_fn((1000, 300), |(i, j)| (i * 300 + j) as f64).into_shared();
    /// let x = ctx.from_shared(a.clone(), [256, 300])?;   // an Arc clone: no copy
    /// let pool = blockwork::Pool::new(2)?;
    /// assert_eq!(x.sum(None)?.compute_f64(&pool)?, a.sum());
    /// let t = ctx.from_shared(a.t().to_shared(), 100)?; // any layout
    /// assert_eq!(t.compute_as::<f64, blockwork::ndarray::Ix2>(&pool)?, a.t());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_shared<T: Element, D: Dimension>(
        &self,
        a: ArcArray<T, D>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array> {
        let t: Arc<str> = format!("shared-{}", unique()).into();
        self.shared(a.into_dyn(), chunks, t)
    }

    /// As [`from_shared`](Self::from_shared), named by `token` (with the type and shape):
    /// equal tokens give equal keys, so the caller promises that one token always names
    /// the same contents.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let a = blockwork::ndarray::Array1::<f64>::linspace(0.0, 1.0, 11).into_shared();
    /// let x = ctx.from_shared_with_token(a.clone(), 4, "grid-v1")?;
    /// let y = ctx.from_shared_with_token(a, 4, "grid-v1")?;
    /// assert_eq!(x.name(), y.name());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_shared_with_token<T: Element, D: Dimension>(
        &self,
        a: ArcArray<T, D>,
        chunks: impl Into<ChunkSpec>,
        token: &str,
    ) -> Result<Array> {
        let t = super::token("shared", (T::DTYPE, a.shape(), token));
        self.shared(a.into_dyn(), chunks, t)
    }

    fn shared<T: Element>(
        &self,
        a: ArcArray<T, IxDyn>,
        chunks: impl Into<ChunkSpec>,
        name: Arc<str>,
    ) -> Result<Array> {
        let chunks = Chunks::new(a.shape(), chunks)?;
        let a = if a.as_slice_memory_order().is_some() {
            a
        } else {
            a.as_standard_layout().into_owned().into_shared()
        };
        let fused = Fused {
            expr: Expr::new(T::DTYPE, ExprKind::Leaf(0)),
            leaves: vec![Leaf {
                src: LeafSrc::Shared(Arc::new(Shared::new(a, name))),
                view: gen_view(&chunks),
            }],
        };
        Ok(Array::from_fused(self, fused, chunks, "shared"))
    }

    /// An array whose blocks are the values of the caller's keys in `graph`: `keys` holds
    /// one key per block, row-major over the grid of `chunks` on `shape`, and each must
    /// compute a [`Block`] value (a task returning a [`BlockData`] makes one) of type
    /// `dtype` and its block's shape.
    ///
    /// Errors: a key count other than the number of blocks is
    /// [`InvalidArgument`](ErrorKind::InvalidArgument), a key not in `graph` is
    /// [`MissingKey`](ErrorKind::MissingKey), chunks that do not fit `shape` are
    /// [`Shape`](ErrorKind::Shape); a value of the wrong type or shape fails its task at
    /// run time with [`Type`](ErrorKind::Type) or [`Shape`](ErrorKind::Shape).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, BlockData, DType};
    /// use blockwork::ndarray::{ArrayD, IxDyn};
    /// use blockwork::{Arg, GraphBuilder, Key, Op, Sequential};
    ///
    /// // Three tasks of the caller's, each making a 2 x 4 block.
    /// let load = Op::typed("load", |i: i64| {
    ///     BlockData::F64(ArrayD::from_elem(IxDyn(&[2, 4]), i as f64))
    /// });
    /// let mut g = GraphBuilder::new();
    /// for i in 0..3 {
    ///     g.task(("load", i), &load, [Arg::lit(i)])?;
    /// }
    /// let keys = (0..3).map(|i| Key::from(("load", i)));
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_blocks(g.build(), keys, &[6, 4], [2, 4], DType::F64)?;
    /// assert_eq!(x.sum(1)?.compute::<f64>(&Sequential::new())?.into_raw_vec_and_offset().0,
    ///            vec![0.0, 0.0, 4.0, 4.0, 8.0, 8.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn from_blocks(
        &self,
        graph: Graph,
        keys: impl IntoIterator<Item = impl Into<Key>>,
        shape: &[usize],
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
    ) -> Result<Array> {
        let chunks = Chunks::new(shape, chunks)?;
        let keys: Vec<Key> = keys.into_iter().map(Into::into).collect();
        if keys.len() != chunks.nblocks() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} keys for a grid of {} blocks",
                    keys.len(),
                    chunks.nblocks()
                ),
            ));
        }
        if let Some(k) = keys.iter().find(|k| !graph.contains(k)) {
            return Err(Error::MissingKey {
                key: k.clone(),
                referrer: None,
            });
        }
        let n = unique();
        let theirs = Arc::new(Layer {
            name: token("graph", n),
            graph,
            deps: vec![],
        });
        let name = token("from_blocks", n);
        let ck = chunks.clone();
        let check = Op::new("from-blocks", move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let b = block_of(&args[1])?;
            let want = ck.block_shape(&idx);
            if b.dtype() != dtype {
                return Err(TaskError::with_kind(
                    ErrorKind::Type,
                    format!("block {idx:?} is {}, the array {dtype}", b.dtype()),
                ));
            }
            if b.shape() != want.as_slice() {
                return Err(TaskError::with_kind(
                    ErrorKind::Shape,
                    format!("block {idx:?} has shape {:?}, not {want:?}", b.shape()),
                ));
            }
            Ok(args[1].clone())
        });
        let mut g = Graph::with_capacity(keys.len());
        for (idx, k) in chunks.indices().zip(keys) {
            let args = [Arg::lit(index_value(&idx)), Arg::key(k)];
            g.insert(Key::block(&name, &idx), Node::Task(Task::new(&check, args)));
        }
        let layer = Layer {
            name,
            graph: g,
            deps: vec![theirs],
        };
        Ok(Array::from_layer(self, layer, chunks, dtype))
    }
}

impl Array {
    /// Each block's index and key, row-major: with [`Array::graph`], what the caller's own
    /// tasks need to read the blocks (with [`Block::data_of`]).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, Block};
    /// use blockwork::{Arg, Executor, GraphBuilder, Op, Sequential, Value};
    ///
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 4)?;           // blocks of 4, 4 and 2
    /// // A task of one's own per block: its length.
    /// let len = Op::new("len", |a: &[Value]| Ok(Value::from(Block::data_of(&a[0])?.len() as i64)));
    /// let mut g = GraphBuilder::new();
    /// for (idx, key) in x.blocks() {
    ///     g.task(("len", idx[0] as i64), &len, [Arg::key(key)])?;
    /// }
    /// let mut graph = x.graph()?;
    /// graph.merge(&g.build())?;
    /// assert_eq!(Sequential::new().get(&graph, ("len", 2i64))?, Value::Int(2));
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn blocks(&self) -> impl Iterator<Item = (Vec<usize>, Key)> + '_ {
        self.chunks().indices().map(|i| {
            let k = self.block_key(&i);
            (i, k)
        })
    }
}

impl Block {
    /// The block data inside a task argument, or a [`Type`](ErrorKind::Type) error naming
    /// what the value was: for the caller's own tasks that read array blocks (see
    /// [`Array::blocks`]).
    ///
    /// ```
    /// use blockwork::array::{Block, BlockData};
    /// use blockwork::Value;
    /// let v = Value::from(BlockData::I64(blockwork::ndarray::arr1(&[1, 2]).into_dyn()));
    /// assert_eq!(Block::data_of(&v)?.len(), 2);
    /// assert!(Block::data_of(&Value::Int(1)).is_err());
    /// # Ok::<(), blockwork::TaskError>(())
    /// ```
    pub fn data_of(v: &Value) -> Result<&BlockData, TaskError> {
        block_of(v)
    }
}

impl From<BlockData> for Value {
    /// A block value (standard layout; its storage is freed normally, not pooled).
    fn from(d: BlockData) -> Value {
        Block::new(d, None).into_value()
    }
}

impl IntoTaskResult for BlockData {
    type Output = BlockData;
    fn into_task_result(self) -> Result<Value, TaskError> {
        Ok(self.into())
    }
}
