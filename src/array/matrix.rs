//! Matrix-shaped creation and masking: `eye`, `diag` (both directions), `tril`, `triu`,
//! and the `*_like` constructors.
//!
//! Everything here but [`Array::diag`] of a 2-d array is a fused expression: the masks are
//! `column - row` differences of two broadcast ranges, so `x.tril(0)?.sum(None)` reads `x`
//! once and makes no mask array. The diagonal of a 2-d array is a pointwise gather
//! ([`Array::vindex`]).

use super::dtype::{DType, Scalar};
use super::elementwise::where_;
use super::grid::{ChunkSpec, Chunks};
use super::views::Idx;
use super::{Array, ArrayContext};
use crate::error::{Error, ErrorKind, Result};

/// `col - row` (`i64`) over the last two axes of a grid: `rows` chunked as one axis,
/// `cols` as the other, broadcast against each other.
fn offset_grid(ctx: &ArrayContext, rows: &[usize], cols: &[usize]) -> Result<Array> {
    let (n, m) = (rows.iter().sum::<usize>(), cols.iter().sum::<usize>());
    let len = |v: usize| {
        i64::try_from(v).map_err(|_| Error::new(ErrorKind::Overflow, "axis length overflows"))
    };
    let r = ctx.arange_int(0, len(n)?, 1, ChunkSpec::Explicit(vec![rows.to_vec()]))?;
    let c = ctx.arange_int(0, len(m)?, 1, ChunkSpec::Explicit(vec![cols.to_vec()]))?;
    let r = r.index(&[Idx::full(), Idx::NewAxis])?;
    let c = c.index(&[Idx::NewAxis, Idx::full()])?;
    c.sub(&r)
}

/// The zero of `dtype`.
fn zero(dtype: DType) -> Scalar {
    Scalar::I64(0).cast(dtype)
}

impl ArrayContext {
    /// An `n` by `m` (`m` defaults to `n`) array of `dtype` with ones on diagonal `k` (0 the
    /// main diagonal, positive above it, negative below) and zeros elsewhere, as NumPy's
    /// `eye`. A fused generator: nothing is stored.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, DType};
    /// let ctx = ArrayContext::new();
    /// let e = ctx.eye(3, Some(4), 1, 2, DType::I64)?;
    /// let got = e.compute::<i64>(&blockwork::Sequential::new())?;
    /// assert_eq!(got, ndarray::arr2(&[[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]).into_dyn());
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn eye(
        &self,
        n: usize,
        m: Option<usize>,
        k: isize,
        chunks: impl Into<ChunkSpec>,
        dtype: DType,
    ) -> Result<Array> {
        let chunks = Chunks::new(&[n, m.unwrap_or(n)], chunks)?;
        let d = offset_grid(self, chunks.axis(0), chunks.axis(1))?;
        d.eq(k as i64)?.astype(dtype)
    }
}

impl Array {
    /// Zeros with this array's shape, chunks and type.
    pub fn zeros_like(&self) -> Result<Array> {
        self.full_like(zero(self.dtype()))
    }

    /// Ones with this array's shape, chunks and type.
    pub fn ones_like(&self) -> Result<Array> {
        self.full_like(Scalar::I64(1).cast(self.dtype()))
    }

