//! The array workloads of the benchmarks (perf/BENCHMARKS.md §2), shared by `blockwork bench` and
//! the `array_bench` example.
//!
//! `array_a` .. `array_g`: float64, `n` the side of the square arrays, chunks `n / 10` per
//! axis (`d`: `n / 4`), as the cross-engine harness runs them on every engine. The 1-d cases
//! ([`is_flat`](Workload::is_flat)) take `n` as the element count, in chunks of
//! [`FLAT_BLOCKS`]-th of it: `array_sort` sorts `n` uniform float64 values (persisted before
//! timing), `array_unique` finds the distinct values of `n` int64 values drawn from
//! [`UNIQUE_DISTINCT`] (persisted before timing), `array_histogram` counts `n` uniform values,
//! generated inside the timed run, into [`HISTOGRAM_BINS`] bins over `[0, 1]`. The tall cases
//! ([`is_tall`](Workload::is_tall)) take `n` as the row count of a uniform float64 matrix of
//! [`TALL_COLS`] columns, chunked along its rows only ([`TALL_BLOCKS`] row blocks, one column
//! chunk), persisted before timing: `array_tsqr` computes and persists its QR factors by
//! [`linalg::tsqr`](super::linalg::tsqr), `array_svd` its thin SVD by
//! [`linalg::svd`](super::linalg::svd). [`Workload::prepare`] builds the inputs
//! (persisted, so they are not part of the timing); [`Workload::run`] is the timed part;
//! [`Workload::value`] reduces what a run produced to one number, for checking (untimed).
//!
//! ```
//! use blockwork::Sequential;
//! use blockwork::array::{ArrayContext, bench::Workload};
//! let exec = Sequential::new();
//! let w = Workload::prepare(&ArrayContext::new(), &exec, "array_f", 40)?;
//! let out = w.run(&exec)?;
//! assert!(w.value(&out, &exec)? > 0.0); // the standard deviation of uniform [0, 1) values
//! # Ok::<(), blockwork::Error>(())
//! ```

use super::{Array, ArrayContext, Idx, persist_all};
use crate::{Error, ErrorKind, Executor, Result};

/// The workload names: `array_a` .. `array_g`, the 1-d cases, then the tall cases.
pub const WORKLOADS: [&str; 12] = [
    "array_a",
    "array_b",
    "array_c",
    "array_d",
    "array_e",
    "array_f",
    "array_g",
    "array_sort",
    "array_unique",
    "array_histogram",
    "array_tsqr",
    "array_svd",
];
/// The 1-d cases are cut into this many blocks (fewer when `n` is smaller).
pub const FLAT_BLOCKS: usize = 100;
/// `array_unique` draws its integers from `0..UNIQUE_DISTINCT`.
pub const UNIQUE_DISTINCT: i64 = 10_000;
/// `array_histogram`'s bin count.
pub const HISTOGRAM_BINS: usize = 100;
/// Columns of the tall cases' matrix.
pub const TALL_COLS: usize = 100;
/// The tall cases' matrix is cut into this many row blocks (fewer when `n` is smaller).
pub const TALL_BLOCKS: usize = 20;
/// Seed of the first input array (`x`); the second (`y`) uses `SEED + 1`.
pub const SEED: u64 = 1;
/// Seed of the array generated inside the timed run of `b` and `g`.
pub const RANDOM_SEED: u64 = 3;
/// Rows and columns dropped at each end of the second axis by case `e` (`x[::2, 100:-100]`).
pub const E_MARGIN: usize = 100;

/// What one run produced.
pub enum Output {
    /// A materialised (persisted) array: cases `a`, `d` and `sort`.
    Array(Array),
    /// A computed vector: cases `c`, `unique` and `histogram`.
    Vector(Vec<f64>),
    /// Several materialised arrays: the factors of `tsqr` (`q`, `r`) and `svd` (`u`, `s`,
    /// `vh`).
    Factors(Vec<Array>),
    /// A scalar reduction: cases `b`, `e`, `f`, `g`.
    Scalar(f64),
}

