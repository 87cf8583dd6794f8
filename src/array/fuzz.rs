//! The in-crate body of the `array_index` fuzz target, also run by `cargo test` on the corpus.

use super::{ArrayContext, Idx};
use crate::error::ErrorKind;
use crate::exec::Sequential;
use ndarray::{ArrayD, IxDyn};

/// Reads small numbers from the fuzz input; zeros once it runs out. Shared by the array fuzz
/// targets, each adding its own readers.
pub(super) struct Bytes<'a>(pub(super) &'a [u8]);

impl Bytes<'_> {
    pub(super) fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    pub(super) fn below(&mut self, n: u8) -> u8 {
        self.byte() % n
    }
    /// A position or bound: mostly small (in and out of range), sometimes extreme.
    fn pos(&mut self) -> isize {
        match self.byte() {
            250 => isize::MIN,
            251 => isize::MAX,
            252 => isize::MIN + 1,
            253 => isize::MAX - 1,
            b => (b % 17) as isize - 8,
        }
    }
    fn bound(&mut self) -> Option<isize> {
        (self.below(4) != 0).then(|| self.pos())
    }
}

/// Checks one input: builds a small `i64` array (shape, chunking and index expression from
/// `data`), indexes it with [`Array::index`](super::Array::index), and compares the result
/// with a naive implementation of NumPy's indexing rules, panicking on a mismatch. An error
/// must be an [`Index`](ErrorKind::Index) error, exactly where NumPy raises `IndexError`.
///
/// ```
/// blockwork::array::fuzz_array_index(&[2, 3, 4, 1, 1, 2, 3, 0, 5]);
/// blockwork::array::fuzz_array_index(&[]);
/// ```
pub fn fuzz_array_index(data: &[u8]) {
    let mut b = Bytes(data);
    let ndim = b.below(4) as usize;
    let shape: Vec<usize> = (0..ndim).map(|_| b.below(6) as usize).collect();
    let n: usize = shape.iter().product();
    let a = ArrayD::from_shape_vec(IxDyn(&shape), (0..n as i64).collect()).expect("sized");
    let chunks: Vec<usize> = shape
        .iter()
        .map(|&d| 1 + b.below(d.max(1) as u8) as usize)
        .collect();
    let nidx = b.below(6) as usize;
    let mut idx = Vec::with_capacity(nidx);
    let mut advanced = false;
    for _ in 0..nidx {
        idx.push(match b.below(8) {
            0 | 1 => Idx::Int(b.pos()),
            2 | 3 => Idx::slice(b.bound(), b.bound(), b.pos() / 2),
            4 => Idx::NewAxis,
            5 => Idx::Ellipsis,
            6 if !advanced => {
                advanced = true;
                Idx::List((0..b.below(5)).map(|_| b.pos()).collect())
            }
            7 if !advanced => {
                advanced = true;
                Idx::Mask((0..b.below(7)).map(|_| b.below(2) == 1).collect())
            }
            _ => Idx::full(),
        });
    }
    let x = ArrayContext::new()
        .from_ndarray(&a, chunks.clone())
        .expect("valid chunks");
    let got = x
        .index(&idx)
        .and_then(|y| y.compute::<i64>(&Sequential::new()));
    match (got, reference(&a, &idx)) {
        (Ok(g), Some(w)) => assert_eq!(g, w, "{shape:?} in {chunks:?} indexed by {idx:?}"),
        (Err(e), None) => assert_eq!(e.kind(), ErrorKind::Index, "{e}"),
        (g, w) => {
            panic!("{shape:?} in {chunks:?} indexed by {idx:?}: got {g:?}, NumPy gives {w:?}")
        }
    }
}

/// What one entry of the index does to the output, after checking.
enum Step {
    /// Input axis, positions kept (a slice: an output axis).
    Slice(Vec<usize>),
    /// Input axis fixed at a position (no output axis).
    Fixed(usize),
    /// A new output axis of length 1.
    New,
    /// Input axis, positions kept (the one advanced output axis).
    Advanced(Vec<usize>),
}

