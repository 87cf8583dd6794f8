//! Elementwise operations on tiles: the typed loops every fused kernel is made of.
//!
//! A tile operand is an [`TileOperand`]: a slice of up to `TILE` values, or one value standing for
//! all of them (a scalar, or an input broadcast along the tile). [`Val`] and [`Out`] tag the
//! element type. Each loop is a plain `for` over slices, which the compiler vectorises.

use crate::array::expr::{BinOp, UnOp};
use crate::error::{ErrorKind, TaskError};

/// One tile operand: a run of values or a single value repeated.
#[derive(Clone, Copy)]
pub(crate) enum TileOperand<'a, T> {
    Slice(&'a [T]),
    Scalar(T),
}

/// A typed tile operand.
#[derive(Clone, Copy)]
pub(crate) enum Val<'a> {
    Bool(TileOperand<'a, bool>),
    I32(TileOperand<'a, i32>),
    I64(TileOperand<'a, i64>),
    F32(TileOperand<'a, f32>),
    F64(TileOperand<'a, f64>),
}

/// A typed tile destination.
pub(crate) enum Out<'a> {
    Bool(&'a mut [bool]),
    I32(&'a mut [i32]),
    I64(&'a mut [i64]),
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
}

#[cold]
pub(crate) fn mismatch(what: &str) -> TaskError {
    TaskError::with_kind(
        ErrorKind::Type,
        format!("internal: operand types do not match in {what}"),
    )
}

#[inline(always)]
pub(crate) fn map_unary<T: Copy, U: Copy>(
    a: TileOperand<'_, T>,
    out: &mut [U],
    f: impl Fn(T) -> U,
) {
    match a {
        TileOperand::Slice(a) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = f(x);
            }
        }
        TileOperand::Scalar(x) => out.fill(f(x)),
    }
}

#[inline(always)]
pub(crate) fn map_binary<T: Copy, U: Copy>(
    a: TileOperand<'_, T>,
    b: TileOperand<'_, T>,
    out: &mut [U],
    f: impl Fn(T, T) -> U,
) {
    match (a, b) {
        (TileOperand::Slice(a), TileOperand::Slice(b)) => {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        }
        (TileOperand::Slice(a), TileOperand::Scalar(y)) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = f(x, y);
            }
        }
        (TileOperand::Scalar(x), TileOperand::Slice(b)) => {
            for (o, &y) in out.iter_mut().zip(b) {
                *o = f(x, y);
            }
        }
        (TileOperand::Scalar(x), TileOperand::Scalar(y)) => out.fill(f(x, y)),
    }
}

#[inline(always)]
fn pick<T: Copy>(a: TileOperand<'_, T>, i: usize) -> T {
    match a {
        TileOperand::Slice(s) => s[i],
        TileOperand::Scalar(x) => x,
    }
}

/// Arithmetic shared by the four numeric types, with NumPy's semantics: integers wrap,
/// integer division by zero gives 0, `rem` takes the sign of the divisor, `max`/`min`
/// propagate NaN.
pub(crate) trait Num: Copy + PartialOrd {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn floordiv(self, o: Self) -> Self;
    fn rem(self, o: Self) -> Self;
    fn pow(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    /// Whether this is NaN (never, for integers).
    fn nan(self) -> bool;
    /// -1, 0 or 1 by the sign (NaN stays NaN; both zeros give 0, as NumPy's `sign`).
    fn sign(self) -> Self;
    /// Rounded half to even at `decimals` decimal places, as NumPy's `round`.
    fn round_to(self, decimals: i32) -> Self;
    #[inline(always)]
    fn max_or_nan(self, o: Self) -> Self {
        if self >= o || self.nan() { self } else { o }
    }
    #[inline(always)]
    fn min_or_nan(self, o: Self) -> Self {
        if self <= o || self.nan() { self } else { o }
    }
}

macro_rules! int_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            #[inline(always)] fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)] fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)] fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)]
            fn floordiv(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let q = self.wrapping_div(o);
                if self.wrapping_rem(o) != 0 && ((self < 0) != (o < 0)) { q - 1 } else { q }
            }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                if r != 0 && ((r < 0) != (o < 0)) { r + o } else { r }
            }
            /// Negative exponents give the truncated real result (0 unless the base is ±1).
            #[inline(always)]
            fn pow(self, o: Self) -> Self {
                if o < 0 {
                    return match self {
                        1 => 1,
                        -1 => if o % 2 == 0 { 1 } else { -1 },
                        _ => 0,
                    };
                }
                self.wrapping_pow(u32::try_from(o).unwrap_or(u32::MAX))
            }
            #[inline(always)] fn neg(self) -> Self { self.wrapping_neg() }
            #[inline(always)] fn abs(self) -> Self { self.wrapping_abs() }
            #[inline(always)] fn nan(self) -> bool { false }
            #[inline(always)] fn sign(self) -> Self { self.signum() }
            /// Integers change only at negative decimals: to the nearest multiple of
            /// `10^-decimals`, ties to the even multiple (0 once that power overflows).
            fn round_to(self, decimals: i32) -> Self {
                if decimals >= 0 {
                    return self;
                }
                let Some(f) = (10 as $t).checked_pow(decimals.unsigned_abs()) else {
                    return 0;
                };
                let q = self.div_euclid(f);
                let r = self.rem_euclid(f);
                let up = r > f - r || (r == f - r && q % 2 != 0);
                q.wrapping_add(up as $t).wrapping_mul(f)
            }
        }
    )*};
}
int_num!(i32, i64);