/// One array case with its inputs built.
pub struct Workload {
    case: &'static str,
    n: usize,
    chunk: usize,
    ctx: ArrayContext,
    inputs: Vec<Array>,
}

impl Workload {
    /// Whether `name` is one of [`WORKLOADS`].
    pub fn is_known(name: &str) -> bool {
        WORKLOADS.contains(&name)
    }

    /// Whether case `name` is 1-d, with `n` its element count (not a side).
    pub fn is_flat(name: &str) -> bool {
        WORKLOADS[7..10].contains(&name)
    }

    /// Whether case `name` is tall, with `n` the row count of an `n × TALL_COLS` matrix.
    pub fn is_tall(name: &str) -> bool {
        WORKLOADS[10..].contains(&name)
    }

    /// The chunk side of case `name` at `n`: `n / 10` (`array_d`: `n / 4`; the 1-d cases:
    /// `n / FLAT_BLOCKS`; the tall cases: `n / TALL_BLOCKS` rows), at least 1.
    pub fn chunk(name: &str, n: usize) -> usize {
        let parts = match name {
            "array_d" => 4,
            _ if Self::is_flat(name) => FLAT_BLOCKS,
            _ if Self::is_tall(name) => TALL_BLOCKS,
            _ => 10,
        };
        (n / parts).max(1)
    }

