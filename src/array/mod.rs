//! Blocked n-d arrays in the manner of `dask.array`.
//!
//! An [`Array`] is a name, a shape, a chunk grid ([`Chunks`]), an element type ([`DType`])
//! and the recipe for its blocks. Operations build new arrays lazily; nothing runs until a
//! result is asked for with [`Array::compute`] (or [`persist`](Array::persist),
//! [`to_npy`](Array::to_npy)) on any [`Executor`]. One task computes one block, under the
//! key `(name, i, j, ...)`.
//!
//! Elementwise operations, views (transpose, slicing, broadcasting) and generators
//! (`random`, `arange`, `zeros`, ...) fuse: the result of a chain of them is one expression
//! evaluated per output block, tile by tile, straight into the output block, or straight
//! into a reduction's accumulators, so `random(...).sum()` never materialises a block.
//! Block storage comes from the [`BufferPool`] of the [`ArrayContext`] that made the
//! arrays, and goes back to it when a block is dropped.
//!
//! ```
//! use blockwork::array::ArrayContext;
//! use blockwork::Sequential;
//!
//! let ctx = ArrayContext::new();
//! let x = ctx.from_ndarray(&ndarray::Array2::<f64>::ones((4, 6)).into_dyn(), 3)?;
//! let y = x.add(1.0)?.mul(2.0)?.sum(None)?;
//! assert_eq!(y.compute_scalar(&Sequential::new())?.as_f64(), 4.0 * 24.0);
//! # Ok::<(), blockwork::Error>(())
//! ```
//!
//! Integer arithmetic wraps, as NumPy's does for arrays: `i64::MAX + 1` is `i64::MIN`, in
//! debug and release builds alike, for elementwise operations, sums, products and cumulative
//! sums (`i32` operands wrap at `i32`'s range; sums and products accumulate in `i64`). Sizes
//! never wrap: a shape whose element count or size in bytes overflows is an
//! [`Overflow`](ErrorKind::Overflow) error, and a grid of more than
//! [`grid::MAX_BLOCKS`] blocks is [`TooLarge`](ErrorKind::TooLarge).
//!
//! **Boolean masks.** [`Array::mask`] (NumPy's `x[cond]`) gives a [`Filtered`]: a 1-d
//! array whose block lengths are known only once computed, as dask's arrays with NaN
//! chunks. It is a type of its own so that an [`Array`] always knows its lengths
//! ([`Array::shape`], [`Array::len`], [`Array::chunks`] never fail), and what needs them
//! is not there to call on a `Filtered` (a compile-time error, not a run-time one).
//!
//! **What a `Filtered` offers.** Elementwise methods and operators with another `Filtered`
//! of the same origin (the same mask result, or computed elementwise from it), with
//! scalars, and with an [`Array`] of one element (`&y - y.mean()?`); comparisons, whose
//! results mask again ([`Filtered::mask`]: `y.mask(&y.lt(0.5)?)`); reductions over
//! everything (`sum`, `prod`, `mean`, `min`, `max`, `var`, `std`, `any`, `all`, the NaN
//! variants; not `argmin`/`argmax`), giving ordinary arrays (0-d; min and max of nothing,
//! and a `ddof` over the count, are errors of the last task, found when it runs);
//! `cumsum`/`cumprod` and `map_blocks` (which read lengths from the blocks); `compute`,
//! `compute_data`, `compute_scalar`, [`compute`](crate::compute()) and
//! [`Delayed::from_filtered`](crate::Delayed::from_filtered); `nblocks`, `keys` and
//! `graph`. [`Filtered::persist`] and [`Filtered::compute_chunk_sizes`] give an ordinary
//! [`Array`] with known chunks, on which slicing, `rechunk`, `matmul` and the rest work.
//! Operands whose lengths may differ (another mask's result, an array of more than one
//! element) are [`UnknownChunks`](ErrorKind::UnknownChunks) errors.
//!
//! Beyond elementwise work, views and reductions: sorting along a chunked axis (`sort`,
//! `argsort`: per-block sorted runs, an exact rank split and a merge; `topk`, `searchsorted`,
//! exact `quantile`), counting (`histogram`, `bincount`, `unique`), windows (`coarsen`,
//! `diff`, `map_overlap`), selection (`choose`, `vindex`) and matrix creation (`eye`, `diag`,
//! `tril`, `triu`). Every array has known chunk lengths: the two operations whose length
//! depends on the data compute that much first, on the executor they are given —
//! [`Array::unique`] computes its tally and returns arrays made from it (the inverse stays
//! lazy), [`Array::bincount`] computes the minimum and maximum and returns a lazy array of
//! the resulting length.
//!
//! Names are deterministic: the same expression on the same inputs gives the same keys. User
//! functions are the exception: each [`Array::map_blocks`], [`Array::map_overlap`] or
//! [`ArrayContext::fromfunction`] call gets keys of its own, unless the caller passes a token that names the function
//! ([`Array::map_blocks_with_token`]).
//!
//! # Zarr stores
//!
//! Zarr arrays (format 2 and 3, on the local file system) are read and written through the
//! `zarrs` crate, one block per Zarr chunk (with the `zarr` feature, on by default).
//!
//! [`ArrayContext::from_zarr`] opens a store and gives an array with one block per chunk of
//! the store's regular chunk grid (a V3 store's shards, when it is sharded); each block task
//! reads and decodes its own chunk. [`Array::to_zarr`] writes one chunk per block, so the
//! array is streamed to disk block by block and never held whole: when the array's chunking
//! is not the store's (regular) chunk grid, it is [`rechunk`](Array::rechunk)ed first.
//!
//! Element types: `bool`, `int32`, `int64`, `float32` and `float64`, in either byte order;
//! any other Zarr data type is a [`Type`](ErrorKind::Type) error when the store is opened.
//! Compression: gzip, zstd and blosc (and no compression) are read and written; a store
//! using another codec is refused when opened.
//!
//! ## Failed writes
//!
//! A store is written into a temporary directory beside the target (a hidden
//! `.blockwork-*.zarr.part`), chunks first and metadata last, and renamed to the target
//! only once everything is written. A failed run removes the temporary directory: the target
//! is never a store that looks complete but is not. An existing store at the target (a
//! directory holding `zarr.json`, `.zarray` or `.zgroup`) is replaced: it is renamed
//! aside, the new store renamed in, and the old one removed, so the target is briefly
//! absent but never partial; the array being written may read from the store it replaces.
//! Anything else at the target (a file, a symlink, a directory that is not a Zarr store) is
//! refused with an [`Io`](ErrorKind::Io) error rather than deleted. The rename makes the
//! store visible atomically; the chunk files are not synced to disk one by one.

