//! Kernels: the loops that compute blocks. Each writes into a buffer it is given, checks
//! shapes once at entry, and allocates nothing per element.
//!
//! Kernels know blocks and buffers, never graphs: which tasks exist and which keys they read
//! is decided by the modules above (`blockwise`, `linalg`, `scan`, `npy`, ...), which call in
//! here from their ops.
//!
//! - `eval`, `walk`, `ops`: fused elementwise expressions, evaluated tile by tile.
//! - `reduce`: reduction accumulators, updated from tiles and merged between blocks.
//! - `random`: the counter-based generator behind `random`.
//! - `gemm`: the block product of `tensordot` / `matmul` (GEMM into the output block).
//! - `scan`: the loops of `cumsum` / `cumprod` (a block's scan, the carry, its application).
//! - `bucket_sort`: the sample sort of 1-d arrays (splitters, buckets, their sorts).
//! - `sort`: order keys, sorted runs, rank splits and merges (`sort`, `argsort`,
//!   `unique`, `searchsorted`).
//! - `npy_io`: positioned reads and writes of one block of a `.npy` file's data.
//! - `stream`: non-temporal stores for output blocks larger than the caches.

pub(crate) mod bucket_sort;
pub(crate) mod eval;
pub(crate) mod gemm;
pub(crate) mod npy_io;
pub(crate) mod ops;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod scan;
pub(crate) mod sort;
pub(crate) mod stream;
pub(crate) mod walk;
