//! Window and selection operations: `coarsen` (a reduction over non-overlapping windows,
//! as `dask.array.coarsen`), `diff` (n-th discrete difference, a fused view) and `choose`.

use super::dtype::{BlockData, DType, Element, with_block};
use super::elementwise::where_;
use super::grid::{ChunkSpec, norm_axis};
use super::reduce::ReduceOp;
use super::sort::map_grid;
use super::views::Idx;
use super::{Array, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use ndarray::{ArrayD, IxDyn};

/// A window's values folded by `op` (in `f64` for floats and means, `i64` otherwise).
fn fold_window(op: ReduceOp, it: impl Iterator<Item = f64>) -> f64 {
    let skip = matches!(
        op,
        ReduceOp::NanSum | ReduceOp::NanMean | ReduceOp::NanMin | ReduceOp::NanMax
    );
    let it = it.filter(move |x| !(skip && x.is_nan()));
    match op {
        ReduceOp::Sum | ReduceOp::NanSum => it.sum(),
        ReduceOp::Prod => it.product(),
        ReduceOp::Mean | ReduceOp::NanMean => {
            let (s, n) = it.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
            s / n as f64
        }
        // Extrema: NaN propagates (skipped ones are filtered out above); NaN for nothing.
        _ => {
            let min = matches!(op, ReduceOp::Min | ReduceOp::NanMin);
            let (mut best, mut nan) = (f64::NAN, false);
            for x in it {
                nan |= x.is_nan();
                if best.is_nan() || (min && x < best) || (!min && x > best) {
                    best = x;
                }
            }
            if nan { f64::NAN } else { best }
        }
    }
}

fn fold_window_i(op: ReduceOp, it: impl Iterator<Item = i64>) -> i64 {
    match op {
        ReduceOp::Sum | ReduceOp::NanSum => it.fold(0, i64::wrapping_add),
        ReduceOp::Prod => it.fold(1, i64::wrapping_mul),
        ReduceOp::Min | ReduceOp::NanMin => it.min().unwrap_or(0),
        _ => it.max().unwrap_or(0),
    }
}

/// Element types as `f64` or `i64`.
trait Widen: Element {
    fn f(self) -> f64;
    fn i(self) -> i64;
}
macro_rules! widen {
    ($($t:ty),*) => {$(impl Widen for $t {
        fn f(self) -> f64 { self as f64 }
        fn i(self) -> i64 { self as i64 }
    })*};
}
widen!(i32, i64, f32, f64);
impl Widen for bool {
    fn f(self) -> f64 {
        self as u8 as f64
    }
    fn i(self) -> i64 {
        self as i64
    }
}

fn coarsen_block<T: Widen>(a: &ArrayD<T>, w: &[usize], op: ReduceOp, out: DType) -> BlockData {
    let s = IxDyn(
        &a.shape()
            .iter()
            .zip(w)
            .map(|(&l, &f)| l / f)
            .collect::<Vec<_>>(),
    );
    let windows = a.exact_chunks(IxDyn(w));
    let e = "one value per window";
    if T::DTYPE.is_float() || matches!(op, ReduceOp::Mean | ReduceOp::NanMean) {
        let v = windows
            .into_iter()
            .map(|c| fold_window(op, c.iter().map(|x| x.f())));
        match out {
            DType::F32 => {
                BlockData::F32(ArrayD::from_shape_vec(s, v.map(|x| x as f32).collect()).expect(e))
            }
            _ => BlockData::F64(ArrayD::from_shape_vec(s, v.collect()).expect(e)),
        }
    } else {
        let v = windows
            .into_iter()
            .map(|c| fold_window_i(op, c.iter().map(|x| x.i())));
        match out {
            DType::I32 => {
                BlockData::I32(ArrayD::from_shape_vec(s, v.map(|x| x as i32).collect()).expect(e))
            }
            DType::Bool => {
                BlockData::Bool(ArrayD::from_shape_vec(s, v.map(|x| x != 0).collect()).expect(e))
            }
            _ => BlockData::I64(ArrayD::from_shape_vec(s, v.collect()).expect(e)),
        }
    }
}

impl Array {
    /// A reduction over non-overlapping windows, as `dask.array.coarsen`: `factors` lists
    /// `(axis, factor)` pairs (axes not listed keep factor 1), and each window of
    /// `factor` elements per axis becomes one element, folded by `op` (sum, prod, mean,
    /// min, max, or their NaN-skipping forms). Axes whose chunks are not multiples of their
    /// factor are rechunked first. With `trim_excess`, elements beyond the last whole window
    /// are dropped; otherwise a length not divisible by its factor is an error.
    ///
    /// Errors: an axis out of range or repeated is an [`Index`](ErrorKind::Index) error; a
    /// factor of 0, another reduction, or an indivisible length without `trim_excess` are
    /// [`InvalidArgument`](ErrorKind::InvalidArgument).
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, ReduceOp};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.arange_int(0, 7, 1, 3)?;
    /// let y = x.coarsen(ReduceOp::Sum, &[(0, 2)], true)?;
    /// assert_eq!(y.compute::<i64>(&blockwork::Sequential::new())?.as_slice().unwrap(), &[1, 5, 9]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn coarsen(
        &self,
        op: ReduceOp,
        factors: &[(isize, usize)],
        trim_excess: bool,
    ) -> Result<Array> {
        use ReduceOp::*;
        if !matches!(
            op,
            Sum | Prod | Mean | Min | Max | NanSum | NanMean | NanMin | NanMax
        ) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("coarsen by {op:?}"),
            ));
        }
        let n = self.ndim();
        let mut w = vec![0usize; n];
        for &(a, f) in factors {
            let k = norm_axis(a, n)?;
            if w[k] != 0 {
                return Err(Error::new(ErrorKind::Index, format!("axis {a} repeated")));
            }
            if f == 0 {
                return Err(Error::new(ErrorKind::InvalidArgument, "coarsen factor 0"));
            }
            w[k] = f;
        }
        let w: Vec<usize> = w.iter().map(|&f| f.max(1)).collect();
        let mut x = self.clone();
        if (0..n).any(|k| !self.shape()[k].is_multiple_of(w[k])) {
            if !trim_excess {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("shape {:?} is not divisible by {w:?}", self.shape()),
                ));
            }
            let idx: Vec<Idx> = (0..n)
                .map(|k| Idx::slice(Some(0), Some((self.shape()[k] / w[k] * w[k]) as isize), 1))
                .collect();
            x = x.index(&idx)?;
        }
        // Chunks that are whole windows: each chunk rounded down to a multiple of the
        // factor (at least one window), the remainder carried into the next.
        let axes: Vec<Vec<usize>> = (0..n)
            .map(|k| {
                let c = x.chunks().axis(k);
                if c.iter().all(|l| l.is_multiple_of(w[k])) {
                    return c.to_vec();
                }
                let size = (c.iter().copied().max().unwrap_or(0) / w[k]).max(1) * w[k];
                let len = x.shape()[k];
                let mut v = vec![size; len / size];
                if !len.is_multiple_of(size) {
                    v.push(len % size);
                }
                v
            })
            .collect();
        let x = x.rechunk(ChunkSpec::Explicit(axes.clone()))?;
        let out_axes: Vec<Vec<usize>> = axes
            .iter()
            .zip(&w)
            .map(|(a, &f)| a.iter().map(|&l| l / f).collect())
            .collect();
        let chunks = super::grid::Chunks::from_axes(out_axes)?;
        let dtype = op.out_dtype(self.dtype());
        let name = token("coarsen", (x.name(), op, &w));
        Ok(map_grid(&x, chunks, name, dtype, move |b, _| {
            Ok(with_block!(b, a => coarsen_block(a, &w, op, dtype)))
        }))
    }

    /// The `n`-th discrete difference along `axis` (`x[1:] - x[:-1]`, `n` times; for bools,
    /// `!=`), as NumPy's `diff`: the axis shrinks by `n` (to 0 at most). A fused view, so
    /// it costs no tasks of its own.
    ///
    /// Errors: an axis out of range is an [`Index`](ErrorKind::Index) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[1i64, 4, 9, 16]).into_dyn(), 3)?;
    /// let d = x.diff(2, 0)?.compute::<i64>(&blockwork::Sequential::new())?;
    /// assert_eq!(d.as_slice().unwrap(), &[2, 2]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn diff(&self, n: usize, axis: isize) -> Result<Array> {
        let k = norm_axis(axis, self.ndim())?;
        let mut x = self.clone();
        for _ in 0..n.min(self.shape()[k]) {
            let cut = |start: Option<isize>, stop: Option<isize>| {
                let mut idx = vec![Idx::full(); x.ndim()];
                idx[k] = Idx::slice(start, stop, 1);
                x.index(&idx)
            };
            let (hi, lo) = (cut(Some(1), None)?, cut(None, Some(-1))?);
            x = if x.dtype() == DType::Bool {
                hi.ne(&lo)?
            } else {
                hi.sub(&lo)?
            };
        }
        Ok(x)
    }

    /// Elements picked from `choices` by this integer array, as NumPy's `choose`: where
    /// this array holds `j`, the result holds `choices[j]` (all broadcast together).
    ///
    /// Errors: no choices is [`InvalidArgument`](ErrorKind::InvalidArgument); a float
    /// index array is a [`Type`](ErrorKind::Type) error; shapes that do not broadcast are
    /// [`Shape`](ErrorKind::Shape) errors; an index outside `0..choices.len()` is an
    /// [`Index`](ErrorKind::Index) error when computed (the computation's
    /// [`task_cause`](crate::Error::task_cause); its kind is [`TaskFailed`](ErrorKind::TaskFailed)).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let i = ctx.from_ndarray(&ndarray::arr1(&[0i64, 2, 1]).into_dyn(), 2)?;
    /// let a = ctx.full(&[3], 2, 10.0)?;
    /// let b = ctx.arange(0.0, 3.0, 1.0, 2)?;
    /// let c = ctx.full(&[3], 2, -1.0)?;
    /// let got = i.choose(&[a, b, c])?.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got.as_slice().unwrap(), &[10.0, -1.0, 2.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn choose(&self, choices: &[Array]) -> Result<Array> {
        let Some(last) = choices.last() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "choose from no choices",
            ));
        };
        if self.dtype().is_float() {
            return Err(Error::new(
                ErrorKind::Type,
                format!("choose by {} indices", self.dtype()),
            ));
        }
        let m = choices.len() as i64;
        let checked = self.map_blocks_with_token("choose-check", &m.to_string(), self.dtype(), move |b, _| {
            let bad = with_block!(b, a => a.iter().map(|x| x.scalar().as_f64()).find(|&v| !(v >= 0.0 && v < m as f64)));
            match bad {
                Some(v) => Err(TaskError::with_kind(
                    ErrorKind::Index,
                    format!("choose index {v} outside 0..{m}"),
                )),
                None => Ok(b.clone()),
            }
        })?;
        let mut acc = last.clone();
        for (j, c) in choices.iter().enumerate().rev().skip(1) {
            acc = where_(checked.eq(j as i64)?, c, &acc)?;
        }
        // Broadcast against the index array even with a single choice.
        where_(checked.ge(0i64)?, &acc, &acc)
    }
}