/// NumPy's `a[idx]` computed position by position, or `None` where NumPy raises IndexError.
fn reference(a: &ArrayD<i64>, idx: &[Idx]) -> Option<ArrayD<i64>> {
    let ndim = a.ndim();
    let consuming = idx
        .iter()
        .filter(|i| !matches!(i, Idx::NewAxis | Idx::Ellipsis))
        .count();
    let ellipses = idx.iter().filter(|i| matches!(i, Idx::Ellipsis)).count();
    if consuming > ndim || ellipses > 1 {
        return None;
    }
    let mut steps = Vec::new();
    let mut axis = 0;
    for i in idx {
        let len = |axis: usize| a.shape()[axis] as i128;
        let step = match i {
            Idx::Ellipsis => {
                for _ in 0..ndim - consuming {
                    steps.push(Step::Slice((0..a.shape()[axis]).collect()));
                    axis += 1;
                }
                continue;
            }
            Idx::NewAxis => Step::New,
            Idx::Int(p) => Step::Fixed(in_bounds(*p, len(axis))?),
            Idx::Slice { start, stop, step } => {
                Step::Slice(py_slice(*start, *stop, *step, len(axis))?)
            }
            Idx::List(v) => Step::Advanced(
                v.iter()
                    .map(|&p| in_bounds(p, len(axis)))
                    .collect::<Option<_>>()?,
            ),
            Idx::Mask(m) if m.len() as i128 == len(axis) => {
                Step::Advanced((0..m.len()).filter(|&j| m[j]).collect())
            }
            Idx::Mask(_) => return None,
        };
        axis += usize::from(!matches!(step, Step::New));
        steps.push(step);
    }
    while axis < ndim {
        steps.push(Step::Slice((0..a.shape()[axis]).collect()));
        axis += 1;
    }
    Some(gather(a, &steps, advanced_first(idx)))
}

/// Whether NumPy puts the advanced axis first: with an integer list or mask, integers are
/// advanced indices too, and when the advanced entries are not next to each other (a slice,
/// new axis or ellipsis between them) their axis moves to the front.
fn advanced_first(idx: &[Idx]) -> bool {
    let is_adv = |i: &Idx| matches!(i, Idx::Int(_) | Idx::List(_) | Idx::Mask(_));
    if !idx.iter().any(|i| matches!(i, Idx::List(_) | Idx::Mask(_))) {
        return false;
    }
    let first = idx.iter().position(is_adv).expect("a list is advanced");
    let last = idx.iter().rposition(is_adv).expect("a list is advanced");
    !idx[first..=last].iter().all(is_adv)
}

fn in_bounds(p: isize, len: i128) -> Option<usize> {
    let q = if p < 0 { p as i128 + len } else { p as i128 };
    (0..len).contains(&q).then_some(q as usize)
}

/// Python's `range(n)[start:stop:step]`, written out as `slice.indices` does it.
fn py_slice(start: Option<isize>, stop: Option<isize>, step: isize, n: i128) -> Option<Vec<usize>> {
    if step == 0 {
        return None;
    }
    let step = step as i128;
    let (lo, hi) = if step > 0 { (0, n) } else { (-1, n - 1) };
    let fix = |v: Option<isize>, default: i128| match v {
        None => default,
        Some(v) => {
            let v = v as i128;
            let v = if v < 0 { v + n } else { v };
            v.clamp(lo, hi)
        }
    };
    let (mut i, stop) = if step > 0 {
        (fix(start, 0), fix(stop, n))
    } else {
        (fix(start, n - 1), fix(stop, -1))
    };
    let mut out = Vec::new();
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i as usize);
        i += step;
    }
    Some(out)
}

/// The elements selected by `steps`, with the advanced axis first or in place.
fn gather(a: &ArrayD<i64>, steps: &[Step], adv_first: bool) -> ArrayD<i64> {
    // Output axes in order: each a list of (input axis or none, position) choices.
    let mut axes: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    let mut fixed = vec![0usize; a.ndim()];
    let mut adv_at = None;
    let mut k = 0;
    for s in steps {
        match s {
            Step::New => axes.push((None, vec![0])),
            Step::Fixed(p) => fixed[k] = *p,
            Step::Slice(v) => axes.push((Some(k), v.clone())),
            Step::Advanced(v) => {
                adv_at = Some(axes.len());
                axes.push((Some(k), v.clone()));
            }
        }
        k += usize::from(!matches!(s, Step::New));
    }
    if let (true, Some(at)) = (adv_first, adv_at) {
        let adv = axes.remove(at);
        axes.insert(0, adv);
    }
    let shape: Vec<usize> = axes.iter().map(|(_, v)| v.len()).collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |out| {
        let mut src = fixed.clone();
        for (o, (ax, pos)) in axes.iter().enumerate() {
            if let Some(ax) = ax {
                src[*ax] = pos[out[o]];
            }
        }
        a[IxDyn(&src)]
    })
}
