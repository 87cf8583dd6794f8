//! Element types: the [`DType`] tag, scalars, and the [`Element`] trait tying a Rust type
//! to its tag and to its variant of a block's data.

use ndarray::ArrayD;
use std::fmt;

/// The element type of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// `bool`.
    Bool,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }
    /// Whether this is `f32` or `f64`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
    /// Whether this is `i32` or `i64`.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64)
    }
    /// NumPy's name (`float64`, `int32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The type two operands promote to (NumPy's rules for these five types:
    /// `bool < i32 < i64`, `f32 < f64`, and an integer with `f32` gives `f64`).
    ///
    /// ```
    /// use blockwork::array::DType;
    /// assert_eq!(DType::promote(DType::I32, DType::F32), DType::F64);
    /// assert_eq!(DType::promote(DType::Bool, DType::F32), DType::F32);
    /// ```
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        match (a.min(b), a.max(b)) {
            (x, y) if x == y => x,
            (Bool, y) => y,
            (I32 | I64, F32) => F64,
            (_, y) => y,
        }
    }

    /// The floating type an operand of this type computes in for float-only functions.
    pub fn float(self) -> DType {
        if self == DType::F32 {
            DType::F32
        } else {
            DType::F64
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A single typed value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`.
    F32(f32),
    /// An `f64`.
    F64(f64),
}

impl Scalar {
    /// The scalar's type.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::I32(_) => DType::I32,
            Scalar::I64(_) => DType::I64,
            Scalar::F32(_) => DType::F32,
            Scalar::F64(_) => DType::F64,
        }
    }

    /// Converts to `dtype` the way `astype` does (`as` casts; to bool is `!= 0`).
    pub fn cast(self, dtype: DType) -> Scalar {
        macro_rules! to {
            ($v:expr) => {{
                let v = $v;
                match dtype {
                    DType::Bool => Scalar::Bool(v != zero_like(v)),
                    DType::I32 => Scalar::I32($v as i32),
                    DType::I64 => Scalar::I64($v as i64),
                    DType::F32 => Scalar::F32($v as f32),
                    DType::F64 => Scalar::F64($v as f64),
                }
            }};
        }
        match self {
            Scalar::Bool(b) => to!(b as u8),
            Scalar::I32(v) => to!(v),
            Scalar::I64(v) => to!(v),
            Scalar::F32(v) => to!(v),
            Scalar::F64(v) => to!(v),
        }
    }

    /// The value as `f64` (exact for all but large `i64`).
    pub fn as_f64(self) -> f64 {
        match self.cast(DType::F64) {
            Scalar::F64(v) => v,
            _ => unreachable!("cast to f64 gives f64"),
        }
    }

    /// Bits for hashing (names of arrays built from scalars).
    pub(crate) fn bits(self) -> (u8, u64) {
        match self {
            Scalar::Bool(b) => (0, b as u64),
            Scalar::I32(v) => (1, v as u64),
            Scalar::I64(v) => (2, v as u64),
            Scalar::F32(v) => (3, v.to_bits() as u64),
            Scalar::F64(v) => (4, v.to_bits()),
        }
    }
}

impl std::hash::Hash for Scalar {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.bits().hash(h);
    }
}

macro_rules! scalar_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Scalar {
            fn from(x: $t) -> Scalar {
                Scalar::$v(x)
            }
        }
    )*};
}
scalar_from!(bool => Bool, i32 => I32, i64 => I64, f32 => F32, f64 => F64);

/// The data of one block: an owned, standard-layout n-d array of one of the five types.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockData {
    /// `bool` elements.
    Bool(ArrayD<bool>),
    /// `i32` elements.
    I32(ArrayD<i32>),
    /// `i64` elements.
    I64(ArrayD<i64>),
    /// `f32` elements.
    F32(ArrayD<f32>),
    /// `f64` elements.
    F64(ArrayD<f64>),
}

/// Runs `$body` with `$a` bound to the typed array inside a [`BlockData`] (by the given
/// binding mode) and `$T` an alias of its element type.
macro_rules! with_block {
    ($data:expr, $a:ident => $body:expr) => {
        match $data {
            $crate::array::BlockData::Bool($a) => $body,
            $crate::array::BlockData::I32($a) => $body,
            $crate::array::BlockData::I64($a) => $body,
            $crate::array::BlockData::F32($a) => $body,
            $crate::array::BlockData::F64($a) => $body,
        }
    };
}
pub(crate) use with_block;

/// Runs `$body` with the type alias `$T` set to the Rust type of a [`DType`].
macro_rules! with_dtype {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::array::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::array::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::array::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::array::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::array::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

impl BlockData {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            BlockData::Bool(_) => DType::Bool,
            BlockData::I32(_) => DType::I32,
            BlockData::I64(_) => DType::I64,
            BlockData::F32(_) => DType::F32,
            BlockData::F64(_) => DType::F64,
        }
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        with_block!(self, a => a.shape())
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        with_block!(self, a => a.len())
    }
    /// Whether the block has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes of element data.
    pub fn nbytes(&self) -> usize {
        self.len() * self.dtype().itemsize()
    }
    /// The typed array, if the element type is `T`.
    pub fn as_array<T: Element>(&self) -> Option<&ArrayD<T>> {
        T::array_ref(self)
    }
}

/// A Rust element type usable in arrays: `bool`, `i32`, `i64`, `f32`, `f64`.
pub trait Element:
    Copy + Default + PartialEq + PartialOrd + fmt::Debug + Send + Sync + 'static
{
    /// The matching tag.
    const DTYPE: DType;
    /// Wraps an array of this type.
    fn wrap(a: ArrayD<Self>) -> BlockData;
    /// The array inside `b`, if it has this type.
    fn array_ref(b: &BlockData) -> Option<&ArrayD<Self>>;
    /// Takes the array out of `b`, if it has this type.
    fn unwrap(b: BlockData) -> Option<ArrayD<Self>>;
    /// The scalar of this type.
    fn scalar(self) -> Scalar;
    /// The value of a scalar cast to this type.
    fn from_scalar(s: Scalar) -> Self;
}

macro_rules! element {
    ($($t:ty => $v:ident),*) => {$(
        impl Element for $t {
            const DTYPE: DType = DType::$v;
            fn wrap(a: ArrayD<Self>) -> BlockData {
                BlockData::$v(a)
            }
            fn array_ref(b: &BlockData) -> Option<&ArrayD<Self>> {
                match b {
                    BlockData::$v(a) => Some(a),
                    _ => None,
                }
            }
            fn unwrap(b: BlockData) -> Option<ArrayD<Self>> {
                match b {
                    BlockData::$v(a) => Some(a),
                    _ => None,
                }
            }
            fn scalar(self) -> Scalar {
                Scalar::$v(self)
            }
            fn from_scalar(s: Scalar) -> Self {
                match s.cast(DType::$v) {
                    Scalar::$v(x) => x,
                    _ => unreachable!("cast gives the requested type"),
                }
            }
        }
    )*};
}
element!(bool => Bool, i32 => I32, i64 => I64, f32 => F32, f64 => F64);

/// The zero of `v`'s type (spelled out so that inference does not depend on which
/// `PartialEq` impls other crates add to the primitive types).
fn zero_like<T: Default>(_: T) -> T {
    T::default()
}