mod arith;
#[cfg(feature = "workloads")]
pub mod bench;
mod blockwise;
mod coarsen;
mod creation;
mod dtype;
mod elementwise;
mod expr;
#[cfg(feature = "testing")]
mod fuzz;
#[cfg(feature = "testing")]
mod fuzz_shapes;
pub mod grid;
mod interop;
mod kernels;
pub mod linalg;
mod masks;
mod matrix;
mod npy;
mod pool;
mod quantile;
mod reduce;
mod scan;
mod shape;
mod slicing;
mod sort;
mod stats;
mod views;
mod vindex;
#[cfg(feature = "zarr")]
mod zarr;

pub use crate::compute::TypedArray;
/// The index macro of [`Array::slice`] (also at the crate root).
pub use crate::s;
pub use arith::ArrayScalar;
pub use blockwise::Boundary;
pub use dtype::{BlockData, DType, Element, Scalar};
pub use elementwise::{MAX_FUSED_NODES, Operand, binary, unary, where_};
pub use expr::{BinOp, UnOp};
#[cfg(feature = "testing")]
pub use fuzz::fuzz_array_index;
#[cfg(feature = "testing")]
pub use fuzz_shapes::fuzz_array_shapes;
use grid::Grid;
pub use grid::{ChunkSpec, Chunks};
#[cfg(feature = "distributed")]
pub(crate) use kernels::bucket_sort::wire::register as register_sort_codecs;
pub use kernels::eval::TILE;
#[cfg(feature = "distributed")]
pub(crate) use kernels::reduce::{Partial, decode_partial, encode_partial};
#[cfg(all(test, feature = "distributed"))]
pub(crate) use kernels::sort::sort_run;
#[cfg(feature = "distributed")]
pub(crate) use kernels::sort::{
    Run, SortedKeys, Tally, decode_run, decode_tally, encode_run, encode_tally,
};
pub use masks::{Filtered, FilteredOperand};
pub(crate) use pool::check_alloc;
pub use pool::{Block, BufferPool, DEFAULT_POOL_LIMIT, PoolStats, Pooled};
pub use reduce::{DEFAULT_SPLIT_EVERY, ReduceOp, Reduction};
pub use slicing::{SliceElem, SliceRange, SliceStep};
pub use sort::{Side, Unique};
pub use stats::{Bins, Histogram};
#[cfg(feature = "distributed")]
pub(crate) use stats::{Counts, decode_counts, encode_counts};
pub use views::Idx;
#[cfg(feature = "zarr")]
pub use zarr::{ZarrCompression, ZarrFormat, ZarrOptions};

