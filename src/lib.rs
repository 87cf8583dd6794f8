//! # Blockwork
//!
//! A task-graph engine in the design of dask, for Rust programs: task graphs described as
//! data, a sequential reference executor and a pinned work-stealing pool that run them,
//! freeing every intermediate value the moment its last user has finished.
//!
//! ```
//! use blockwork::{Arg, Executor, GraphBuilder, Op, Pool, Value};
//!
//! let inc = Op::typed("inc", |x: i64| x + 1);
//! let add = Op::typed("add", |a: i64, b: i64| a + b);
//! let mut g = GraphBuilder::new();
//! g.literal("x", 1)?;
//! g.task("y", &inc, [Arg::key("x")])?;
//! g.task("z", &add, [Arg::key("y"), Arg::lit(10)])?;
//! let graph = g.build();
//!
//! let pool = Pool::new(2)?;
//! assert_eq!(pool.get(&graph, "z")?, Value::Int(12));
//! # Ok::<(), blockwork::Error>(())
//! ```
//!
//! Layers, each depending only on those before it: [`key`], [`value`] and [`error`] are
//! leaves; [`graph`] holds the specification and its rewrites ([`graph::optimize`]); [`plan`]
//! interns a graph into a flat arena of [`TaskId`]s; [`exec`] runs plans. On top of them,
//! [`spec`] reads and writes graphs as JSON spec files of builtin ops, [`diagnostics`] draws,
//! measures, profiles and shows the progress of graphs and runs, and `bench_shapes` makes
//! the graphs of the scheduler benchmarks; [`array`](mod@array) builds blocked n-d arrays in the manner
//! of `dask.array` and [`bag`] partitioned collections in the manner of `dask.bag`. With the
//! `testing` feature, `testing` adds random DAGs, a plan checker and a sequential-versus-pool
//! differential runner, for test suites and fuzz targets.
//!
//! # Features
//!
//! - `cli` (default): the `blockwork` binary, with clap and the mimalloc allocator; enables
//!   `progress` and `workloads`. The library itself sets no global allocator.
//! - `zarr` (default): Zarr stores for arrays (`ArrayContext::from_zarr`, `Array::to_zarr`),
//!   through the `zarrs` crate, whose blosc and zstd codecs compile C and C++ code.
//! - `progress`: `diagnostics::Progress`, a progress bar drawn with indicatif.
//! - `workloads`: the benchmark workloads, `bench_shapes`, `array::bench` and `bag::corpus`.
//! - `testing`: `testing` and the fuzz entry points (`spec::fuzz_spec_json`,
//!   `array::fuzz_array_index`); enables `workloads`.
//!
//! - `distributed`: `distributed::Distributed`, an executor that runs one graph across the
//!   ranks of an MPI job (needs an MPI library such as Open MPI, and libclang to build).
//!
//! An application that needs none of them depends on `blockwork` with
//! `default-features = false`.

pub mod array;
pub mod bag;
#[cfg(feature = "workloads")]
pub mod bench_shapes;
pub mod compute;
pub mod delayed;
pub mod diagnostics;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod error;
pub mod exec;
pub mod files;
pub mod graph;
pub mod key;
pub mod plan;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
pub mod typed;
pub mod value;

pub use compute::compute;
pub use delayed::{Delayed, delayed};
pub use error::{Error, ErrorKind, Result, TaskError};
pub use exec::{
    Computed, Executor, Feed, Keys, Observer, Pool, PoolBuilder, RunOptions, RunOutput, RunStats,
    Sequential,
};
pub use graph::{Arg, Graph, GraphBuilder, Node, Op, Task};
pub use key::{Atom, Atoms, Key};
/// The ndarray crate this one is built with, for [`array`](mod@array)'s conversions
/// (`from_ndarray`, `compute`) without a second copy of ndarray in the build.
pub use ndarray;
pub use plan::{Plan, TaskId};
pub use value::{FromValue, IntoTaskResult, Payload, TaskArg, Value};

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
