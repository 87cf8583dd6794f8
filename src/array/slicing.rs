//! The [`s!`](crate::s) index macro and [`Array::slice`]: ndarray's slicing syntax and
//! meaning on blocked arrays.
//!
//! `x.slice(s![2..27, ..;3])` selects what `computed.slice(ndarray::s![2..27, ..;3])`
//! selects in the computed array. The meaning is ndarray's, which differs from NumPy's in
//! two places: a negative step walks the range backwards from its end (`s![2..7;-2]` is
//! positions 6, 4, 2, where NumPy's `x[2:7:-2]` is empty), and a range past the end of an
//! axis is an error, not clipped. [`Array::index`] with [`Idx`] keeps NumPy's meaning.

use super::Array;
use super::views::Idx;
use crate::error::{Error, ErrorKind, Result};
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// One entry of an [`s!`](crate::s) index.
///
/// ```
/// use blockwork::array::SliceElem;
/// use blockwork::s;
/// assert_eq!(
///     s![1..4;2, -1, NewAxis, ..],
///     [
///         SliceElem::Slice { start: 1, end: Some(4), step: 2 },
///         SliceElem::Index(-1),
///         SliceElem::NewAxis,
///         SliceElem::Slice { start: 0, end: None, step: 1 },
///     ]
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SliceElem {
    /// The positions `start..end` (negative counts from the end, `None` is the end) taken
    /// every `step`-th; a negative step walks them backwards from the last one.
    Slice {
        /// First position of the range.
        start: isize,
        /// End of the range (exclusive); `None` for the axis' end.
        end: Option<isize>,
        /// Step, not 0.
        step: isize,
    },
    /// One position (negative counts from the end); the axis is dropped.
    Index(isize),
    /// A new axis of length 1.
    NewAxis,
    /// As many full slices as the axes not otherwise indexed (`...`).
    Ellipsis,
}

/// A range that [`s!`](crate::s) accepts: `a..b`, `a..`, `..b`, `a..=b`, `..=b`, `..` of
/// `isize`, `usize` or `i32`.
///
/// ```
/// use blockwork::array::SliceRange;
/// assert_eq!((2isize..5).bounds(), (2, Some(5)));
/// assert_eq!((..=-2isize).bounds(), (0, Some(-1)));
/// ```
pub trait SliceRange {
    /// `(start, end)`, with `end` exclusive and `None` for the axis' end.
    fn bounds(self) -> (isize, Option<isize>);
}

/// An index bound as `isize` (a `usize` over `isize::MAX` saturates: out of bounds anyway).
trait Bound: Copy {
    fn isize(self) -> isize;
}
impl Bound for isize {
    fn isize(self) -> isize {
        self
    }
}
impl Bound for usize {
    fn isize(self) -> isize {
        isize::try_from(self).unwrap_or(isize::MAX)
    }
}
impl Bound for i32 {
    fn isize(self) -> isize {
        self as isize
    }
}

/// The exclusive end after an inclusive one: `-1` (the last position) ends at the axis' end.
fn after(end: isize) -> Option<isize> {
    match end {
        -1 => None,
        e => Some(e.saturating_add(1)),
    }
}

macro_rules! ranges {
    ($($t:ty),*) => {$(
        impl SliceRange for Range<$t> {
            fn bounds(self) -> (isize, Option<isize>) {
                (self.start.isize(), Some(self.end.isize()))
            }
        }
        impl SliceRange for RangeFrom<$t> {
            fn bounds(self) -> (isize, Option<isize>) {
                (self.start.isize(), None)
            }
        }
        impl SliceRange for RangeTo<$t> {
            fn bounds(self) -> (isize, Option<isize>) {
                (0, Some(self.end.isize()))
            }
        }
        impl SliceRange for RangeInclusive<$t> {
            fn bounds(self) -> (isize, Option<isize>) {
                (self.start().isize(), after(self.end().isize()))
            }
        }
        impl SliceRange for RangeToInclusive<$t> {
            fn bounds(self) -> (isize, Option<isize>) {
                (0, after(self.end.isize()))
            }
        }
        impl From<$t> for SliceElem {
            fn from(i: $t) -> SliceElem {
                SliceElem::Index(i.isize())
            }
        }
    )*};
}
ranges!(isize, usize, i32);

impl SliceRange for RangeFull {
    fn bounds(self) -> (isize, Option<isize>) {
        (0, None)
    }
}
impl<R: SliceRange> From<R> for SliceElem {
    /// The range with step 1.
    fn from(r: R) -> SliceElem {
        SliceElem::range(r, 1)
    }
}

impl SliceElem {
    /// The range `r` taken every `step`-th (what `s![r;step]` writes).
    ///
    /// ```
    /// use blockwork::array::SliceElem;
    /// assert_eq!(SliceElem::range(..3, -1), SliceElem::Slice { start: 0, end: Some(3), step: -1 });
    /// ```
    pub fn range(r: impl SliceRange, step: isize) -> SliceElem {
        let (start, end) = r.bounds();
        SliceElem::Slice { start, end, step }
    }