use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
pub(crate) use dtype::with_block;
use expr::{Fused, Leaf, LeafSrc, View};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// What arrays are made from: owns the buffer pool their blocks share.
///
/// Clone it freely (an `Arc` clone); arrays made by one context, and everything derived
/// from them, recycle block storage through its pool.
#[derive(Clone, Debug)]
pub struct ArrayContext {
    pool: Arc<BufferPool>,
    /// Whether `.npy` files are streamed (see [`ArrayContext::with_streaming_files`]).
    streaming_files: bool,
}

impl Default for ArrayContext {
    fn default() -> Self {
        ArrayContext::new()
    }
}

impl ArrayContext {
    /// A context with a pool keeping up to [`DEFAULT_POOL_LIMIT`] bytes of freed blocks.
    pub fn new() -> ArrayContext {
        ArrayContext::with_pool_limit(DEFAULT_POOL_LIMIT)
    }

    /// A context whose pool keeps at most `bytes` of freed blocks.
    pub fn with_pool_limit(bytes: usize) -> ArrayContext {
        ArrayContext {
            pool: Arc::new(BufferPool::new(bytes)),
            streaming_files: false,
        }
    }

    /// This context, with `.npy` files read and written as streams when `on`: the system's
    /// page cache keeps none of their data once used. A block's pages are dropped from the
    /// cache when the block has been read ([`from_npy`](ArrayContext::from_npy)), and
    /// written pages once the disk has them ([`Array::to_npy`]). For files larger than
    /// memory, read or written once: the cache then holds neither the input read long ago
    /// nor output waiting for the disk, and the system spends no time evicting them. A file
    /// read again soon is read from the disk again, so the default is off.
    ///
    /// Read-ahead of the next blocks and write-back started as soon as a block is written
    /// happen either way; they only concern blocks whose contiguous runs in the file are
    /// 1 MiB or longer. What is read and written is the same either way.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, DType};
    /// use blockwork::Sequential;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("x.npy");
    /// let ctx = ArrayContext::new().with_streaming_files(true);
    /// assert!(ctx.streams_files());
    /// ctx.ones(&[4], 2, DType::F64)?.to_npy(&path, &Sequential::new())?;
    /// let back = ctx.from_npy(&path, 4)?.compute::<f64>(&Sequential::new())?;
    /// assert_eq!(back.as_slice().unwrap(), &[1.0; 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_streaming_files(mut self, on: bool) -> ArrayContext {
        self.streaming_files = on;
        self
    }

    /// Whether `.npy` files are streamed ([`with_streaming_files`](Self::with_streaming_files)).
    ///
    /// ```
    /// assert!(!blockwork::array::ArrayContext::new().streams_files());
    /// ```
    pub fn streams_files(&self) -> bool {
        self.streaming_files
    }

    /// The buffer pool.
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// A block value on this context's pool.
    pub(crate) fn block(&self, data: BlockData) -> Value {
        Block::new(data, Some(self.pool.clone())).into_value()
    }

    /// A standard-layout block of `shape` and `dtype` on pooled storage, to be overwritten;
    /// a size the system cannot allocate is an error (see [`pool::check_alloc`]).
    pub(crate) fn alloc(&self, dtype: DType, shape: &[usize]) -> Result<BlockData, TaskError> {
        Ok(dtype::with_dtype!(dtype, T => Element::wrap(self.pool.try_array::<T>(shape)?)))
    }
}

