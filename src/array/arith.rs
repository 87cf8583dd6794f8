//! Arithmetic operators on arrays: `+ - * / %` and unary `-`, between arrays (owned or
//! borrowed) and with scalars ([`ArrayScalar`]) on either side, plus the compound forms
//! `+= -= *= /= %=`.
//!
//! Each operator is its method ([`Array::add`], [`Array::sub`], ...): the same broadcasting,
//! type promotion and fusion. The methods return a `Result`; the operators cannot, so, as
//! ndarray's do, they panic where the method returns an error (operands that do not
//! broadcast, a grid over the block limit), with the error's message. Use the methods where
//! the shapes are not known to fit.
//!
//! ```
//! use blockwork::array::ArrayContext;
//! use blockwork::Sequential;
//!
//! let ctx = ArrayContext::new();
//! let a = ctx.arange(0.0, 4.0, 1.0, 2)?;
//! let b = ctx.full(&[4], 2, 10.0)?;
//! let mut c = &a * 2.0 + &b;         // 2a + b, one fused task per block
//! c -= 1.0;
//! let d = 1.0 - -&c / 2.0;           // scalars on the left, unary minus
//! let got = d.compute::<f64>(&Sequential::new())?;
//! let want = (a.compute::<f64>(&Sequential::new())? * 2.0 + 9.0) / 2.0 + 1.0;
//! assert_eq!(got, want);
//! # Ok::<(), blockwork::Error>(())
//! ```

use super::dtype::Scalar;
use super::elementwise::binary;
use super::expr::BinOp;
use super::masks::filtered_binary;
use super::{Array, Filtered, FilteredOperand};
use crate::error::{Error, Result};
use std::ops::{
    Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, RemAssign, Sub, SubAssign,
};

/// The array, or a panic with the error's message (the operators' convention).
#[inline]
#[track_caller]
fn or_panic<A>(r: Result<A>) -> A {
    match r {
        Ok(a) => a,
        Err(e) => op_failed(e),
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn op_failed(e: Error) -> ! {
    panic!("{e}")
}

/// A scalar that the operators take beside an array: `f64`, `f32`, `i64`, `i32`. On the
/// left of an operator only `f64` and `i64` are taken, so that a literal (`2.0 - &a`,
/// `3 * &a`) needs no suffix; scalars are weak (`2.0 * &a` keeps an `f32` array `f32`),
/// so these two lose nothing.
///
/// ```
/// use blockwork::array::{ArrayContext, ArrayScalar, DType};
/// fn scale(a: &blockwork::array::Array, k: impl ArrayScalar) -> blockwork::array::Array {
///     a * k
/// }
/// let ctx = ArrayContext::new();
/// let x = ctx.ones(&[3], 2, DType::F32)?;
/// assert_eq!(scale(&x, 2.5f32).dtype(), DType::F32);
/// # Ok::<(), blockwork::Error>(())
/// ```
pub trait ArrayScalar: Into<Scalar> + Copy {}
impl ArrayScalar for f64 {}
impl ArrayScalar for f32 {}
impl ArrayScalar for i64 {}
impl ArrayScalar for i32 {}

macro_rules! scalar_left {
    ($Tr:ident, $m:ident, $op:ident; $($s:ty),*) => {$(
        impl $Tr<&Array> for $s {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: &Array) -> Array {
                or_panic(binary(BinOp::$op, self, rhs))
            }
        }
        impl $Tr<Array> for $s {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: Array) -> Array {
                or_panic(binary(BinOp::$op, self, rhs))
            }
        }
    )*};
}

macro_rules! operator {
    ($Tr:ident, $m:ident, $TrA:ident, $ma:ident, $op:ident) => {
        impl $Tr<&Array> for &Array {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: &Array) -> Array {
                or_panic(binary(BinOp::$op, self, rhs))
            }
        }
        impl $Tr<Array> for &Array {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: Array) -> Array {
                or_panic(binary(BinOp::$op, self, rhs))
            }
        }
        impl $Tr<&Array> for Array {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: &Array) -> Array {
                or_panic(binary(BinOp::$op, self, rhs))
            }
        }
        impl $Tr<Array> for Array {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: Array) -> Array {
                or_panic(binary(BinOp::$op, self, rhs))
            }
        }
        impl $TrA<&Array> for Array {
            #[track_caller]
            fn $ma(&mut self, rhs: &Array) {
                *self = or_panic(binary(BinOp::$op, &*self, rhs));
            }
        }
        impl $TrA<Array> for Array {
            #[track_caller]
            fn $ma(&mut self, rhs: Array) {
                *self = or_panic(binary(BinOp::$op, &*self, rhs));
            }
        }
        impl<S: ArrayScalar> $Tr<S> for &Array {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: S) -> Array {
                or_panic(binary(BinOp::$op, self, rhs.into()))
            }
        }
        impl<S: ArrayScalar> $Tr<S> for Array {
            type Output = Array;
            #[track_caller]
            fn $m(self, rhs: S) -> Array {
                or_panic(binary(BinOp::$op, self, rhs.into()))
            }
        }
        impl<S: ArrayScalar> $TrA<S> for Array {
            #[track_caller]
            fn $ma(&mut self, rhs: S) {
                *self = or_panic(binary(BinOp::$op, &*self, rhs.into()));
            }
        }
        scalar_left!($Tr, $m, $op; f64, i64);
    };
}

