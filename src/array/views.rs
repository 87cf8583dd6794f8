//! Views: transpose, slicing, integer indexing, new axes and squeezing. Each output block
//! reads one block of the input through an affine map per axis, so a view is a fused
//! recipe, not a task: `x[::2, 100:-100].mean()` reads half of `x`'s rows straight into the
//! reduction, and `x + x.T` is one task per block.

use super::Array;
use super::expr::{AxisMap, Segment, View};
use super::grid::{Chunks, norm_axis, offsets};
use crate::error::{Error, ErrorKind, Result};
use std::sync::Arc;

/// One component of an index expression (NumPy's basic and simple advanced indexing).
///
/// ```
/// use blockwork::array::{ArrayContext, Idx};
/// let ctx = ArrayContext::new();
/// let x = ctx.arange(0.0, 20.0, 1.0, 6)?;
/// let y = x.index(&[Idx::slice(None, None, -3)])?;
/// let got = y.compute::<f64>(&blockwork::Sequential::new())?;
/// assert_eq!(got.as_slice().unwrap(), &[19.0, 16.0, 13.0, 10.0, 7.0, 4.0, 1.0]);
/// # Ok::<(), blockwork::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Idx {
    /// One position (negative counts from the end); the axis is dropped.
    Int(isize),
    /// `start:stop:step`; `None` bounds default as in NumPy; `step` may be negative, not 0.
    Slice {
        /// First position.
        start: Option<isize>,
        /// End (exclusive).
        stop: Option<isize>,
        /// Step.
        step: isize,
    },
    /// A new axis of length 1.
    NewAxis,
    /// As many full slices as needed.
    Ellipsis,
    /// Positions along the axis, in any order, repeats allowed (at most one list or mask).
    List(Vec<isize>),
    /// A boolean mask as long as the axis (at most one list or mask).
    Mask(Vec<bool>),
}

impl Idx {
    /// `start:stop:step`.
    pub fn slice(start: Option<isize>, stop: Option<isize>, step: isize) -> Idx {
        Idx::Slice { start, stop, step }
    }
    /// `:` (the whole axis).
    pub fn full() -> Idx {
        Idx::slice(None, None, 1)
    }
}

impl From<isize> for Idx {
    fn from(i: isize) -> Idx {
        Idx::Int(i)
    }
}
impl From<std::ops::Range<isize>> for Idx {
    fn from(r: std::ops::Range<isize>) -> Idx {
        Idx::slice(Some(r.start), Some(r.end), 1)
    }
}
impl From<std::ops::RangeFrom<isize>> for Idx {
    fn from(r: std::ops::RangeFrom<isize>) -> Idx {
        Idx::slice(Some(r.start), None, 1)
    }
}
impl From<std::ops::RangeTo<isize>> for Idx {
    fn from(r: std::ops::RangeTo<isize>) -> Idx {
        Idx::slice(None, Some(r.end), 1)
    }
}
impl From<std::ops::RangeFull> for Idx {
    fn from(_: std::ops::RangeFull) -> Idx {
        Idx::full()
    }
}

#[cold]
fn index_err(msg: String) -> Error {
    Error::new(ErrorKind::Index, msg)
}

/// `(first, step, len)` of a slice on an axis of length `n`, as NumPy computes it.
pub(crate) fn slice_bounds(
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
    n: usize,
) -> Result<(isize, isize, usize)> {
    if step == 0 {
        return Err(index_err("slice step cannot be zero".into()));
    }
    let n = n as isize;
    let norm = |v: isize, lo: isize, hi: isize| {
        let v = if v < 0 { v + n } else { v };
        v.clamp(lo, hi)
    };
    // Lengths in i128: `a - b + |step| - 1` cannot overflow there for any isize step.
    let st = (step as i128).abs();
    let (first, len) = if step > 0 {
        let a = start.map_or(0, |v| norm(v, 0, n));
        let b = stop.map_or(n, |v| norm(v, 0, n));
        (
            a,
            if b > a {
                (b as i128 - a as i128 + st - 1) / st
            } else {
                0
            },
        )
    } else {
        let a = start.map_or(n - 1, |v| norm(v, -1, n - 1));
        let b = stop.map_or(-1, |v| norm(v, -1, n - 1));
        (
            a,
            if a > b {
                (a as i128 - b as i128 + st - 1) / st
            } else {
                0
            },
        )
    };
    Ok((first, step, len as usize))
}