impl ArrayContext {
    /// An array whose blocks are read from storage: one task per block calls `read` with the
    /// block's offset and shape; its error keeps its kind and is prefixed with `shown`.
    pub(crate) fn block_reader_array(
        &self,
        name: Arc<str>,
        op_name: &str,
        chunks: Chunks,
        dtype: DType,
        shown: &Path,
        read: impl Fn(&[usize], &[usize]) -> std::result::Result<BlockData, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Array {
        let (ctx, ch) = (self.clone(), chunks.clone());
        let shown: Arc<str> = shown.display().to_string().into();
        let op = Op::new(op_name, move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let bshape = ch.block_shape(&idx);
            let off: Vec<usize> = (0..idx.len()).map(|k| ch.offset(k, idx[k])).collect();
            let data = read(&off, &bshape)
                .map_err(|e| TaskError::with_kind(e.kind(), format!("{shown}: {}", e.message())))?;
            Ok(ctx.block(data))
        });
        let mut graph = Graph::with_capacity(chunks.nblocks());
        for idx in chunks.indices() {
            graph.insert(
                Key::block(&name, &idx),
                Node::Task(Task::new(&op, [Arg::lit(index_value(&idx))])),
            );
        }
        let layer = Layer {
            name,
            graph,
            deps: vec![],
        };
        Array::from_layer(self, layer, chunks, dtype)
    }
}

/// A named set of graph nodes (the tasks of one array's blocks) and the layers it reads.
pub(crate) struct Layer {
    pub(crate) name: Arc<str>,
    pub(crate) graph: Graph,
    pub(crate) deps: Vec<Arc<Layer>>,
}

enum Source {
    /// Blocks are nodes of this layer.
    Layer(Arc<Layer>),
    /// Blocks are computed by a fused expression; its layer is built on first need.
    Fused(Arc<Fused>, OnceLock<Arc<Layer>>),
}

struct Inner {
    name: Arc<str>,
    /// The shape when every length is known (empty otherwise; never read then).
    shape: Vec<usize>,
    grid: Grid,
    dtype: DType,
    ctx: ArrayContext,
    source: Source,
}

/// A lazy, blocked n-d array. Cloning is an `Arc` clone.
#[derive(Clone)]
pub struct Array {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Array");
        d.field("name", &self.name());
        match self.grid() {
            Grid::Known(c) => d.field("shape", &self.shape()).field("chunks", &c.axes()),
            // Only the array inside a `Filtered`.
            Grid::Unknown(u) => d.field("nblocks", &u.nblocks()),
        };
        d.field("dtype", &self.dtype()).finish()
    }
}

/// A number never returned before in this process: mixed into the names of arrays made by
/// user functions, which cannot be told apart by hashing.
pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A deterministic name: `prefix-` and a hash of `parts`.
pub(crate) fn token(prefix: &str, parts: impl Hash) -> Arc<str> {
    let mut h = rustc_hash::FxHasher::default();
    parts.hash(&mut h);
    // A second, differently keyed pass makes 64-bit collisions of similar inputs unlikely.
    let a = h.finish();
    let mut h2 = rustc_hash::FxHasher::default();
    (a, 0x9E37_79B9u32).hash(&mut h2);
    parts.hash(&mut h2);
    format!("{prefix}-{a:016x}{:08x}", h2.finish() as u32).into()
}

impl Array {
    /// An array whose blocks are the nodes `(name, ...)` of `layer`.
    pub(crate) fn from_layer(
        ctx: &ArrayContext,
        layer: Layer,
        grid: impl Into<Grid>,
        dtype: DType,
    ) -> Array {
        let grid = grid.into();
        Array {
            inner: Arc::new(Inner {
                name: layer.name.clone(),
                shape: grid_shape(&grid),
                grid,
                dtype,
                ctx: ctx.clone(),
                source: Source::Layer(Arc::new(layer)),
            }),
        }
    }