macro_rules! float_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            #[inline(always)] fn add(self, o: Self) -> Self { self + o }
            #[inline(always)] fn sub(self, o: Self) -> Self { self - o }
            #[inline(always)] fn mul(self, o: Self) -> Self { self * o }
            #[inline(always)] fn floordiv(self, o: Self) -> Self { (self / o).floor() }
            #[inline(always)]
            fn rem(self, o: Self) -> Self {
                let m = self % o;
                if m != 0.0 && ((m < 0.0) != (o < 0.0)) { m + o } else { m }
            }
            #[inline(always)] fn pow(self, o: Self) -> Self { self.powf(o) }
            #[inline(always)] fn neg(self) -> Self { -self }
            #[inline(always)] fn abs(self) -> Self { self.abs() }
            #[inline(always)] fn nan(self) -> bool { self.is_nan() }
            #[inline(always)]
            fn sign(self) -> Self {
                if self > 0.0 { 1.0 } else if self < 0.0 { -1.0 } else if self == 0.0 { 0.0 } else { self }
            }
            /// NumPy's two steps: scale by a power of ten, round half to even, scale back.
            fn round_to(self, decimals: i32) -> Self {
                let f = (10.0 as $t).powi(decimals.saturating_abs());
                if decimals >= 0 {
                    (self * f).round_ties_even() / f
                } else {
                    (self / f).round_ties_even() * f
                }
            }
        }
    )*};
}
float_num!(f32, f64);

/// Applies a method of [`Num`] (or of the float types) over the numeric variants.
macro_rules! num_unary {
    ($a:expr, $out:expr, |$x:ident| $f:expr, [$($v:ident : $t:ty),*]) => {
        match ($a, $out) {
            $((Val::$v(a), Out::$v(o)) => {
                map_unary(a, o, |$x: $t| $f);
                Ok(())
            })*
            _ => Err(mismatch("unary op")),
        }
    };
}

macro_rules! num_binary {
    ($a:expr, $b:expr, $out:expr, |$x:ident, $y:ident| $f:expr, [$($v:ident : $t:ty),*]) => {
        match ($a, $b, $out) {
            $((Val::$v(a), Val::$v(b), Out::$v(o)) => {
                map_binary(a, b, o, |$x: $t, $y: $t| $f);
                Ok(())
            })*
            _ => Err(mismatch("binary op")),
        }
    };
}