/// The pieces of positions `first + i * step` (`i < len`) per source block, in order:
/// output chunk lengths and the segment each reads.
pub(crate) fn pieces(
    lens: &[usize],
    first: isize,
    step: isize,
    len: usize,
) -> (Vec<usize>, Vec<Segment>) {
    if len == 0 {
        return (
            vec![0],
            vec![Segment {
                block: 0,
                start: 0,
                step: 1,
            }],
        );
    }
    let offs = offsets(lens);
    let (mut chunks, mut segs) = (Vec::new(), Vec::new());
    let mut i = 0usize;
    while i < len {
        let pos = (first + i as isize * step) as usize;
        let (b, off) = super::grid::locate(&offs, pos);
        let room = if step > 0 {
            (offs[b + 1] - 1 - pos) / step.unsigned_abs() + 1
        } else {
            (pos - offs[b]) / step.unsigned_abs() + 1
        };
        let count = room.min(len - i);
        chunks.push(count);
        segs.push(Segment {
            block: b,
            start: off,
            step,
        });
        i += count;
    }
    (chunks, segs)
}

impl Array {
    /// Axes permuted: output axis `k` is input axis `axes[k]` (a permutation, else an
    /// [`Index`](ErrorKind::Index) error; negative axes count from the end).
    pub fn transpose(&self, axes: &[isize]) -> Result<Array> {
        let n = self.ndim();
        if axes.len() != n {
            return Err(index_err(format!(
                "transpose needs {n} axes, got {}",
                axes.len()
            )));
        }
        let perm: Vec<usize> = axes
            .iter()
            .map(|&a| norm_axis(a, n))
            .collect::<Result<_>>()?;
        let mut seen = vec![false; n];
        for &p in &perm {
            if std::mem::replace(&mut seen[p], true) {
                return Err(index_err(format!("axes {axes:?} repeat an axis")));
            }
        }
        let id = View::identity(&self.chunks().numblocks());
        let view = View {
            axes: perm.iter().map(|&p| id.axes[p].clone()).collect(),
            fixed: vec![],
        };
        let chunks = Chunks::from_axes(
            perm.iter()
                .map(|&p| self.chunks().axis(p).to_vec())
                .collect(),
        )?;
        Ok(self.view_as(view, chunks, "transpose"))
    }

    /// Axes reversed (`.T`).
    pub fn t(&self) -> Array {
        let axes: Vec<isize> = (0..self.ndim() as isize).rev().collect();
        self.transpose(&axes)
            .expect("reversed axes are a permutation")
    }

    /// Two axes exchanged.
    pub fn swapaxes(&self, a: isize, b: isize) -> Result<Array> {
        let (a, b) = (norm_axis(a, self.ndim())?, norm_axis(b, self.ndim())?);
        let mut axes: Vec<isize> = (0..self.ndim() as isize).collect();
        axes.swap(a, b);
        self.transpose(&axes)
    }

    /// A length-1 axis inserted at `axis` (in the output's numbering).
    pub fn expand_dims(&self, axis: isize) -> Result<Array> {
        let k = norm_axis(axis, self.ndim() + 1)?;
        let mut idx = vec![Idx::full(); self.ndim()];
        idx.insert(k, Idx::NewAxis);
        self.index(&idx)
    }

    /// Length-1 axes removed: the given ones (an error if one is longer), or all.
    pub fn squeeze(&self, axes: Option<&[isize]>) -> Result<Array> {
        let n = self.ndim();
        let drop: Vec<usize> = match axes {
            None => (0..n).filter(|&k| self.shape()[k] == 1).collect(),
            Some(a) => a.iter().map(|&x| norm_axis(x, n)).collect::<Result<_>>()?,
        };
        if let Some(&k) = drop.iter().find(|&&k| self.shape()[k] != 1) {
            return Err(Error::new(
                ErrorKind::Shape,
                format!("cannot squeeze axis {k} of length {}", self.shape()[k]),
            ));
        }
        let idx: Vec<Idx> = (0..n)
            .map(|k| {
                if drop.contains(&k) {
                    Idx::Int(0)
                } else {
                    Idx::full()
                }
            })
            .collect();
        self.index(&idx)
    }