    /// An array computed by a fused expression; its name hashes the expression.
    pub(crate) fn from_fused(
        ctx: &ArrayContext,
        fused: Fused,
        grid: impl Into<Grid>,
        prefix: &str,
    ) -> Array {
        let grid = grid.into();
        let name = match &grid {
            Grid::Known(c) => token(prefix, (&fused, c)),
            Grid::Unknown(u) => token(prefix, (&fused, u)),
        };
        Array {
            inner: Arc::new(Inner {
                name,
                shape: grid_shape(&grid),
                dtype: fused.expr.dtype,
                grid,
                ctx: ctx.clone(),
                source: Source::Fused(Arc::new(fused), OnceLock::new()),
            }),
        }
    }

    /// The name: the first element of every block key.
    pub fn name(&self) -> &Arc<str> {
        &self.inner.name
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.inner.shape
    }
    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.grid().ndim()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.inner.shape.iter().product()
    }
    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The chunk grid.
    pub fn chunks(&self) -> &Chunks {
        match self.grid() {
            Grid::Known(c) => c,
            // No `Array` handed out holds an unknown grid: those are `Filtered`s.
            Grid::Unknown(_) => unreachable!("an array of unknown lengths outside a Filtered"),
        }
    }
    /// The chunk grid, whether its lengths are known or not (unknown only inside a
    /// [`Filtered`]).
    pub(crate) fn grid(&self) -> &Grid {
        &self.inner.grid
    }
    /// Whether every chunk length is known (false only inside a [`Filtered`]).
    pub(crate) fn chunks_known(&self) -> bool {
        self.grid().is_known()
    }
    /// Number of blocks along each axis.
    pub(crate) fn numblocks(&self) -> Vec<usize> {
        self.grid().numblocks()
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.inner.dtype
    }
    /// The context whose pool the blocks use.
    pub fn context(&self) -> &ArrayContext {
        &self.inner.ctx
    }

    /// The key of block `idx`.
    pub fn block_key(&self, idx: &[usize]) -> Key {
        Key::block(&self.inner.name, idx)
    }

    /// Every block key, row-major.
    pub fn keys(&self) -> Vec<Key> {
        self.grid().indices().map(|i| self.block_key(&i)).collect()
    }

    /// The fused recipe of this array: its own expression, or itself as a single leaf.
    pub(crate) fn fused(&self) -> Fused {
        match &self.inner.source {
            Source::Fused(f, _) => (**f).clone(),
            Source::Layer(_) => Fused {
                expr: expr::Expr::new(self.dtype(), expr::ExprKind::Leaf(0)),
                leaves: vec![Leaf {
                    src: LeafSrc::Array(self.clone()),
                    view: View::identity(&self.numblocks()),
                }],
            },
        }
    }

    /// Whether this array's blocks exist as graph nodes of their own (not fused).
    pub(crate) fn is_materialized(&self) -> bool {
        matches!(self.inner.source, Source::Layer(_))
    }

    /// This array's layer, building the tasks of a fused array on first need.
    pub(crate) fn layer(&self) -> Arc<Layer> {
        match &self.inner.source {
            Source::Layer(l) => l.clone(),
            Source::Fused(f, once) => once.get_or_init(|| Arc::new(self.fused_layer(f))).clone(),
        }
    }

    /// The same array with its blocks as graph nodes (a fused array gets one task per
    /// block; a materialised one is returned as is). Same name, same keys.
    pub fn materialize(&self) -> Array {
        if self.is_materialized() {
            return self.clone();
        }
        let layer = self.layer();
        Array {
            inner: Arc::new(Inner {
                name: self.inner.name.clone(),
                shape: self.inner.shape.clone(),
                grid: self.inner.grid.clone(),
                dtype: self.inner.dtype,
                ctx: self.inner.ctx.clone(),
                source: Source::Layer(layer),
            }),
        }
    }

    /// The same blocks (same name, same keys) seen with another grid: for an array whose
    /// lengths were computed.
    pub(crate) fn regrid(&self, grid: impl Into<Grid>) -> Array {
        let grid = grid.into();
        Array {
            inner: Arc::new(Inner {
                name: self.inner.name.clone(),
                shape: grid_shape(&grid),
                grid,
                dtype: self.inner.dtype,
                ctx: self.inner.ctx.clone(),
                source: Source::Layer(self.layer()),
            }),
        }
    }

    fn fused_layer(&self, f: &Arc<Fused>) -> Layer {
        let fused = f.clone();
        let ctx = self.inner.ctx.clone();
        let grid = self.inner.grid.clone();
        let dtype = self.dtype();
        let op = Op::new("fused", move |args: &[Value]| {
            let idx = block_index(&args[0])?;
            let inputs = blocks_of(&args[1..])?;
            let shape = masks::block_shape(&grid, &fused, &inputs, &idx)?;
            let mut out = ctx.alloc(dtype, &shape)?;
            kernels::eval::Kernel::new(&fused, &inputs, &idx, &shape, &[])?.write(&mut out)?;
            Ok(ctx.block(out))
        });
        let mut graph = Graph::with_capacity(self.grid().nblocks());
        let mut deps: Vec<Arc<Layer>> = Vec::new();
        let leaves: Vec<(&Array, &View)> = f.array_leaves().collect();
        for (a, _) in &leaves {
            let l = a.layer();
            if !deps.iter().any(|d| d.name == l.name) {
                deps.push(l);
            }
        }
        for idx in self.grid().indices() {
            let mut args = vec![Arg::lit(index_value(&idx))];
            for (a, v) in &leaves {
                args.push(Arg::key(a.block_key(&v.source_block(&idx, a.ndim()))));
            }
            graph.insert(
                self.block_key(&idx),
                crate::Node::Task(crate::Task::new(&op, args)),
            );
        }
        Layer {
            name: self.inner.name.clone(),
            graph,
            deps,
        }
    }

    /// The whole graph that computes this array's blocks.
    ///
    /// Errors: two layers that define one key differently (see [`Graph::merge`]) are a
    /// [`DuplicateKey`](ErrorKind::DuplicateKey) error.
    pub fn graph(&self) -> Result<Graph> {
        collect_graph(&[self.layer()])
    }

    /// Computes every block and assembles them into one `ndarray` of type `T` (which must
    /// match the array's type: a [`Type`](ErrorKind::Type) error otherwise).
    pub fn compute<T: Element>(&self, exec: &impl Executor) -> Result<ndarray::ArrayD<T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::new(
                ErrorKind::Type,
                format!("array is {}, asked for {}", self.dtype(), T::DTYPE),
            ));
        }
        let data = self.compute_data(exec)?;
        Ok(T::unwrap(data).expect("type checked above"))
    }

    /// Computes every block and assembles them into one block of the array's type.
    pub fn compute_data(&self, exec: &impl Executor) -> Result<BlockData> {
        let keys = self.keys();
        let plan = Plan::new(&self.graph()?, &keys)?;
        let out = exec.run(&plan)?;
        crate::compute::assemble(self, &out.values).map_err(|e| Error::new(e.kind(), e.message()))
    }

    /// Computes a single-element array (a full reduction) and returns its value; an array
    /// of another size is a [`Shape`](ErrorKind::Shape) error.
    pub fn compute_scalar(&self, exec: &impl Executor) -> Result<Scalar> {
        let wrong = |n: &dyn std::fmt::Debug| {
            Error::new(
                ErrorKind::Shape,
                format!("compute_scalar of an array of shape {n:?}"),
            )
        };
        if self.chunks_known() && self.len() != 1 {
            return Err(wrong(&self.shape()));
        }
        let d = self.compute_data(exec)?;
        if d.len() != 1 {
            return Err(wrong(&d.shape()));
        }
        Ok(with_block!(&d, a => a.iter().next().expect("one element").scalar()))
    }

    /// Computes the array into an `ndarray` of element type `T` and dimension `D`
    /// ([`Ix2`](type@ndarray::Ix2), [`Ix0`](type@ndarray::Ix0), ..., or
    /// [`IxDyn`](type@ndarray::IxDyn)).
    ///
    /// Errors: `T` other than the array's type is a [`Type`](ErrorKind::Type) error, `D` of
    /// another number of axes a [`Shape`](ErrorKind::Shape) error; both are checked before
    /// anything runs.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::ndarray::{Array2, Ix1, Ix2};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.full(&[3, 4], 2, 1.5)?;
    /// let pool = blockwork::Pool::new(2)?;
    /// let m: Array2<f64> = x.compute_as(&pool)?;
    /// assert_eq!(m, Array2::from_elem((3, 4), 1.5));
    /// assert!(x.compute_as::<f64, Ix1>(&pool).is_err());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute_as<T: Element, D: ndarray::Dimension>(
        &self,
        exec: &impl Executor,
    ) -> Result<ndarray::Array<T, D>> {
        self.check_typed::<T, D>()?;
        crate::compute::typed_result(self.compute_data(exec)?)
    }

    /// Checks that the array is of type `T` ([`Type`](ErrorKind::Type) error otherwise)
    /// with `D`'s number of axes ([`Shape`](ErrorKind::Shape) error otherwise).
    pub(crate) fn check_typed<T: Element, D: ndarray::Dimension>(&self) -> Result<()> {
        if T::DTYPE != self.dtype() {
            return Err(Error::new(
                ErrorKind::Type,
                format!("array is {}, asked for {}", self.dtype(), T::DTYPE),
            ));
        }
        if D::NDIM.is_some_and(|n| n != self.ndim()) {
            return Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "array has {} axes, asked for {}",
                    self.ndim(),
                    D::NDIM.unwrap_or(0)
                ),
            ));
        }
        Ok(())
    }

    /// Computes a single-element array (a full reduction, or any array of one element) and
    /// returns its value as `f64`, whatever the array's type (as [`Scalar::as_f64`]).
    ///
    /// Errors: an array of more or fewer elements is a [`Shape`](ErrorKind::Shape) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange(0.0, 10.0, 1.0, 3)?;
    /// let pool = blockwork::Pool::new(2)?;
    /// assert_eq!(x.mean(None)?.compute_f64(&pool)?, 4.5);
    /// assert_eq!(x.sum(None)?.compute_f64(&pool)?, 45.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute_f64(&self, exec: &impl Executor) -> Result<f64> {
        Ok(self.compute_scalar(exec)?.as_f64())
    }

    /// Computes a single-element array and returns its value as `T`, which must be the
    /// array's type ([`Type`](ErrorKind::Type) error otherwise; more or fewer elements are
    /// a [`Shape`](ErrorKind::Shape) error).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange_int(0, 10, 1, 4)?;
    /// let seq = blockwork::Sequential::new();
    /// assert_eq!(x.sum(None)?.compute_item::<i64>(&seq)?, 45);
    /// assert_eq!(x.gt(8)?.any(None)?.compute_item::<bool>(&seq)?, true);
    /// assert!(x.sum(None)?.compute_item::<f64>(&seq).is_err());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn compute_item<T: Element>(&self, exec: &impl Executor) -> Result<T> {
        if T::DTYPE != self.dtype() {
            return Err(Error::new(
                ErrorKind::Type,
                format!("array is {}, asked for {}", self.dtype(), T::DTYPE),
            ));
        }
        Ok(T::from_scalar(self.compute_scalar(exec)?))
    }

    /// Computes every block and returns an array holding them (same name and keys), so that
    /// later computations start from the stored blocks. To persist several arrays that share
    /// work (the factors of a decomposition), use [`persist_all`], which computes the shared
    /// tasks once.
    pub fn persist(&self, exec: &impl Executor) -> Result<Array> {
        let mut out = persist_all(std::slice::from_ref(self), exec)?;
        Ok(out.pop().expect("one array in, one out"))
    }

    /// This array with `values` (the computed blocks, in [`keys`](Array::keys) order) as its
    /// literal blocks.
    fn stored(&self, keys: Vec<Key>, values: Vec<Value>) -> Result<Array> {
        // Stored blocks tell their lengths: a persisted array's grid is always known.
        let grid: Grid = match self.grid() {
            Grid::Known(c) => c.clone().into(),
            Grid::Unknown(_) => {
                let lens = values
                    .iter()
                    .map(|v| block_of(v).and_then(masks::one_d_len))
                    .collect::<Result<Vec<usize>, TaskError>>()
                    .map_err(|e| Error::new(e.kind(), e.message()))?;
                masks::lengths_grid(lens)?.into()
            }
        };
        let mut graph = Graph::with_capacity(keys.len());
        for (k, v) in keys.into_iter().zip(values) {
            graph.insert(k, crate::Node::Literal(v));
        }
        let layer = Layer {
            name: self.inner.name.clone(),
            graph,
            deps: vec![],
        };
        Ok(Array::from_layer(self.context(), layer, grid, self.dtype()))
    }
}

