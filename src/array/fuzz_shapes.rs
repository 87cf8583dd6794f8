//! The in-crate body of the `array_shapes` fuzz target, also run by `cargo test` on its
//! corpus: shape-producing operations on arrays with arbitrary, possibly huge, dimensions.

use super::fuzz::Bytes;
use super::grid::{MAX_BLOCKS, broadcast_shapes, checked_size};
use super::{Array, ArrayContext, DType};
use crate::error::{ErrorKind, Result};
use crate::exec::Sequential;
use ndarray::{ArrayD, Axis, IxDyn};

/// Arrays of at most this many elements are computed and compared with ndarray.
const SMALL: usize = 1 << 10;

/// Inputs and rechunk targets with more blocks than this are cut coarser (they are valid,
/// only slow to build).
const MANY_BLOCKS: usize = 1 << 12;

impl Bytes<'_> {
    /// An axis length: mostly small, sometimes huge or at the edge of `usize`.
    fn dim(&mut self) -> usize {
        match self.byte() {
            240 => 1 << 20,
            241 => 1 << 31,
            242 => 1 << 40,
            243 => 1 << 59,
            244 => 1 << 62,
            245 => usize::MAX,
            246 => usize::MAX / 2,
            247 => isize::MAX as usize / 8 + 1,
            248 => 1_000_000_000_000,
            b => (b % 6) as usize,
        }
    }
    fn shape(&mut self) -> Vec<usize> {
        (0..self.below(4)).map(|_| self.dim()).collect()
    }
    fn axis(&mut self) -> isize {
        self.below(9) as isize - 4
    }
}

/// Which error kinds a reference allows; empty means the operation must succeed.
type Allowed = Vec<ErrorKind>;

/// Whether a result of `shape` may be refused for its size: its element count or bytes
/// overflow ([`Overflow`](ErrorKind::Overflow)), or, with uniform chunks, it may have more
/// than [`MAX_BLOCKS`] blocks ([`TooLarge`](ErrorKind::TooLarge)).
fn size_errors(shape: &[usize]) -> Allowed {
    let mut out = Vec::new();
    if checked_size(shape, 8).is_err() {
        out.push(ErrorKind::Overflow);
    }
    // A grid of uniform chunks has at most one block per element on non-empty axes.
    let nonempty = shape
        .iter()
        .filter(|&&d| d > 0)
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    if nonempty.is_none_or(|n| n > MAX_BLOCKS) || shape.iter().any(|&d| d > MAX_BLOCKS) {
        out.push(ErrorKind::TooLarge);
    }
    out
}

/// An input: small ones hold `0, 1, 2, ...` (also kept as an ndarray), others are ones.
fn input(ctx: &ArrayContext, b: &mut Bytes<'_>) -> Option<(Array, Option<ArrayD<i64>>)> {
    let shape = b.shape();
    let mut chunk = 1 + b.dim().min(1 << 62);
    // Grids that fit but have many blocks are valid and slow: keep the fuzzer fast by
    // taking one block per axis instead (grids too large still fail below, typed).
    if super::Chunks::new(&shape, chunk).is_ok_and(|c| c.nblocks() > MANY_BLOCKS) {
        chunk = usize::MAX;
    }
    let made = match checked_size(&shape, 8) {
        Ok(n) if n <= SMALL => {
            let a = ArrayD::from_shape_vec(IxDyn(&shape), (0..n as i64).collect()).ok()?;
            ctx.from_ndarray(&a, chunk).map(|x| (x, Some(a)))
        }
        _ => ctx.ones(&shape, chunk, DType::I64).map(|x| (x, None)),
    };
    match made {
        Ok(x) => Some(x),
        Err(e) => {
            let allowed = size_errors(&shape);
            assert!(allowed.contains(&e.kind()), "creating {shape:?}: {e}");
            None
        }
    }
}

/// Checks an operation's outcome against the reference: the allowed errors (empty: must
/// succeed) and, when it succeeds, the shape and (for small inputs) the values.
fn check(
    what: &str,
    got: Result<Array>,
    allowed: Allowed,
    want_shape: Option<Vec<usize>>,
    want: Option<ArrayD<i64>>,
) {
    match got {
        Err(e) => assert!(
            allowed.contains(&e.kind()),
            "{what}: {e}, allowed {allowed:?}"
        ),
        Ok(y) => {
            // Success is wrong only where the reference says the operation is invalid.
            let invalid = allowed
                .iter()
                .any(|k| matches!(k, ErrorKind::Shape | ErrorKind::Index | ErrorKind::Overflow));
            assert!(
                !invalid,
                "{what}: succeeded with shape {:?}, allowed {allowed:?}",
                y.shape()
            );
            if let Some(s) = want_shape {
                assert_eq!(y.shape(), s.as_slice(), "{what}");
            }
            if let Some(w) = want
                && w.len() <= SMALL
            {
                let g = y
                    .astype(DType::I64)
                    .and_then(|y| y.compute::<i64>(&Sequential::new()))
                    .unwrap_or_else(|e| panic!("{what}: computing failed: {e}"));
                assert_eq!(g, w, "{what}");
            }
        }
    }
}