macro_rules! cmp_binary {
    ($a:expr, $b:expr, $out:expr, $op:tt) => {
        match ($a, $b, $out) {
            (Val::Bool(a), Val::Bool(b), Out::Bool(o)) => { map_binary(a, b, o, |x, y| x $op y); Ok(()) }
            (Val::I32(a), Val::I32(b), Out::Bool(o)) => { map_binary(a, b, o, |x, y| x $op y); Ok(()) }
            (Val::I64(a), Val::I64(b), Out::Bool(o)) => { map_binary(a, b, o, |x, y| x $op y); Ok(()) }
            (Val::F32(a), Val::F32(b), Out::Bool(o)) => { map_binary(a, b, o, |x, y| x $op y); Ok(()) }
            (Val::F64(a), Val::F64(b), Out::Bool(o)) => { map_binary(a, b, o, |x, y| x $op y); Ok(()) }
            _ => Err(mismatch("comparison")),
        }
    };
}

macro_rules! float_pred {
    ($a:expr, $out:expr, $f:expr) => {
        match ($a, $out) {
            (Val::F32(a), Out::Bool(o)) => {
                map_unary(a, o, |x: f32| $f(x as f64));
                Ok(())
            }
            (Val::F64(a), Out::Bool(o)) => {
                map_unary(a, o, |x: f64| $f(x));
                Ok(())
            }
            _ => Err(mismatch("float predicate")),
        }
    };
}

/// `out = op(a)`.
pub(crate) fn unary(op: UnOp, a: Val<'_>, out: Out<'_>) -> Result<(), TaskError> {
    use UnOp::*;
    macro_rules! fl {
        ($m:ident) => {
            num_unary!(a, out, |x| x.$m(), [F32: f32, F64: f64])
        };
    }
    macro_rules! num {
        ($m:ident) => {
            num_unary!(a, out, |x| Num::$m(x), [I32: i32, I64: i64, F32: f32, F64: f64])
        };
    }
    match op {
        Neg => num!(neg),
        Abs => num!(abs),
        Not => num_unary!(a, out, |x| !x, [Bool: bool]),
        Exp => fl!(exp),
        Log => fl!(ln),
        Log1p => fl!(ln_1p),
        Expm1 => fl!(exp_m1),
        Sqrt => fl!(sqrt),
        Sin => fl!(sin),
        Cos => fl!(cos),
        Tan => fl!(tan),
        Arcsin => fl!(asin),
        Arccos => fl!(acos),
        Arctan => fl!(atan),
        Sinh => fl!(sinh),
        Cosh => fl!(cosh),
        Tanh => fl!(tanh),
        Floor => fl!(floor),
        Ceil => fl!(ceil),
        Trunc => fl!(trunc),
        IsNan => float_pred!(a, out, f64::is_nan),
        IsInf => float_pred!(a, out, f64::is_infinite),
        IsFinite => float_pred!(a, out, f64::is_finite),
        Log10 => fl!(log10),
        Log2 => fl!(log2),
        Sign => num!(sign),
        Round(d) => {
            num_unary!(a, out, |x| Num::round_to(x, d), [I32: i32, I64: i64, F32: f32, F64: f64])
        }
    }
}

/// `out = op(a, b)`; both operands have the same type (the builder promotes them).
pub(crate) fn binary(op: BinOp, a: Val<'_>, b: Val<'_>, out: Out<'_>) -> Result<(), TaskError> {
    use BinOp::*;
    macro_rules! num {
        ($m:ident) => {
            num_binary!(a, b, out, |x, y| Num::$m(x, y), [I32: i32, I64: i64, F32: f32, F64: f64])
        };
    }
    macro_rules! fl {
        (|$x:ident, $y:ident| $f:expr) => {
            num_binary!(a, b, out, |$x, $y| $f, [F32: f32, F64: f64])
        };
    }
    match op {
        Add => num!(add),
        Sub => num!(sub),
        Mul => num!(mul),
        Div => fl!(|x, y| x / y),
        FloorDiv => num!(floordiv),
        Rem => num!(rem),
        Pow => num!(pow),
        Maximum => num!(max_or_nan),
        Minimum => num!(min_or_nan),
        Arctan2 => fl!(|x, y| x.atan2(y)),
        Hypot => fl!(|x, y| x.hypot(y)),
        Eq => cmp_binary!(a, b, out, ==),
        Ne => cmp_binary!(a, b, out, !=),
        Lt => cmp_binary!(a, b, out, <),
        Le => cmp_binary!(a, b, out, <=),
        Gt => cmp_binary!(a, b, out, >),
        Ge => cmp_binary!(a, b, out, >=),
        And => num_binary!(a, b, out, |x, y| x & y, [Bool: bool]),
        Or => num_binary!(a, b, out, |x, y| x | y, [Bool: bool]),
        Xor => num_binary!(a, b, out, |x, y| x ^ y, [Bool: bool]),
    }
}

