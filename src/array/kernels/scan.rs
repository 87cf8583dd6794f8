//! The loops of cumulative sums and products: a block scanned on its own, the carry (the
//! total of the blocks before) folded forward, and a scanned block combined with its carry.

use ndarray::{ArrayD, Axis};

/// Element types scans run in: `f64` and `i64` (wrapping).
pub(crate) trait ScanElem: Copy + 'static {
    fn combine(a: Self, b: Self, prod: bool) -> Self;
    fn identity(prod: bool) -> Self;
}
impl ScanElem for f64 {
    fn combine(a: f64, b: f64, prod: bool) -> f64 {
        if prod { a * b } else { a + b }
    }
    fn identity(prod: bool) -> f64 {
        if prod { 1.0 } else { 0.0 }
    }
}
impl ScanElem for i64 {
    fn combine(a: i64, b: i64, prod: bool) -> i64 {
        if prod {
            a.wrapping_mul(b)
        } else {
            a.wrapping_add(b)
        }
    }
    fn identity(prod: bool) -> i64 {
        prod as i64
    }
}

/// `a` scanned along `axis` on its own (the running sum or product from its first slice).
pub(crate) fn scan_block<T: ScanElem>(a: &ArrayD<T>, axis: usize, prod: bool) -> ArrayD<T> {
    let mut out = a.to_owned();
    out.accumulate_axis_inplace(Axis(axis), |&prev, cur| *cur = T::combine(prev, *cur, prod));
    out
}

/// `carry ⊕ last slice of local` (the carry for the next block), keeping the axis.
pub(crate) fn next_carry<T: ScanElem>(
    carry: Option<&ArrayD<T>>,
    local: &ArrayD<T>,
    axis: usize,
    prod: bool,
) -> ArrayD<T> {
    let n = local.shape()[axis];
    let last = if n == 0 {
        return carry.cloned().unwrap_or_else(|| {
            let mut s = local.shape().to_vec();
            s[axis] = 1;
            ArrayD::from_elem(s, T::identity(prod))
        });
    } else {
        local
            .index_axis(Axis(axis), n - 1)
            .insert_axis(Axis(axis))
            .to_owned()
    };
    match carry {
        None => last,
        Some(c) => {
            let mut out = last;
            out.zip_mut_with(c, |o, &c| *o = T::combine(c, *o, prod));
            out
        }
    }
}

/// `local` with `carry` (the total of the blocks before it) folded into every slice.
pub(crate) fn apply_carry<T: ScanElem>(
    local: &ArrayD<T>,
    carry: &ArrayD<T>,
    prod: bool,
) -> ArrayD<T> {
    let mut out = local.to_owned();
    out.zip_mut_with(carry, |o, &c| *o = T::combine(c, *o, prod));
    out
}
