//! Field access for [`Bag::pluck`](super::Bag::pluck): tuples, maps, lists and JSON values.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

/// A tuple position for [`Bag::pluck`](super::Bag::pluck): `At::<0>` is the first field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct At<const N: usize>;

/// Taking one field out of a value, by an index of type `I`.
///
/// Implemented for tuples of up to six fields with [`At<N>`], `HashMap`/`BTreeMap` with
/// their key type, `Vec<T>` with `usize`, and `serde_json::Value` with a `&'static str` or
/// `String` object key or a `usize` array index.
///
/// ```
/// use blockwork::bag::{At, Pluck};
/// assert_eq!((1, "a").pluck(&At::<1>), Some("a"));
/// assert_eq!(vec![5, 6].pluck(&3), None);
/// ```
pub trait Pluck<I> {
    /// The field's type.
    type Output;
    /// The field, or `None` when there is no such field.
    fn pluck(self, index: &I) -> Option<Self::Output>;
}

macro_rules! pluck_tuple {
    ($tys:tt; $($n:tt => $out:ident),+) => {$( pluck_field!($tys, $n, $out); )+};
}
macro_rules! pluck_field {
    (($($all:ident),+), $n:tt, $out:ident) => {
        impl<$($all),+> Pluck<At<$n>> for ($($all,)+) {
            type Output = $out;
            #[inline]
            fn pluck(self, _: &At<$n>) -> Option<$out> {
                Some(self.$n)
            }
        }
    };
}
pluck_tuple!((A); 0 => A);
pluck_tuple!((A, B); 0 => A, 1 => B);
pluck_tuple!((A, B, C); 0 => A, 1 => B, 2 => C);
pluck_tuple!((A, B, C, D); 0 => A, 1 => B, 2 => C, 3 => D);
pluck_tuple!((A, B, C, D, E); 0 => A, 1 => B, 2 => C, 3 => D, 4 => E);
pluck_tuple!((A, B, C, D, E, F); 0 => A, 1 => B, 2 => C, 3 => D, 4 => E, 5 => F);

impl<K: Hash + Eq, V, S: BuildHasher> Pluck<K> for HashMap<K, V, S> {
    type Output = V;
    fn pluck(mut self, index: &K) -> Option<V> {
        self.remove(index)
    }
}

impl<K: Ord, V> Pluck<K> for BTreeMap<K, V> {
    type Output = V;
    fn pluck(mut self, index: &K) -> Option<V> {
        self.remove(index)
    }
}

impl<T> Pluck<usize> for Vec<T> {
    type Output = T;
    fn pluck(self, index: &usize) -> Option<T> {
        self.into_iter().nth(*index)
    }
}

impl Pluck<&'static str> for serde_json::Value {
    type Output = serde_json::Value;
    fn pluck(self, index: &&'static str) -> Option<serde_json::Value> {
        match self {
            serde_json::Value::Object(mut m) => m.remove(*index),
            _ => None,
        }
    }
}

impl Pluck<String> for serde_json::Value {
    type Output = serde_json::Value;
    fn pluck(self, index: &String) -> Option<serde_json::Value> {
        match self {
            serde_json::Value::Object(mut m) => m.remove(index.as_str()),
            _ => None,
        }
    }
}

impl Pluck<usize> for serde_json::Value {
    type Output = serde_json::Value;
    fn pluck(self, index: &usize) -> Option<serde_json::Value> {
        match self {
            serde_json::Value::Array(a) => a.into_iter().nth(*index),
            _ => None,
        }
    }
}