/// `out = if c { a } else { b }`.
pub(crate) fn select(c: Val<'_>, a: Val<'_>, b: Val<'_>, out: Out<'_>) -> Result<(), TaskError> {
    let Val::Bool(c) = c else {
        return Err(mismatch("where"));
    };
    macro_rules! arms {
        ($($v:ident),*) => {
            match (a, b, out) {
                $((Val::$v(a), Val::$v(b), Out::$v(o)) => {
                    match (c, a, b) {
                        (TileOperand::Slice(c), TileOperand::Slice(a), TileOperand::Slice(b)) => {
                            for (((o, &c), &x), &y) in o.iter_mut().zip(c).zip(a).zip(b) {
                                *o = if c { x } else { y };
                            }
                        }
                        _ => {
                            for (i, o) in o.iter_mut().enumerate() {
                                *o = if pick(c, i) { pick(a, i) } else { pick(b, i) };
                            }
                        }
                    }
                    Ok(())
                })*
                _ => Err(mismatch("where")),
            }
        };
    }
    arms!(Bool, I32, I64, F32, F64)
}

/// A conversion with `astype` semantics: `as` between numbers, `!= 0` to bool.
pub(crate) trait CastTo<U> {
    fn cast(self) -> U;
}
macro_rules! cast_num {
    ($($t:ty),*) => { cast_num!(@outer [$($t),*] [$($t),*]); };
    (@outer [$($a:ty),*] $bs:tt) => { $(cast_num!(@inner $a $bs);)* };
    (@inner $a:ty [$($b:ty),*]) => {$(
        impl CastTo<$b> for $a {
            #[inline(always)]
            fn cast(self) -> $b { self as $b }
        }
    )*};
}
cast_num!(i32, i64, f32, f64);
macro_rules! cast_bool {
    ($($t:ty),*) => {$(
        impl CastTo<bool> for $t {
            #[inline(always)]
            fn cast(self) -> bool { self != (0 as $t) }
        }
        impl CastTo<$t> for bool {
            #[inline(always)]
            fn cast(self) -> $t { self as u8 as $t }
        }
    )*};
}
cast_bool!(i32, i64, f32, f64);
impl CastTo<bool> for bool {
    #[inline(always)]
    fn cast(self) -> bool {
        self
    }
}

/// `out = a as <out's type>`.
pub(crate) fn cast(a: Val<'_>, out: Out<'_>) -> Result<(), TaskError> {
    macro_rules! to {
        ($a:expr) => {
            match out {
                Out::Bool(o) => map_unary($a, o, CastTo::cast),
                Out::I32(o) => map_unary($a, o, CastTo::cast),
                Out::I64(o) => map_unary($a, o, CastTo::cast),
                Out::F32(o) => map_unary($a, o, CastTo::cast),
                Out::F64(o) => map_unary($a, o, CastTo::cast),
            }
        };
    }
    match a {
        Val::Bool(a) => to!(a),
        Val::I32(a) => to!(a),
        Val::I64(a) => to!(a),
        Val::F32(a) => to!(a),
        Val::F64(a) => to!(a),
    }
    Ok(())
}

/// `out = a` (a copy, or a fill for a repeated value).
pub(crate) fn copy(a: Val<'_>, out: Out<'_>) -> Result<(), TaskError> {
    macro_rules! arms {
        ($($v:ident),*) => {
            match (a, out) {
                $((Val::$v(a), Out::$v(o)) => match a {
                    TileOperand::Slice(s) => o.copy_from_slice(s),
                    TileOperand::Scalar(x) => o.fill(x),
                },)*
                _ => return Err(mismatch("copy")),
            }
        };
    }
    arms!(Bool, I32, I64, F32, F64);
    Ok(())
}
