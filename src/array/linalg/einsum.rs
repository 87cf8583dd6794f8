//! Einstein summation (`einsum`) over blocked arrays.
//!
//! Subscripts are parsed and checked against the operands first. Each operand's repeated
//! letters become diagonals (a task per output block, after chunking the two axes alike);
//! letters that no other operand and not the output carry are summed away at once. The
//! operands are then combined left to right, two at a time: letters the pair shares and
//! nothing later needs are contracted by [`Array::tensordot`] (GEMM per block pair); shared
//! letters that are still needed are batch axes, done by the batched [`Array::matmul`]
//! when each side has at most one other letter and one letter is contracted, and by a fused
//! broadcast product and sum otherwise. Last, the result's axes are put in the output's
//! order.

use crate::array::grid::refine;
use crate::array::{
    Array, Chunks, DType, Element, Reduction, block_index, blocks_of, index_value, token,
};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Arg, Op};
use crate::value::Value;
use ndarray::{ArrayD, Dimension, IxDyn};

/// Einstein summation, as `numpy.einsum` / `dask.array.einsum`: `subscripts` names the axes
/// of each operand with one letter each (`a`-`z`, `A`-`Z`), operands separated by commas,
/// and optionally the output's after `->`. A letter repeated within an operand takes the
/// diagonal; letters absent from the output are summed over. Without `->` (implicit mode)
/// the output has the letters that appear exactly once, in alphabetical order.
///
/// Examples: `"ij,jk->ik"` (matrix product), `"ii->"` (trace), `"ii->i"` (diagonal),
/// `"ij->ji"` (transpose), `"bij,bjk->bik"` (batch product), `"i,j->ij"` (outer product),
/// `"i,i"` (inner product), `"ij"` / `"ji"` (identity / transpose, implicit).
///
/// Operands are promoted to a common type; `bool` operands count as `i64` 0 and 1.
/// Sums follow [`Array::sum`] (`i32` sums accumulate in `i64`).
///
/// Errors: a character other than a letter, a comma, whitespace or one `->` (the `...` of
/// broadcasting included, which is not supported), a subscript count other than the
/// operand count, no operands, an output letter repeated or absent from the inputs:
/// [`InvalidArgument`](ErrorKind::InvalidArgument); a subscript whose length is not its
/// operand's number of axes, or one letter given axes of different lengths:
/// [`Shape`](ErrorKind::Shape).
///
/// ```
/// use blockwork::array::{ArrayContext, linalg::einsum};
/// use blockwork::ndarray::{Ix0, Ix2, array};
/// let ctx = ArrayContext::new();
/// let a = ctx.from_ndarray(&array![[1.0, 2.0], [3.0, 4.0]].into_dyn(), 1)?;
/// let exec = blockwork::Sequential::new();
/// assert_eq!(einsum("ii->", &[&a])?.compute_f64(&exec)?, 5.0);
/// let at = einsum("ij->ji", &[&a])?.compute_as::<f64, Ix2>(&exec)?;
/// assert_eq!(at, array![[1.0, 3.0], [2.0, 4.0]]);
/// let aa = einsum("ij,jk", &[&a, &a])?.compute_as::<f64, Ix2>(&exec)?;
/// assert_eq!(aa, array![[7.0, 10.0], [15.0, 22.0]]);
/// assert!(einsum("ij,jk->ik", &[&a]).is_err()); // two subscripts, one operand
/// # Ok::<(), blockwork::Error>(())
/// ```
pub fn einsum(subscripts: &str, operands: &[&Array]) -> Result<Array> {
    let spec = Spec::parse(subscripts, operands)?;
    let dt = operands
        .iter()
        .map(|a| a.dtype())
        .reduce(DType::promote)
        .map(|d| if d == DType::Bool { DType::I64 } else { d })
        .unwrap_or(DType::F64);
    let mut terms = Vec::with_capacity(operands.len());
    for (a, letters) in operands.iter().zip(&spec.inputs) {
        terms.push(distinct(Term {
            a: a.astype(dt)?,
            letters: letters.clone(),
        })?);
    }
    // Sum away what only one operand carries.
    for i in 0..terms.len() {
        let needed = |c: char| {
            spec.output.contains(&c)
                || terms
                    .iter()
                    .enumerate()
                    .any(|(j, t)| j != i && t.letters.contains(&c))
        };
        let keep: Vec<bool> = terms[i].letters.iter().map(|&c| needed(c)).collect();
        terms[i] = sum_out(&terms[i], &keep)?;
    }
    let mut rest = terms.into_iter();
    let mut acc = rest
        .next()
        .ok_or_else(|| bad("einsum needs at least one operand"))?;
    let rest: Vec<Term> = rest.collect();
    for (i, b) in rest.iter().enumerate() {
        let keep = |c: char| {
            spec.output.contains(&c) || rest[i + 1..].iter().any(|t| t.letters.contains(&c))
        };
        acc = pair(&acc, b, &keep)?;
    }
    let keep: Vec<bool> = acc
        .letters
        .iter()
        .map(|c| spec.output.contains(c))
        .collect();
    let acc = sum_out(&acc, &keep)?;
    let order: Vec<isize> = spec
        .output
        .iter()
        .map(|c| {
            acc.letters
                .iter()
                .position(|x| x == c)
                .expect("every output letter is kept") as isize
        })
        .collect();
    if order.iter().enumerate().all(|(i, &p)| i as isize == p) {
        return Ok(acc.a);
    }
    acc.a.transpose(&order)
}