    /// NumPy indexing: integers, slices (any step), new axes, one ellipsis, and at most one
    /// integer list or boolean mask. As in NumPy, the list's axis goes first when it and the
    /// integers are split by a slice, new axis or ellipsis: `x[0, :, [1, 2]]` of a `(2, 3, 4)`
    /// array has shape `(2, 3)`.
    ///
    /// Errors ([`Index`](ErrorKind::Index)): a position out of bounds, a zero step, more
    /// indices than axes, two ellipses, two lists or masks, a mask of the wrong length.
    pub fn index(&self, idx: &[Idx]) -> Result<Array> {
        let n = self.ndim();
        let consuming = idx
            .iter()
            .filter(|i| !matches!(i, Idx::NewAxis | Idx::Ellipsis))
            .count();
        if consuming > n {
            return Err(index_err(format!("{consuming} indices for {n} axes")));
        }
        if idx.iter().filter(|i| matches!(i, Idx::Ellipsis)).count() > 1 {
            return Err(index_err("more than one ellipsis".into()));
        }
        if idx
            .iter()
            .filter(|i| matches!(i, Idx::List(_) | Idx::Mask(_)))
            .count()
            > 1
        {
            return Err(index_err("more than one integer list or mask".into()));
        }
        // Expand the ellipsis (or pad at the end) to one entry per input axis.
        let mut full: Vec<Idx> = Vec::new();
        for i in idx {
            if *i == Idx::Ellipsis {
                full.extend(std::iter::repeat_n(Idx::full(), n - consuming));
            } else {
                full.push(i.clone());
            }
        }
        let have = full.iter().filter(|i| !matches!(i, Idx::NewAxis)).count();
        full.extend(std::iter::repeat_n(Idx::full(), n - have));
        let out = self.basic_index(&full)?;
        // NumPy: with a list or mask, integers are advanced indices too, and advanced indices
        // split by a slice, new axis or ellipsis put their axis first (`x[0, :, [1, 2]]`).
        let advanced = |i: &Idx| matches!(i, Idx::Int(_) | Idx::List(_) | Idx::Mask(_));
        let (Some(first), Some(last)) = (
            idx.iter().position(advanced),
            idx.iter().rposition(advanced),
        ) else {
            return Ok(out);
        };
        let Some(at) = full
            .iter()
            .position(|i| matches!(i, Idx::List(_) | Idx::Mask(_)))
        else {
            return Ok(out);
        };
        if idx[first..=last].iter().all(advanced) {
            return Ok(out);
        }
        let at = full[..at]
            .iter()
            .filter(|i| matches!(i, Idx::Slice { .. } | Idx::NewAxis))
            .count();
        let mut perm: Vec<isize> = vec![at as isize];
        perm.extend((0..out.ndim() as isize).filter(|&k| k != at as isize));
        out.transpose(&perm)
    }

    fn basic_index(&self, full: &[Idx]) -> Result<Array> {
        let (mut axes, mut fixed, mut chunks) = (Vec::new(), Vec::new(), Vec::new());
        let mut list: Option<(usize, Vec<usize>)> = None;
        let mut k = 0; // input axis
        for i in full {
            match i {
                Idx::NewAxis => {
                    axes.push(None);
                    chunks.push(vec![1]);
                    continue;
                }
                Idx::Int(p) => {
                    let len = self.shape()[k];
                    let q = if *p < 0 { *p + len as isize } else { *p };
                    if q < 0 || q >= len as isize {
                        return Err(index_err(format!(
                            "index {p} out of bounds for axis {k} of length {len}"
                        )));
                    }
                    let (b, off) = super::grid::locate(self.chunks().offsets(k), q as usize);
                    fixed.push((k, b, off));
                }
                Idx::Slice { start, stop, step } => {
                    let (first, step, len) = slice_bounds(*start, *stop, *step, self.shape()[k])?;
                    let (c, segs) = pieces(self.chunks().axis(k), first, step, len);
                    axes.push(Some(AxisMap {
                        src: k,
                        segs: segs.into(),
                    }));
                    chunks.push(c);
                }
                Idx::List(_) | Idx::Mask(_) => {
                    list = Some((axes.len(), self.positions(i, k)?));
                    let segs: Arc<[Segment]> = (0..self.chunks().axis(k).len())
                        .map(|b| Segment {
                            block: b,
                            start: 0,
                            step: 1,
                        })
                        .collect();
                    axes.push(Some(AxisMap { src: k, segs }));
                    chunks.push(self.chunks().axis(k).to_vec());
                }
                Idx::Ellipsis => unreachable!("expanded by index"),
            }
            k += 1;
        }
        let view = View { axes, fixed };
        let out = self.view_as(view, Chunks::from_axes(chunks)?, "getitem");
        match list {
            Some((axis, pos)) => out.take(axis, &pos),
            None => Ok(out),
        }
    }

    /// The positions selected by a list or mask on axis `k`, checked.
    fn positions(&self, i: &Idx, k: usize) -> Result<Vec<usize>> {
        let len = self.shape()[k];
        match i {
            Idx::List(v) => v
                .iter()
                .map(|&p| {
                    let q = if p < 0 { p + len as isize } else { p };
                    if q < 0 || q >= len as isize {
                        Err(index_err(format!(
                            "index {p} out of bounds for axis {k} of length {len}"
                        )))
                    } else {
                        Ok(q as usize)
                    }
                })
                .collect(),
            Idx::Mask(m) if m.len() == len => Ok((0..len).filter(|&j| m[j]).collect()),
            Idx::Mask(m) => Err(index_err(format!(
                "mask of length {} for axis {k} of length {len}",
                m.len()
            ))),
            _ => unreachable!("only lists and masks"),
        }
    }

    /// This array read through `view` as an array with `chunks`.
    pub(crate) fn view_as(&self, view: View, chunks: Chunks, prefix: &str) -> Array {
        let f = self.fused().view(&view);
        Array::from_fused(self.context(), f, chunks, prefix)
    }
}
