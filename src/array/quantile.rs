//! Exact quantiles along an axis: the axis sorted, each virtual index's two neighbours
//! picked, and NumPy's linear interpolation between them (its default method, with its
//! `_lerp` formula, so results match NumPy's to the last bit for `f64` data).

use super::Array;
use super::dtype::DType;
use super::elementwise::where_;
use super::grid::norm_axis;
use super::views::Idx;
use crate::error::{Error, ErrorKind, Result};
use ndarray::{ArrayD, IxDyn};

impl Array {
    /// The quantiles `q` (each in `[0, 1]`) of the values along `axis` (all values for
    /// `None`), with linear interpolation as NumPy's default `quantile`. The result has a
    /// first axis of length `q.len()`, then the axes not reduced; it is `f64` (`f32` for
    /// `f32` data, computed in `f64`). A lane holding NaN gives NaN, as in NumPy. Exact:
    /// the axis is sorted ([`Array::sort`]), not approximated per block.
    ///
    /// Errors: an empty `q`, or a `q` outside `[0, 1]` or NaN, is
    /// [`InvalidArgument`](ErrorKind::InvalidArgument); an empty axis is
    /// [`Empty`](ErrorKind::Empty); an axis out of range is [`Index`](ErrorKind::Index).
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let x = ctx.from_ndarray(&ndarray::arr1(&[4.0, 1.0, 3.0, 2.0]).into_dyn(), 3)?;
    /// let q = x.quantile(&[0.0, 0.5, 0.9], None)?.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(q.as_slice().unwrap(), &[1.0, 2.5, 3.7]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn quantile(&self, q: &[f64], axis: Option<isize>) -> Result<Array> {
        if q.is_empty() || q.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("quantiles must be in [0, 1] (and at least one): {q:?}"),
            ));
        }
        let (x, k) = match axis {
            None => (self.reshape(&[-1])?, 0),
            Some(a) => (self.clone(), norm_axis(a, self.ndim())?),
        };
        let n = x.shape()[k];
        if n == 0 {
            return Err(Error::new(ErrorKind::Empty, "quantile of an empty axis"));
        }
        let sorted = x.sort(k as isize)?.astype(DType::F64)?;
        let at = |pos: Vec<isize>| {
            let mut idx = vec![Idx::full(); x.ndim()];
            idx[k] = Idx::List(pos);
            sorted.index(&idx)
        };
        // NumPy's linear method: virtual index (n - 1) q, its floor and the next position
        // (both clipped to the last), and the fraction between them.
        let top = (n - 1) as f64;
        let virt: Vec<f64> = q.iter().map(|&q| top * q).collect();
        let prev: Vec<isize> = virt.iter().map(|&v| v.floor().min(top) as isize).collect();
        let next: Vec<isize> = prev.iter().map(|&p| (p + 1).min(n as isize - 1)).collect();
        let gamma: Vec<f64> = virt
            .iter()
            .zip(&prev)
            .map(|(&v, &p)| v - p as f64)
            .collect();
        let (a, b) = (at(prev)?, at(next)?);
        let mut gshape = vec![1; x.ndim()];
        gshape[k] = q.len();
        let g = ArrayD::from_shape_vec(IxDyn(&gshape), gamma).expect("one per quantile");
        let g = self.context().from_ndarray(&g, gshape.clone())?;
        let diff = b.sub(&a)?;
        let low = a.add(diff.mul(&g)?)?;
        let high = b.sub(diff.mul(g.rsub_one()?)?)?;
        let lerp = where_(g.ge(0.5)?, high, low)?;
        let last = at(vec![n as isize - 1])?;
        let out = where_(last.isnan()?, f64::NAN, lerp)?;
        let mut perm = vec![k as isize];
        perm.extend((0..x.ndim() as isize).filter(|&j| j != k as isize));
        out.transpose(&perm)?.astype(self.dtype().float())
    }

    /// `1 - self`.
    fn rsub_one(&self) -> Result<Array> {
        super::elementwise::binary(super::expr::BinOp::Sub, 1.0, self)
    }

    /// The percentiles `q` (each in `[0, 100]`): [`Array::quantile`] of `q / 100`, with
    /// its result and errors.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// let ctx = ArrayContext::new();
    /// let a = ndarray::Array::from_shape_fn((2, 5), |(i, j)| (i * 5 + j) as i64).into_dyn();
    /// let x = ctx.from_ndarray(&a, [1, 2])?;
    /// let p = x.percentile(&[50.0], Some(1))?.compute::<f64>(&blockwork::Sequential::new())?;
    /// assert_eq!(p.as_slice().unwrap(), &[2.0, 7.0]);
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn percentile(&self, q: &[f64], axis: Option<isize>) -> Result<Array> {
        if q.iter().any(|q| !(0.0..=100.0).contains(q)) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("percentiles must be in [0, 100]: {q:?}"),
            ));
        }
        let q: Vec<f64> = q.iter().map(|&p| p / 100.0).collect();
        self.quantile(&q, axis)
    }
}