/// An operand and the letter of each of its axes.
struct Term {
    a: Array,
    letters: Vec<char>,
}

/// Checked subscripts.
struct Spec {
    inputs: Vec<Vec<char>>,
    output: Vec<char>,
}

#[cold]
fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

impl Spec {
    fn parse(subscripts: &str, operands: &[&Array]) -> Result<Spec> {
        let s: String = subscripts.chars().filter(|c| !c.is_whitespace()).collect();
        if s.contains("...") {
            return Err(bad(
                "einsum: the broadcasting ellipsis `...` is not supported",
            ));
        }
        let (lhs, rhs) = match s.split_once("->") {
            Some((l, r)) => (l, Some(r)),
            None => (s.as_str(), None),
        };
        let letters = |part: &str| -> Result<Vec<char>> {
            match part.chars().find(|c| !c.is_ascii_alphabetic()) {
                Some(c) => Err(bad(format!(
                    "einsum: unexpected {c:?} in subscripts {subscripts:?}"
                ))),
                None => Ok(part.chars().collect()),
            }
        };
        let inputs: Vec<Vec<char>> = lhs.split(',').map(letters).collect::<Result<_>>()?;
        if operands.is_empty() || inputs.len() != operands.len() {
            return Err(bad(format!(
                "einsum: {} subscripts for {} operands",
                inputs.len(),
                operands.len()
            )));
        }
        let mut size = [None::<usize>; 128];
        for (k, (sub, a)) in inputs.iter().zip(operands).enumerate() {
            if sub.len() != a.ndim() {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!(
                        "einsum: subscript {k} has {} letters for {} axes",
                        sub.len(),
                        a.ndim()
                    ),
                ));
            }
            for (&c, &d) in sub.iter().zip(a.shape()) {
                match size[c as usize] {
                    Some(e) if e != d => {
                        return Err(Error::new(
                            ErrorKind::Shape,
                            format!("einsum: {c:?} stands for axes of lengths {e} and {d}"),
                        ));
                    }
                    _ => size[c as usize] = Some(d),
                }
            }
        }
        let mut count = [0usize; 128];
        for &c in inputs.iter().flatten() {
            count[c as usize] += 1;
        }
        let output = match rhs {
            None => (0..128u8)
                .map(char::from)
                .filter(|&c| count[c as usize] == 1)
                .collect(),
            Some(r) => {
                let out = letters(r)?;
                let mut seen = [false; 128];
                for &c in &out {
                    if count[c as usize] == 0 {
                        return Err(bad(format!("einsum: output letter {c:?} is in no input")));
                    }
                    if std::mem::replace(&mut seen[c as usize], true) {
                        return Err(bad(format!("einsum: output letter {c:?} repeated")));
                    }
                }
                out
            }
        };
        Ok(Spec { inputs, output })
    }
}

/// `t` with its repeated letters replaced by diagonals.
fn distinct(mut t: Term) -> Result<Term> {
    while let Some((p, q)) = repeated(&t.letters) {
        t.a = diagonal(&t.a, p, q)?;
        t.letters.remove(q);
    }
    Ok(t)
}

/// The first pair of positions holding one letter.
fn repeated(letters: &[char]) -> Option<(usize, usize)> {
    (0..letters.len()).find_map(|q| (0..q).find(|&p| letters[p] == letters[q]).map(|p| (p, q)))
}

/// `t` summed over the axes whose `keep` is false.
fn sum_out(t: &Term, keep: &[bool]) -> Result<Term> {
    let drop: Vec<isize> = (0..keep.len())
        .filter(|&k| !keep[k])
        .map(|k| k as isize)
        .collect();
    if drop.is_empty() {
        return Ok(Term {
            a: t.a.clone(),
            letters: t.letters.clone(),
        });
    }
    Ok(Term {
        a: t.a.sum(Reduction::axes(drop))?,
        letters: t
            .letters
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| *c)
            .collect(),
    })
}