/// Computes the blocks of all `arrays` in one run of `exec` (tasks they share run once, as
/// `dask.persist(a, b)`), and returns each as [`Array::persist`] does, in order.
///
/// Errors: as [`Array::persist`]; two arrays whose graphs define one key differently are a
/// [`DuplicateKey`](ErrorKind::DuplicateKey) error.
///
/// ```
/// use blockwork::array::{ArrayContext, linalg, persist_all};
/// let ctx = ArrayContext::new();
/// let a = ctx.random(&[60, 3], vec![20, 3], 1)?;
/// let (q, r) = linalg::tsqr(&a)?; // q and r share the QR of each row block
/// let exec = blockwork::Pool::new(2)?;
/// let [q, r] = <[_; 2]>::try_from(persist_all(&[q, r], &exec)?).unwrap();
/// assert_eq!((q.shape(), r.shape()), (&[60, 3][..], &[3, 3][..]));
/// let r = r.compute::<f64>(&blockwork::Sequential::new())?; // from the stored blocks
/// assert!(r[[0, 0]].abs() > 0.0 && r[[1, 0]] == 0.0); // upper triangular
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn persist_all(arrays: &[Array], exec: &impl Executor) -> Result<Vec<Array>> {
    let layers: Vec<Arc<Layer>> = arrays.iter().map(Array::layer).collect();
    let graph = collect_graph(&layers)?;
    let keys: Vec<Vec<Key>> = arrays.iter().map(Array::keys).collect();
    let plan = Plan::new(&graph, &keys.concat())?;
    let mut values = exec.run(&plan)?.values.into_iter();
    arrays
        .iter()
        .zip(keys)
        .map(|(a, keys)| {
            let mine: Vec<Value> = values.by_ref().take(keys.len()).collect();
            a.stored(keys, mine)
        })
        .collect()
}