    /// This entry as NumPy's [`Idx`] on an axis of length `n`.
    fn resolve(self, n: usize) -> Result<Idx> {
        let SliceElem::Slice { start, end, step } = self else {
            return Ok(match self {
                SliceElem::Index(i) => Idx::Int(i),
                SliceElem::NewAxis => Idx::NewAxis,
                _ => Idx::Ellipsis,
            });
        };
        if step == 0 {
            return Err(Error::new(ErrorKind::Index, "slice step cannot be zero"));
        }
        let len = n as isize;
        let abs = |v: isize| if v < 0 { v.saturating_add(len) } else { v };
        let (a, b) = (abs(start), end.map_or(len, abs));
        if !(0..=len).contains(&a) || !(0..=len).contains(&b) {
            return Err(Error::new(
                ErrorKind::Index,
                format!(
                    "range {start}..{} out of bounds for an axis of length {n}",
                    end.map_or(String::new(), |e| e.to_string())
                ),
            ));
        }
        let b = b.max(a);
        Ok(if step > 0 || a == b {
            Idx::slice(Some(a), Some(b), step.max(1))
        } else {
            // Backwards from the range's last position down to its first.
            Idx::slice(Some(b - 1), (a > 0).then(|| a - 1), step)
        })
    }
}

impl Array {
    /// The array indexed by [`s!`](crate::s) (ndarray's meaning: see the
    /// [`s!`](crate::s) docs). A view: no task of its own, fused into what reads it.
    ///
    /// Errors ([`Index`](ErrorKind::Index)): more indices than axes, a second ellipsis, an
    /// integer or a range out of bounds, a zero step.
    ///
    /// ```
    /// use blockwork::array::ArrayContext;
    /// use blockwork::ndarray::{self, Ix2};
    /// use blockwork::{Sequential, s};
    ///
    /// let ctx = ArrayContext::new();
    /// let a = ndarray::Array::from_shape_fn((30, 12), |(i, j)| (i * 12 + j) as f64);
    /// let x = ctx.from_shared(a.to_shared(), [7, 5])?;
    /// let seq = Sequential::new();
    /// let y = x.slice(s![2..27, ..;3])?.compute_as::<f64, Ix2>(&seq)?;
    /// assert_eq!(y, a.slice(ndarray::s![2..27, ..;3]));
    /// let z = x.slice(s![-1, NewAxis, 5..9;-1])?.compute_as::<f64, Ix2>(&seq)?;
    /// assert_eq!(z, a.slice(ndarray::s![-1, ndarray::NewAxis, 5..9;-1]));
    /// assert!(x.slice(s![.., 20]).is_err()); // out of bounds: an error, not a panic
    /// # Ok::<(), blockwork::Error>(())
    /// ```
    pub fn slice(&self, elems: impl AsRef<[SliceElem]>) -> Result<Array> {
        let elems = elems.as_ref();
        let n = self.ndim();
        let consuming = elems
            .iter()
            .filter(|e| matches!(e, SliceElem::Slice { .. } | SliceElem::Index(_)))
            .count();
        if consuming > n {
            return Err(Error::new(
                ErrorKind::Index,
                format!("{consuming} indices for {n} axes"),
            ));
        }
        if elems.iter().filter(|e| **e == SliceElem::Ellipsis).count() > 1 {
            return Err(Error::new(ErrorKind::Index, "more than one ellipsis"));
        }
        let mut axis = 0;
        let mut idx = Vec::with_capacity(elems.len());
        for e in elems {
            idx.push(e.resolve(self.shape().get(axis).copied().unwrap_or(0))?);
            match e {
                SliceElem::Slice { .. } | SliceElem::Index(_) => axis += 1,
                SliceElem::Ellipsis => axis += n - consuming,
                SliceElem::NewAxis => {}
            }
        }
        self.index(&idx)
    }
}

/// An index for [`Array::slice`], in ndarray's `s![]` syntax and meaning: entries `a..b`,
/// `a..`, `..b`, `a..=b`, `..` with an optional `;step` (negative steps walk backwards),
/// integers (the axis is dropped), `NewAxis`, and one `...` for the axes not named.
/// Negative positions count from the end. The result is an array of
/// [`SliceElem`](crate::array::SliceElem).
///
/// ```
/// use blockwork::array::ArrayContext;
/// use blockwork::ndarray::{self, Ix3};
/// use blockwork::{Sequential, s};
///
/// let ctx = ArrayContext::new();
/// let a = ndarray::Array::from_shape_fn((4, 5, 6), |(i, j, k)| (i * 30 + j * 6 + k) as i64);
/// let x = ctx.from_shared(a.to_shared(), 2)?;
/// let y = x.slice(s![..., 1..;2])?.compute_as::<i64, Ix3>(&Sequential::new())?;
/// assert_eq!(y, a.slice(ndarray::s![.., .., 1..;2]));
/// # Ok::<(), blockwork::Error>(())
/// ```
#[macro_export]
macro_rules! s {
    (@parse [$($acc:expr,)*]) => {
        [$($acc,)*]
    };
    (@parse [$($acc:expr,)*] NewAxis $(, $($rest:tt)*)?) => {
        $crate::s!(@parse [$($acc,)* $crate::array::SliceElem::NewAxis,] $($($rest)*)?)
    };
    (@parse [$($acc:expr,)*] ... $(, $($rest:tt)*)?) => {
        $crate::s!(@parse [$($acc,)* $crate::array::SliceElem::Ellipsis,] $($($rest)*)?)
    };
    (@parse [$($acc:expr,)*] $r:expr ; $step:expr $(, $($rest:tt)*)?) => {
        $crate::s!(@parse [$($acc,)* $crate::array::SliceElem::range($r, ($step) as isize),]
            $($($rest)*)?)
    };
    (@parse [$($acc:expr,)*] $r:expr $(, $($rest:tt)*)?) => {
        $crate::s!(@parse [$($acc,)* $crate::array::SliceElem::from($r),] $($($rest)*)?)
    };
    () => {
        [$crate::array::SliceElem::Ellipsis; 0]
    };
    ($($t:tt)*) => {
        $crate::s!(@parse [] $($t)*)
    };
}