/// Positions in `t` of `letters`.
fn axes_of(t: &Term, letters: &[char]) -> Vec<isize> {
    letters
        .iter()
        .map(|c| {
            t.letters
                .iter()
                .position(|x| x == c)
                .expect("a letter of the term") as isize
        })
        .collect()
}

/// The product of two terms: shared letters `keep` rejects are contracted, the others are
/// batch axes. Result letters: batch, then `a`'s own, then `b`'s own.
fn pair(a: &Term, b: &Term, keep: &dyn Fn(char) -> bool) -> Result<Term> {
    // Letters only `a` has and nothing later needs were summed already; so were `b`'s.
    let shared: Vec<char> = a
        .letters
        .iter()
        .copied()
        .filter(|c| b.letters.contains(c))
        .collect();
    let (batch, contracted): (Vec<char>, Vec<char>) = shared.iter().partition(|&&c| keep(c));
    let own = |t: &Term| -> Vec<char> {
        t.letters
            .iter()
            .copied()
            .filter(|c| !shared.contains(c))
            .collect()
    };
    let (fa, fb) = (own(a), own(b));
    let letters: Vec<char> = batch.iter().chain(&fa).chain(&fb).copied().collect();
    if batch.is_empty() {
        let r =
            a.a.tensordot(&b.a, &axes_of(a, &contracted), &axes_of(b, &contracted))?;
        return Ok(Term { a: r, letters });
    }
    let order = |t: &Term, groups: &[&[char]]| -> Result<Array> {
        let all: Vec<char> = groups.concat();
        t.a.transpose(&axes_of(t, &all))
    };
    let nb = batch.len() as isize;
    if contracted.len() == 1 && fa.len() <= 1 && fb.len() <= 1 {
        // Batched matrix product: (batch, fa|1, c) @ (batch, c, fb|1).
        let mut x = order(a, &[&batch, &fa, &contracted])?;
        if fa.is_empty() {
            x = x.expand_dims(nb)?;
        }
        let mut y = order(b, &[&batch, &contracted, &fb])?;
        if fb.is_empty() {
            y = y.expand_dims(-1)?;
        }
        let mut r = x.matmul(&y)?;
        if fb.is_empty() {
            r = r.squeeze(Some(&[-1]))?;
        }
        if fa.is_empty() {
            r = r.squeeze(Some(&[nb]))?;
        }
        return Ok(Term { a: r, letters });
    }
    // Broadcast product over (batch, fa, contracted, fb), summed over the contracted axes.
    let mut x = order(a, &[&batch, &fa, &contracted])?;
    for _ in &fb {
        x = x.expand_dims(-1)?;
    }
    let mut y = order(b, &[&batch, &contracted, &fb])?;
    for _ in &fa {
        y = y.expand_dims(nb)?;
    }
    let first = batch.len() + fa.len();
    let prod = x.mul(&y)?;
    let r = if contracted.is_empty() {
        prod
    } else {
        prod.sum(Reduction::axes(
            (first..first + contracted.len()).map(|k| k as isize),
        ))?
    };
    Ok(Term { a: r, letters })
}

/// The diagonal of axes `p < q` of `a` (of one length): axis `q` removed, axis `p` holding
/// the elements whose two indices are equal. One task per output block, reading the block
/// on the diagonal of the two axes after chunking them alike.
fn diagonal(a: &Array, p: usize, q: usize) -> Result<Array> {
    let common = refine(a.chunks().axis(p), a.chunks().axis(q));
    let mut axes = a.chunks().axes().to_vec();
    axes[p] = common.clone();
    axes[q] = common;
    let src = a.rechunk(axes.clone())?.materialize();
    axes.remove(q);
    let chunks = Chunks::from_axes(axes)?;
    let name = token("diagonal", (src.name(), p, q));
    let (ctx, out_chunks) = (a.context().clone(), chunks.clone());
    let op = Op::new("diagonal", move |args: &[Value]| {
        let idx = block_index(&args[0])?;
        let shape = out_chunks.block_shape(&idx);
        let b = blocks_of(&args[1..])?[0];
        let out = crate::array::dtype::with_block!(b, x => Element::wrap(ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
            let mut at = ix.slice().to_vec();
            at.insert(q, ix[p]);
            x[IxDyn(&at)]
        })));
        Ok(ctx.block(out))
    });
    let mut lb = super::LayerBuilder::new(name.clone(), vec![src.layer()]);
    for idx in chunks.indices() {
        let mut at = idx.clone();
        at.insert(q, idx[p]);
        lb.task(
            &name,
            &idx,
            &op,
            [Arg::lit(index_value(&idx)), Arg::key(src.block_key(&at))],
        );
    }
    Ok(lb.into_array(a, chunks, a.dtype()))
}