    /// `value` (cast to this array's type) with this array's shape and chunks, as NumPy's
    /// `full_like`.
    ///
    /// ```
    /// use blockwork::array::{ArrayContext, DType};
    /// let ctx = ArrayContext::new();
    /// let x = ctx.zeros(&[5, 2], [2, 2], DType::I32)?;
    /// let y = x.full_like(7.9)?;
    /// assert_eq!((y.dtype(), y.chunks()), (DType::I32, x.chunks()));
    /// assert_eq!(y.sum(None)?.compute_f64(&blockwork::Sequential::new())?, 70.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn full_like(&self, value: impl Into<Scalar>) -> Result<Array> {
        let v = value.into().cast(self.dtype());
        self.context().full(self.shape(), self.chunks(), v)
    }

    /// A 1-d array's values on diagonal `k` of a square 2-d array of side `len + |k|` (zeros
    /// elsewhere); a 2-d array's diagonal `k` as a 1-d array (empty when `k` is off the
    /// array). As NumPy's `diag`.
    ///
    /// Errors: other numbers of axes are a [`Shape`](ErrorKind::Shape) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let seq = blockwork::Sequential::new();
    /// let v = ctx.from_ndarray(&ndarray::arr1(&[1i64, 2]).into_dyn(), 1)?;
    /// let m = v.diag(-1)?.compute::<i64>(&seq)?;
    /// assert_eq!(m, ndarray::arr2(&[[0, 0, 0], [1, 0, 0], [0, 2, 0]]).into_dyn());
    /// let a = ndarray::Array::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as i64).into_dyn();
    /// let x = ctx.from_ndarray(&a, 2)?;
    /// assert_eq!(x.diag(1)?.compute::<i64>(&seq)?.as_slice().unwrap(), &[1, 6, 11]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn diag(&self, k: isize) -> Result<Array> {
        match self.ndim() {
            1 => self.diag_matrix(k),
            2 => self.diagonal(k),
            n => Err(Error::new(
                ErrorKind::Shape,
                format!("diag takes a 1-d or 2-d array, not {n}-d"),
            )),
        }
    }

    fn diag_matrix(&self, k: isize) -> Result<Array> {
        let n = self.shape()[0];
        let pad = k.unsigned_abs();
        let side = n
            .checked_add(pad)
            .ok_or_else(|| Error::new(ErrorKind::Overflow, "diag size overflows"))?;
        // The values padded to the side, so that row `i` (k >= 0) or column `j` (k < 0)
        // reads element `i` or `j`.
        let mut axis = self.chunks().axis(0).to_vec();
        let v = if pad > 0 {
            axis.push(pad);
            let z = self.context().zeros(&[pad], pad, self.dtype())?;
            Array::concatenate(&[self.clone(), z], 0)?
        } else {
            self.clone()
        };
        debug_assert_eq!(axis.iter().sum::<usize>(), side);
        let d = offset_grid(self.context(), &axis, &axis)?;
        let v = if k >= 0 {
            v.index(&[Idx::full(), Idx::NewAxis])?
        } else {
            v.index(&[Idx::NewAxis, Idx::full()])?
        };
        where_(d.eq(k as i64)?, &v, zero(self.dtype()))
    }

    fn diagonal(&self, k: isize) -> Result<Array> {
        let (n, m) = (self.shape()[0] as isize, self.shape()[1] as isize);
        let (r0, c0) = if k >= 0 { (0, k) } else { (-k, 0) };
        let len = (n - r0).min(m - c0).max(0);
        let rows: Vec<isize> = (r0..r0 + len).collect();
        let cols: Vec<isize> = (c0..c0 + len).collect();
        self.vindex(&[&rows, &cols])
    }

    /// The lower triangle of the last two axes: elements on or below diagonal `k` (0 the
    /// main diagonal, positive above it), zeros above, as NumPy's `tril`.
    ///
    /// Errors: fewer than 2 axes is a [`Shape`](ErrorKind::Shape) error.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.ones(&[3, 3], 2, blockwork::array::DType::I64)?;
    /// let seq = blockwork::Sequential::new();
    /// assert_eq!(x.tril(0)?.sum(None)?.compute_f64(&seq)?, 6.0);
    /// assert_eq!(x.triu(1)?.sum(None)?.compute_f64(&seq)?, 3.0);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn tril(&self, k: isize) -> Result<Array> {
        self.triangle(k, true)
    }

    /// The upper triangle of the last two axes: elements on or above diagonal `k`, zeros
    /// below, as NumPy's `triu` (errors as [`Array::tril`]).
    pub fn triu(&self, k: isize) -> Result<Array> {
        self.triangle(k, false)
    }

    fn triangle(&self, k: isize, lower: bool) -> Result<Array> {
        let n = self.ndim();
        if n < 2 {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("tril and triu take at least 2 axes, not {n}"),
            ));
        }
        let c = self.chunks();
        let d = offset_grid(self.context(), c.axis(n - 2), c.axis(n - 1))?;
        let keep = if lower {
            d.le(k as i64)?
        } else {
            d.ge(k as i64)?
        };
        where_(keep, self, zero(self.dtype()))
    }
}