    /// Builds (and persists on `exec`) the inputs of case `name` (`array_a` .. `array_g`) at
    /// side `n`. An unknown name or a side too small for the case is `InvalidArgument`.
    pub fn prepare(
        ctx: &ArrayContext,
        exec: &impl Executor,
        name: &str,
        n: usize,
    ) -> Result<Workload> {
        if !Self::is_known(name) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "unknown array workload {name:?} (known: {})",
                    WORKLOADS.join(", ")
                ),
            ));
        }
        let case = WORKLOADS
            .iter()
            .find(|w| **w == name)
            .and_then(|w| w.strip_prefix("array_"))
            .expect("a known name");
        let min = match case {
            "e" => 2 * E_MARGIN + 1,
            // Each row block of a tall case at least as tall as it is wide.
            "tsqr" | "svd" => TALL_COLS * TALL_BLOCKS,
            _ => 1,
        };
        if n < min {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{name} needs a side of at least {min}, not {n}"),
            ));
        }
        let chunk = Self::chunk(name, n);
        let input = |seed| ctx.random(&[n, n], chunk, seed)?.persist(exec);
        let inputs = match case {
            "a" | "d" => vec![input(SEED)?, input(SEED + 1)?],
            "c" | "e" | "f" => vec![input(SEED)?],
            "sort" => vec![ctx.random(&[n], chunk, SEED)?.persist(exec)?],
            "unique" => vec![
                ctx.random_integers(&[n], chunk, SEED, 0, UNIQUE_DISTINCT)?
                    .persist(exec)?,
            ],
            "tsqr" | "svd" => vec![
                ctx.random(&[n, TALL_COLS], vec![chunk, TALL_COLS], SEED)?
                    .persist(exec)?,
            ],
            _ => Vec::new(),
        };
        Ok(Workload {
            case,
            n,
            chunk,
            ctx: ctx.clone(),
            inputs,
        })
    }

    /// The persisted inputs (`x`, then `y` where the case has one).
    pub fn inputs(&self) -> &[Array] {
        &self.inputs
    }

    /// One run of the case: the part the benchmark times.
    pub fn run(&self, exec: &impl Executor) -> Result<Output> {
        let n = self.n;
        let input = |i: usize| -> &Array { &self.inputs[i] };
        Ok(match self.case {
            "a" => Output::Array(input(0).add(1.0)?.mul(2.0)?.sub(input(1))?.persist(exec)?),
            "b" | "g" => {
                let r = self.ctx.random(&[n, n], self.chunk, RANDOM_SEED)?;
                let r = if self.case == "b" {
                    r.sum(None)?
                } else {
                    r.mean(None)?
                };
                Output::Scalar(r.compute_scalar(exec)?.as_f64())
            }
            "c" => {
                let x = input(0);
                let s = x.add(x.t())?.sum(Some(0))?.compute::<f64>(exec)?;
                Output::Vector(s.iter().copied().collect())
            }
            "d" => Output::Array(input(0).matmul(input(1))?.persist(exec)?),
            "e" => {
                let margin = E_MARGIN as isize;
                let v = input(0).index(&[
                    Idx::slice(None, None, 2),
                    Idx::slice(Some(margin), Some(-margin), 1),
                ])?;
                Output::Scalar(v.mean(None)?.compute_scalar(exec)?.as_f64())
            }
            "f" => Output::Scalar(input(0).std(None, 0)?.compute_scalar(exec)?.as_f64()),
            "sort" => Output::Array(input(0).sort(0)?.persist(exec)?),
            "unique" => {
                let u = input(0).unique(exec, true, false)?.values;
                let v = u.compute::<i64>(exec)?;
                Output::Vector(v.iter().map(|&x| x as f64).collect())
            }
            "histogram" => {
                let r = self.ctx.random(&[n], self.chunk, RANDOM_SEED)?;
                let h = r.histogram(HISTOGRAM_BINS, Some((0.0, 1.0)), None, false)?;
                let c = h.counts.compute::<i64>(exec)?;
                Output::Vector(c.iter().map(|&x| x as f64).collect())
            }
            "tsqr" => {
                let (q, r) = super::linalg::tsqr(input(0))?;
                Output::Factors(persist_all(&[q, r], exec)?)
            }
            "svd" => {
                let (u, s, vh) = super::linalg::svd(input(0))?;
                Output::Factors(persist_all(&[u, s, vh], exec)?)
            }
            _ => unreachable!("prepare accepts only the known cases"),
        })
    }

    /// One number summarising a run's output, computed without materialising anything of
    /// the size of the result: for a result matrix `z` (`a`, `d`), the sum of
    /// `z[i, j] * ((i + 1) + 2 (j + 1))` (so a transposed or permuted result shows); for the
    /// sorted vector `z` of `sort`, the sum of `z[i] * (i + 1)`; for a computed vector `v`
    /// (`c`, the distinct values of `unique`, the counts of `histogram`), the sum of
    /// `v[j] * (j + 1)`; for the factors of `tsqr` and `svd`, the sum of the squares of all
    /// their elements; the scalar itself otherwise.
    pub fn value(&self, out: &Output, exec: &impl Executor) -> Result<f64> {
        let weighted = |v: &[f64], w: f64| -> f64 {
            v.iter()
                .enumerate()
                .map(|(i, x)| x * w * (i + 1) as f64)
                .sum()
        };
        Ok(match out {
            Output::Array(z) if z.ndim() == 1 => {
                let n = z.shape()[0];
                let w = self.ctx.arange(1.0, n as f64 + 1.0, 1.0, z.chunks())?;
                z.mul(&w)?.sum(None)?.compute_f64(exec)?
            }
            Output::Array(z) => {
                let rows = z.sum(Some(1))?.compute::<f64>(exec)?;
                let cols = z.sum(Some(0))?.compute::<f64>(exec)?;
                let (rows, cols): (Vec<f64>, Vec<f64>) = (
                    rows.iter().copied().collect(),
                    cols.iter().copied().collect(),
                );
                weighted(&rows, 1.0) + weighted(&cols, 2.0)
            }
            Output::Vector(v) => weighted(v, 1.0),
            // The squares of all the factors' elements: free of the factors' signs, which
            // differ between QR and SVD implementations (tsqr: `k + |a|²`, svd: `2 k + |a|²`).
            Output::Factors(fs) => {
                let mut total = 0.0;
                for f in fs {
                    total += f.mul(f)?.sum(None)?.compute_f64(exec)?;
                }
                total
            }
            Output::Scalar(s) => *s,
        })
    }
}