fn norm(axis: isize, n: usize) -> Option<usize> {
    let a = if axis < 0 { axis + n as isize } else { axis };
    (0..n as isize).contains(&a).then_some(a as usize)
}

/// Checks one input: one or two arrays of arbitrary (possibly huge) shapes and one shape
/// operation (broadcasting, elementwise broadcasting, reshape, concatenate, stack,
/// transpose, reduction, rechunk). Each must give the shape NumPy gives and, for small
/// inputs, the same values as ndarray; or a typed error of the kind NumPy's rules imply
/// ([`Shape`](ErrorKind::Shape), [`Index`](ErrorKind::Index)), or
/// [`Overflow`](ErrorKind::Overflow) / [`TooLarge`](ErrorKind::TooLarge) where the result
/// does not fit. Panics on any other outcome.
///
/// ```
/// blockwork::array::fuzz_array_shapes(&[1, 2, 3, 1, 0, 2, 3, 1]);
/// blockwork::array::fuzz_array_shapes(&[0, 1, 244, 0, 1, 245]);
/// blockwork::array::fuzz_array_shapes(&[]);
/// ```
pub fn fuzz_array_shapes(data: &[u8]) {
    let ctx = ArrayContext::new();
    let mut b = Bytes(data);
    let op = b.below(8);
    let Some((x, xa)) = input(&ctx, &mut b) else {
        return;
    };
    match op {
        0 => {
            let to = b.shape();
            let want = broadcast_shapes(x.shape(), &to)
                .ok()
                .filter(|s| s.as_slice() == to.as_slice());
            let mut allowed = match &want {
                None => vec![ErrorKind::Shape],
                Some(s) => size_errors(s),
            };
            if want.is_none() {
                allowed.extend(size_errors(&to));
            }
            let vals = xa
                .as_ref()
                .zip(want.as_ref())
                .filter(|(_, s)| checked_size(s, 8).is_ok_and(|n| n <= SMALL))
                .and_then(|(a, s)| a.broadcast(IxDyn(s)).map(|v| v.to_owned()));
            check("broadcast_to", x.broadcast_to(&to), allowed, want, vals);
        }
        1 => {
            let Some((y, ya)) = input(&ctx, &mut b) else {
                return;
            };
            let want = broadcast_shapes(x.shape(), y.shape()).ok();
            let allowed = match &want {
                None => vec![ErrorKind::Shape],
                Some(s) => size_errors(s),
            };
            let vals = match (&xa, &ya, &want) {
                (Some(a), Some(c), Some(s)) if checked_size(s, 8).is_ok_and(|n| n <= SMALL) => {
                    let (a, c) = (a.broadcast(IxDyn(s)), c.broadcast(IxDyn(s)));
                    a.zip(c).map(|(a, c)| &a + &c)
                }
                _ => None,
            };
            let what = format!("{:?} + {:?}", x.shape(), y.shape());
            check(&what, x.add(&y), allowed, want, vals);
        }
        2 => {
            let to: Vec<isize> = b
                .shape()
                .into_iter()
                .map(|d| {
                    if d == 5 {
                        -1
                    } else {
                        d.min(isize::MAX as usize) as isize
                    }
                })
                .collect();
            let got = x.reshape(&to);
            if to.contains(&-1) {
                // An inferred length: whatever comes out must hold the same elements.
                match got {
                    Ok(y) => {
                        assert_eq!(checked_size(y.shape(), 8).ok(), Some(x.len()), "reshape");
                        let vals = xa
                            .as_ref()
                            .and_then(|a| a.clone().into_shape_with_order(IxDyn(y.shape())).ok());
                        check(
                            "reshape -1",
                            Ok(y.clone()),
                            vec![],
                            Some(y.shape().to_vec()),
                            vals,
                        );
                    }
                    Err(e) => assert!(
                        matches!(
                            e.kind(),
                            ErrorKind::Shape | ErrorKind::Overflow | ErrorKind::TooLarge
                        ),
                        "reshape {to:?}: {e}"
                    ),
                }
            } else {
                let s: Vec<usize> = to.iter().map(|&d| d as usize).collect();
                let mut allowed = size_errors(&s);
                if checked_size(&s, 8).ok() != Some(x.len()) {
                    allowed.push(ErrorKind::Shape);
                }
                let vals = xa
                    .as_ref()
                    .and_then(|a| a.clone().into_shape_with_order(IxDyn(&s)).ok());
                check("reshape", got, allowed, Some(s), vals);
            }
        }
        3 | 4 => {
            let Some((y, ya)) = input(&ctx, &mut b) else {
                return;
            };
            let axis = b.axis();
            let (got, allowed, want, vals) = if op == 3 {
                let got = Array::concatenate(&[x.clone(), y.clone()], axis);
                let n = x.ndim();
                let want = norm(axis, n).filter(|_| y.ndim() == n).and_then(|k| {
                    let same = (0..n).all(|j| j == k || x.shape()[j] == y.shape()[j]);
                    let len = x.shape()[k].checked_add(y.shape()[k]);
                    same.then_some((k, len))
                });
                let mut allowed = Vec::new();
                if norm(axis, n).is_none() {
                    allowed.push(ErrorKind::Index);
                }
                let (shape, vals) = match want {
                    Some((k, Some(len))) => {
                        let mut s = x.shape().to_vec();
                        s[k] = len;
                        allowed.extend(size_errors(&s));
                        let vals = xa.as_ref().zip(ya.as_ref()).and_then(|(a, c)| {
                            ndarray::concatenate(Axis(k), &[a.view(), c.view()]).ok()
                        });
                        (Some(s), vals)
                    }
                    Some((_, None)) => {
                        allowed.push(ErrorKind::Overflow);
                        (None, None)
                    }
                    None => {
                        allowed.push(ErrorKind::Shape);
                        (None, None)
                    }
                };
                (got, allowed, shape, vals)
            } else {
                let got = Array::stack(&[x.clone(), y.clone()], axis);
                let same = x.shape() == y.shape();
                let k = norm(axis, x.ndim() + 1);
                let mut allowed = Vec::new();
                if !same {
                    allowed.push(ErrorKind::Shape);
                }
                if k.is_none() {
                    allowed.push(ErrorKind::Index);
                }
                let (shape, vals) = match (same, k) {
                    (true, Some(k)) => {
                        let mut s = x.shape().to_vec();
                        s.insert(k, 2);
                        allowed.extend(size_errors(&s));
                        let vals = xa
                            .as_ref()
                            .zip(ya.as_ref())
                            .and_then(|(a, c)| ndarray::stack(Axis(k), &[a.view(), c.view()]).ok());
                        (Some(s), vals)
                    }
                    _ => (None, None),
                };
                (got, allowed, shape, vals)
            };
            check("concatenate/stack", got, allowed, want, vals);
        }
        5 => {
            let want: Vec<usize> = x.shape().iter().rev().copied().collect();
            let axes: Vec<isize> = (0..x.ndim() as isize).rev().collect();
            let vals = xa.as_ref().map(|a| a.clone().reversed_axes());
            check("transpose", x.transpose(&axes), vec![], Some(want), vals);
        }
        6 => {
            let axis = b.axis();
            let got = x.sum(Some(axis));
            let Some(k) = norm(axis, x.ndim()) else {
                check("sum", got, vec![ErrorKind::Index], None, None);
                return;
            };
            let mut s = x.shape().to_vec();
            s.remove(k);
            // Summing an empty axis away can leave many zeros, and summing over a huge axis
            // of an empty array leaves none (ndarray would walk the huge axis): compare
            // small results only, and empty ones without ndarray.
            let vals = xa
                .as_ref()
                .filter(|_| checked_size(&s, 8).is_ok_and(|n| n <= SMALL))
                .map(|a| {
                    if a.is_empty() {
                        ArrayD::zeros(IxDyn(&s))
                    } else {
                        a.sum_axis(Axis(k))
                    }
                });
            check("sum", got, size_errors(&s), Some(s), vals);
        }
        _ => {
            let chunk = 1 + b.dim().min(1 << 62);
            if super::Chunks::new(x.shape(), chunk).is_ok_and(|c| c.nblocks() > MANY_BLOCKS) {
                return;
            }
            let got = x.rechunk(chunk);
            check(
                "rechunk",
                got,
                size_errors(x.shape()),
                Some(x.shape().to_vec()),
                xa,
            );
        }
    }
}