operator!(Add, add, AddAssign, add_assign, Add);
operator!(Sub, sub, SubAssign, sub_assign, Sub);
operator!(Mul, mul, MulAssign, mul_assign, Mul);
operator!(Div, div, DivAssign, div_assign, Div);
operator!(Rem, rem, RemAssign, rem_assign, Rem);

impl Neg for &Array {
    type Output = Array;
    /// `-self`, as [`Array::neg`] (a `bool` array negates as `i64`).
    #[track_caller]
    fn neg(self) -> Array {
        or_panic(Array::neg(self))
    }
}

impl Neg for Array {
    type Output = Array;
    /// `-self`, as [`Array::neg`] (a `bool` array negates as `i64`).
    #[track_caller]
    fn neg(self) -> Array {
        or_panic(Array::neg(&self))
    }
}

/// The operators on [`Filtered`]: as those on arrays, with another `Filtered` of the same
/// origin, an [`Array`] of one element or a scalar ([`FilteredOperand`]) on the right, and
/// `f64`/`i64` scalars on the left; they panic where the method returns an error.
macro_rules! filtered_operator {
    ($Tr:ident, $m:ident, $TrA:ident, $ma:ident, $op:ident) => {
        impl<R: Into<FilteredOperand>> $Tr<R> for &Filtered {
            type Output = Filtered;
            #[track_caller]
            fn $m(self, rhs: R) -> Filtered {
                or_panic(filtered_binary(BinOp::$op, self, rhs))
            }
        }
        impl<R: Into<FilteredOperand>> $Tr<R> for Filtered {
            type Output = Filtered;
            #[track_caller]
            fn $m(self, rhs: R) -> Filtered {
                or_panic(filtered_binary(BinOp::$op, self, rhs))
            }
        }
        impl<R: Into<FilteredOperand>> $TrA<R> for Filtered {
            #[track_caller]
            fn $ma(&mut self, rhs: R) {
                *self = or_panic(filtered_binary(BinOp::$op, &*self, rhs));
            }
        }
        filtered_scalar_left!($Tr, $m, $op; f64, i64);
    };
}

macro_rules! filtered_scalar_left {
    ($Tr:ident, $m:ident, $op:ident; $($s:ty),*) => {$(
        impl $Tr<&Filtered> for $s {
            type Output = Filtered;
            #[track_caller]
            fn $m(self, rhs: &Filtered) -> Filtered {
                or_panic(filtered_binary(BinOp::$op, self, rhs))
            }
        }
        impl $Tr<Filtered> for $s {
            type Output = Filtered;
            #[track_caller]
            fn $m(self, rhs: Filtered) -> Filtered {
                or_panic(filtered_binary(BinOp::$op, self, rhs))
            }
        }
    )*};
}

filtered_operator!(Add, add, AddAssign, add_assign, Add);
filtered_operator!(Sub, sub, SubAssign, sub_assign, Sub);
filtered_operator!(Mul, mul, MulAssign, mul_assign, Mul);
filtered_operator!(Div, div, DivAssign, div_assign, Div);
filtered_operator!(Rem, rem, RemAssign, rem_assign, Rem);

impl Neg for &Filtered {
    type Output = Filtered;
    /// `-self`, as [`Filtered::neg`].
    #[track_caller]
    fn neg(self) -> Filtered {
        or_panic(Filtered::neg(self))
    }
}

impl Neg for Filtered {
    type Output = Filtered;
    /// `-self`, as [`Filtered::neg`].
    #[track_caller]
    fn neg(self) -> Filtered {
        or_panic(Filtered::neg(&self))
    }
}