/// The shape of a known grid; empty for an unknown one (never read: [`Array::shape`]
/// answers an error first).
fn grid_shape(grid: &Grid) -> Vec<usize> {
    match grid {
        Grid::Known(c) => c.shape(),
        Grid::Unknown(_) => Vec::new(),
    }
}

/// Merges the graphs of `roots` and every layer they depend on (each once, by name: a
/// layer's name is a token of its computation, so two layers of one name are the same).
pub(crate) fn collect_graph(roots: &[Arc<Layer>]) -> Result<Graph> {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack: Vec<Arc<Layer>> = roots.to_vec();
    let mut order = Vec::new();
    while let Some(l) = stack.pop() {
        if seen.insert(l.name.clone()) {
            stack.extend(l.deps.iter().cloned());
            order.push(l);
        }
    }
    let mut g = Graph::with_capacity(order.iter().map(|l| l.graph.len()).sum());
    for l in order.iter().rev() {
        g.merge(&l.graph)?;
    }
    Ok(g)
}

/// A block index as a literal task argument.
pub(crate) fn index_value(idx: &[usize]) -> Value {
    Value::list(idx.iter().map(|&i| i as i64))
}

/// A block index back from its literal.
pub(crate) fn block_index(v: &Value) -> Result<Vec<usize>, TaskError> {
    v.as_list()
        .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "block index is not a list"))?
        .iter()
        .map(|x| {
            x.as_int()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| TaskError::with_kind(ErrorKind::Type, "bad block index"))
        })
        .collect()
}

/// The block inside a value.
pub(crate) fn block_of(v: &Value) -> Result<&BlockData, TaskError> {
    v.downcast_ref::<Block>().map(Block::data).ok_or_else(|| {
        TaskError::with_kind(
            ErrorKind::Type,
            format!("expected an array block, got {}", v.type_name()),
        )
    })
}

/// The blocks inside a slice of values.
pub(crate) fn blocks_of(vs: &[Value]) -> Result<Vec<&BlockData>, TaskError> {
    vs.iter().map(block_of).collect()
}
