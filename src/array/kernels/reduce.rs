//! Reduction accumulators: per output position, the running state of a reduction, updated
//! from tiles and merged between blocks.
//!
//! Inputs arrive as `f64` or `i64` tiles (the expression casts to the domain first). A tile
//! either folds into one accumulator (the run axis is reduced: "horizontal") or updates one
//! accumulator per element (the run axis is kept: "vertical"). Horizontal sums and extrema
//! use several independent lanes so the loops vectorise; variance keeps `(n, mean, M2)` and
//! merges with Chan et al.'s pairwise update, which is numerically stable.

use crate::array::kernels::ops::{TileOperand, Val};
use crate::error::{ErrorKind, TaskError};
use crate::value::Payload;
use std::any::Any;

/// Independent accumulator lanes in horizontal loops (a vector register of `f64` on
/// AVX-512; two on AVX2).
const LANES: usize = 8;

/// What is accumulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Sum,
    Prod,
    Min,
    Max,
    Mean,
    Var,
    ArgMin,
    ArgMax,
}

/// Accumulator values of one field.
#[derive(Clone, Debug)]
pub(crate) enum AccVec {
    F(Vec<f64>),
    I(Vec<i64>),
}

impl AccVec {
    fn len(&self) -> usize {
        match self {
            AccVec::F(v) => v.len(),
            AccVec::I(v) => v.len(),
        }
    }
}

/// The state of a reduction over one block (or a group of blocks): `fields` hold one value
/// per position of `shape` (the block's shape with reduced axes set to 1).
#[derive(Clone, Debug)]
pub(crate) struct Partial {
    pub(crate) kind: Kind,
    pub(crate) skip_nan: bool,
    pub(crate) shape: Vec<usize>,
    pub(crate) fields: Vec<AccVec>,
    /// Number of input elements folded in (checked where the lengths were not known
    /// before running).
    pub(crate) count: usize,
}

impl Payload for Partial {
    fn nbytes(&self) -> usize {
        self.fields.iter().map(|f| f.len() * 8).sum()
    }
    fn type_name(&self) -> &'static str {
        "reduction partial"
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cold]
fn bad(msg: &str) -> TaskError {
    TaskError::with_kind(ErrorKind::Type, format!("internal: {msg}"))
}

/// `a` is better than `b` for a minimum: smaller, or the first NaN (propagating) or any
/// number over NaN (skipping).
#[inline(always)]
fn better_min(a: f64, b: f64, skip: bool) -> bool {
    if skip {
        a < b || (b.is_nan() && !a.is_nan())
    } else {
        a < b || (a.is_nan() && !b.is_nan())
    }
}
#[inline(always)]
fn better_max(a: f64, b: f64, skip: bool) -> bool {
    if skip {
        a > b || (b.is_nan() && !a.is_nan())
    } else {
        a > b || (a.is_nan() && !b.is_nan())
    }
}

impl Partial {
    /// A fresh state for `n` positions; `float` selects the `f64` domain.
    pub(crate) fn new(kind: Kind, skip_nan: bool, float: bool, shape: Vec<usize>) -> Partial {
        let n: usize = shape.iter().product();
        let f = |x: f64| AccVec::F(vec![x; n]);
        let i = |x: i64| AccVec::I(vec![x; n]);
        let fields = match (kind, float) {
            (Kind::Sum, true) => vec![f(0.0)],
            (Kind::Sum, false) => vec![i(0)],
            (Kind::Prod, true) => vec![f(1.0)],
            (Kind::Prod, false) => vec![i(1)],
            (Kind::Min, true) => vec![f(if skip_nan { f64::NAN } else { f64::INFINITY })],
            (Kind::Min, false) => vec![i(i64::MAX)],
            (Kind::Max, true) => vec![f(if skip_nan {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            })],
            (Kind::Max, false) => vec![i(i64::MIN)],
            (Kind::Mean, _) => vec![f(0.0), f(0.0)],
            (Kind::Var, _) => vec![f(0.0), f(0.0), f(0.0)],
            (Kind::ArgMin | Kind::ArgMax, true) => vec![f(f64::NAN), i(-1)],
            (Kind::ArgMin | Kind::ArgMax, false) => vec![i(0), i(-1)],
        };
        Partial {
            kind,
            skip_nan,
            shape,
            fields,
            count: 0,
        }
    }

    /// Folds a tile into the state. `pos`/`step`: accumulator offset of the first element
    /// and the accumulator stride along the tile (0: horizontal). `ix`/`ix_step`: the
    /// reduction index of the first element and its stride (for arg reductions).
    pub(crate) fn update(
        &mut self,
        v: Val<'_>,
        n: usize,
        at: (usize, isize),
        ix: (i64, i64),
        scratch: &mut Scratch,
    ) -> Result<(), TaskError> {
        let (pos, step) = at;
        match v {
            Val::F64(o) => {
                let t = expand(o, n, &mut scratch.f);
                self.update_f(t, pos, step, ix.0, ix.1)
            }
            Val::I64(o) => {
                let t = expand(o, n, &mut scratch.i);
                self.update_i(t, pos, step, ix.0, ix.1)
            }
            _ => Err(bad("reduction input type")),
        }
    }

    fn update_f(
        &mut self,
        t: &[f64],
        pos: usize,
        step: isize,
        ix: i64,
        ixs: i64,
    ) -> Result<(), TaskError> {
        match self.kind {
            Kind::ArgMin | Kind::ArgMax => self.arg_f(t, pos, step, ix, ixs),
            _ if step == 0 => self.fold_f(t, pos),
            _ => self.scatter_f(t, pos, step),
        }
    }

    /// Horizontal: the whole tile folds into position `pos`.
    fn fold_f(&mut self, t: &[f64], pos: usize) -> Result<(), TaskError> {
        let skip = self.skip_nan;
        match (self.kind, self.fields.as_mut_slice()) {
            (Kind::Sum, [AccVec::F(a)]) => a[pos] += lane_sum(t, skip),
            (Kind::Prod, [AccVec::F(a)]) => {
                a[pos] *= t.iter().filter(|x| !(skip && x.is_nan())).product::<f64>()
            }
            (Kind::Min, [AccVec::F(a)]) => a[pos] = lane_extremum(t, a[pos], skip, better_min),
            (Kind::Max, [AccVec::F(a)]) => a[pos] = lane_extremum(t, a[pos], skip, better_max),
            (Kind::Mean, [AccVec::F(s), AccVec::F(c)]) => {
                s[pos] += lane_sum(t, skip);
                let n = if skip {
                    t.iter().filter(|x| !x.is_nan()).count()
                } else {
                    t.len()
                };
                c[pos] += n as f64;
            }
            (Kind::Var, [AccVec::F(n), AccVec::F(m), AccVec::F(m2)]) => {
                let kept: Vec<f64>;
                let t = if skip && t.iter().any(|x| x.is_nan()) {
                    kept = t.iter().copied().filter(|x| !x.is_nan()).collect();
                    &kept[..]
                } else {
                    t
                };
                // Shift by the running mean (or the tile's first value) so that one pass
                // of sums of shifted values and their squares stays accurate.
                let shift = if n[pos] > 0.0 {
                    m[pos]
                } else {
                    t.first().copied().unwrap_or(0.0)
                };
                let (tn, tm, tm2) = tile_moments(t, shift);
                chan(&mut n[pos], &mut m[pos], &mut m2[pos], tn, tm, tm2);
            }
            _ => return Err(bad("reduction state")),
        }
        Ok(())
    }

    /// Vertical: tile element `j` updates position `pos + j * step`.
    fn scatter_f(&mut self, t: &[f64], pos: usize, step: isize) -> Result<(), TaskError> {
        let skip = self.skip_nan;
        let at = |j: usize| (pos as isize + j as isize * step) as usize;
        match (self.kind, self.fields.as_mut_slice()) {
            (Kind::Sum, [AccVec::F(a)]) if step == 1 && !skip => a[pos..pos + t.len()]
                .iter_mut()
                .zip(t)
                .for_each(|(a, &x)| *a += x),
            (Kind::Sum, [AccVec::F(a)]) => t
                .iter()
                .enumerate()
                .for_each(|(j, &x)| a[at(j)] += if skip && x.is_nan() { 0.0 } else { x }),
            (Kind::Prod, [AccVec::F(a)]) => t
                .iter()
                .enumerate()
                .for_each(|(j, &x)| a[at(j)] *= if skip && x.is_nan() { 1.0 } else { x }),
            (Kind::Min, [AccVec::F(a)]) => t.iter().enumerate().for_each(|(j, &x)| {
                if better_min(x, a[at(j)], skip) {
                    a[at(j)] = x
                }
            }),
            (Kind::Max, [AccVec::F(a)]) => t.iter().enumerate().for_each(|(j, &x)| {
                if better_max(x, a[at(j)], skip) {
                    a[at(j)] = x
                }
            }),
            (Kind::Mean, [AccVec::F(s), AccVec::F(c)]) => {
                for (j, &x) in t.iter().enumerate().filter(|(_, x)| !(skip && x.is_nan())) {
                    s[at(j)] += x;
                    c[at(j)] += 1.0;
                }
            }
            (Kind::Var, [AccVec::F(n), AccVec::F(m), AccVec::F(m2)]) => {
                for (j, &x) in t.iter().enumerate().filter(|(_, x)| !(skip && x.is_nan())) {
                    let p = at(j);
                    n[p] += 1.0;
                    let d = x - m[p];
                    m[p] += d / n[p];
                    m2[p] += d * (x - m[p]);
                }
            }
            _ => return Err(bad("reduction state")),
        }
        Ok(())
    }

    /// Arg reductions: keep the best value and its reduction index per position.
    fn arg_f(
        &mut self,
        t: &[f64],
        pos: usize,
        step: isize,
        ix: i64,
        ixs: i64,
    ) -> Result<(), TaskError> {
        let skip = self.skip_nan;
        let better = if self.kind == Kind::ArgMin {
            better_min
        } else {
            better_max
        };
        let [AccVec::F(v), AccVec::I(ix_acc)] = self.fields.as_mut_slice() else {
            return Err(bad("reduction state"));
        };
        for (j, &x) in t.iter().enumerate() {
            let p = (pos as isize + j as isize * step) as usize;
            if ix_acc[p] < 0 || better(x, v[p], skip) {
                v[p] = x;
                ix_acc[p] = ix + j as i64 * ixs;
            }
        }
        Ok(())
    }

    fn update_i(
        &mut self,
        t: &[i64],
        pos: usize,
        step: isize,
        ix: i64,
        ixs: i64,
    ) -> Result<(), TaskError> {
        let at = |j: usize| (pos as isize + j as isize * step) as usize;
        match (self.kind, self.fields.as_mut_slice()) {
            (Kind::Sum, [AccVec::I(a)]) if step == 0 => {
                a[pos] = t.iter().fold(a[pos], |s, &x| s.wrapping_add(x))
            }
            (Kind::Sum, [AccVec::I(a)]) => t
                .iter()
                .enumerate()
                .for_each(|(j, &x)| a[at(j)] = a[at(j)].wrapping_add(x)),
            (Kind::Prod, [AccVec::I(a)]) => t
                .iter()
                .enumerate()
                .for_each(|(j, &x)| a[at(j)] = a[at(j)].wrapping_mul(x)),
            (Kind::Min, [AccVec::I(a)]) if step == 0 => {
                a[pos] = t.iter().fold(a[pos], |m, &x| m.min(x))
            }
            (Kind::Max, [AccVec::I(a)]) if step == 0 => {
                a[pos] = t.iter().fold(a[pos], |m, &x| m.max(x))
            }
            (Kind::Min, [AccVec::I(a)]) => t
                .iter()
                .enumerate()
                .for_each(|(j, &x)| a[at(j)] = a[at(j)].min(x)),
            (Kind::Max, [AccVec::I(a)]) => t
                .iter()
                .enumerate()
                .for_each(|(j, &x)| a[at(j)] = a[at(j)].max(x)),
            (Kind::ArgMin | Kind::ArgMax, [AccVec::I(v), AccVec::I(ix_acc)]) => {
                let min = self.kind == Kind::ArgMin;
                for (j, &x) in t.iter().enumerate() {
                    let p = at(j);
                    if ix_acc[p] < 0 || (min && x < v[p]) || (!min && x > v[p]) {
                        v[p] = x;
                        ix_acc[p] = ix + j as i64 * ixs;
                    }
                }
            }
            _ => return Err(bad("reduction state")),
        }
        Ok(())
    }

    /// Merges `o` (same kind and shape) into `self`.
    pub(crate) fn merge(&mut self, o: &Partial) -> Result<(), TaskError> {
        self.count = self.count.saturating_add(o.count);
        let skip = self.skip_nan;
        match (self.kind, self.fields.as_mut_slice(), o.fields.as_slice()) {
            (Kind::ArgMin | Kind::ArgMax, [va, AccVec::I(ia)], [vb, AccVec::I(ib)]) => {
                merge_arg(self.kind == Kind::ArgMin, skip, va, ia, vb, ib)?
            }
            (
                Kind::Var,
                [AccVec::F(n), AccVec::F(m), AccVec::F(m2)],
                [AccVec::F(nb), AccVec::F(mb), AccVec::F(m2b)],
            ) => {
                for p in 0..n.len() {
                    chan(&mut n[p], &mut m[p], &mut m2[p], nb[p], mb[p], m2b[p]);
                }
            }
            (kind, a, b) => {
                for (fa, fb) in a.iter_mut().zip(b) {
                    merge_field(kind, skip, fa, fb)?;
                }
            }
        }
        Ok(())
    }
}

/// Merges one field of a sum, mean, product or extremum.
fn merge_field(kind: Kind, skip: bool, fa: &mut AccVec, fb: &AccVec) -> Result<(), TaskError> {
    match (kind, fa, fb) {
        (Kind::Sum | Kind::Mean, AccVec::F(a), AccVec::F(b)) => {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y)
        }
        (Kind::Sum | Kind::Mean, AccVec::I(a), AccVec::I(b)) => a
            .iter_mut()
            .zip(b)
            .for_each(|(x, y)| *x = x.wrapping_add(*y)),
        (Kind::Prod, AccVec::F(a), AccVec::F(b)) => a.iter_mut().zip(b).for_each(|(x, y)| *x *= y),
        (Kind::Prod, AccVec::I(a), AccVec::I(b)) => a
            .iter_mut()
            .zip(b)
            .for_each(|(x, y)| *x = x.wrapping_mul(*y)),
        (Kind::Min, AccVec::F(a), AccVec::F(b)) => a.iter_mut().zip(b).for_each(|(x, &y)| {
            if better_min(y, *x, skip) {
                *x = y
            }
        }),
        (Kind::Max, AccVec::F(a), AccVec::F(b)) => a.iter_mut().zip(b).for_each(|(x, &y)| {
            if better_max(y, *x, skip) {
                *x = y
            }
        }),
        (Kind::Min, AccVec::I(a), AccVec::I(b)) => {
            a.iter_mut().zip(b).for_each(|(x, &y)| *x = (*x).min(y))
        }
        (Kind::Max, AccVec::I(a), AccVec::I(b)) => {
            a.iter_mut().zip(b).for_each(|(x, &y)| *x = (*x).max(y))
        }
        _ => return Err(bad("merge")),
    }
    Ok(())
}

/// Merges arg-reduction states: the better value wins, ties go to the smaller index.
fn merge_arg(
    min: bool,
    skip: bool,
    va: &mut AccVec,
    ia: &mut [i64],
    vb: &AccVec,
    ib: &[i64],
) -> Result<(), TaskError> {
    for p in 0..ia.len() {
        if ib[p] < 0 {
            continue;
        }
        let take = ia[p] < 0
            || match (&*va, vb) {
                (AccVec::F(a), AccVec::F(b)) => {
                    let better = if min {
                        better_min(b[p], a[p], skip)
                    } else {
                        better_max(b[p], a[p], skip)
                    };
                    let same = b[p] == a[p] || (b[p].is_nan() && a[p].is_nan());
                    better || (same && ib[p] < ia[p])
                }
                (AccVec::I(a), AccVec::I(b)) => {
                    (if min { b[p] < a[p] } else { b[p] > a[p] }) || (b[p] == a[p] && ib[p] < ia[p])
                }
                _ => return Err(bad("merge")),
            };
        if take {
            match (&mut *va, vb) {
                (AccVec::F(a), AccVec::F(b)) => a[p] = b[p],
                (AccVec::I(a), AccVec::I(b)) => a[p] = b[p],
                _ => return Err(bad("merge")),
            }
            ia[p] = ib[p];
        }
    }
    Ok(())
}

/// Room to expand repeated-value tiles.
#[derive(Default)]
pub(crate) struct Scratch {
    f: Vec<f64>,
    i: Vec<i64>,
}

/// The tile as a slice (a repeated value is expanded into `scratch`).
fn expand<'a, T: Copy>(o: TileOperand<'a, T>, n: usize, scratch: &'a mut Vec<T>) -> &'a [T] {
    match o {
        TileOperand::Slice(s) => s,
        TileOperand::Scalar(x) => {
            scratch.clear();
            scratch.resize(n, x);
            scratch
        }
    }
}

/// Sum with `LANES` independent accumulators (vectorisable), NaN as 0 when `skip`.
#[inline]
fn lane_sum(t: &[f64], skip: bool) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = t.chunks_exact(LANES);
    if skip {
        for c in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += if x.is_nan() { 0.0 } else { x };
            }
        }
    } else {
        for c in &mut chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += x;
            }
        }
    }
    let rest: f64 = chunks
        .remainder()
        .iter()
        .filter(|x| !(skip && x.is_nan()))
        .sum();
    acc.iter().sum::<f64>() + rest
}

/// Extremum of a tile folded into `init`, by `better`, with `LANES` lanes.
#[inline]
fn lane_extremum(t: &[f64], init: f64, skip: bool, better: fn(f64, f64, bool) -> bool) -> f64 {
    let mut acc = [init; LANES];
    let mut chunks = t.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            if better(x, *a, skip) {
                *a = x;
            }
        }
    }
    let mut m = init;
    for &x in acc.iter().chain(chunks.remainder()) {
        if better(x, m, skip) {
            m = x;
        }
    }
    m
}

/// `(n, mean, M2)` of a tile in one pass: sums of `x - shift` and of its square, with
/// `LANES` lanes. With `shift` near the mean, `Σd² - (Σd)²/n` loses little.
#[inline]
fn tile_moments(t: &[f64], shift: f64) -> (f64, f64, f64) {
    let n = t.len() as f64;
    if t.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let (mut s1, mut s2) = ([0.0f64; LANES], [0.0f64; LANES]);
    let mut chunks = t.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            let d = c[l] - shift;
            s1[l] += d;
            s2[l] += d * d;
        }
    }
    let (mut a, mut b) = (s1.iter().sum::<f64>(), s2.iter().sum::<f64>());
    for &x in chunks.remainder() {
        let d = x - shift;
        a += d;
        b += d * d;
    }
    (n, shift + a / n, (b - a * a / n).max(0.0))
}

/// Chan et al.'s merge of `(nb, mb, m2b)` into `(n, m, m2)`.
#[inline]
fn chan(n: &mut f64, m: &mut f64, m2: &mut f64, nb: f64, mb: f64, m2b: f64) {
    if nb == 0.0 {
        return;
    }
    let tot = *n + nb;
    let d = mb - *m;
    *m += d * nb / tot;
    *m2 += m2b + d * d * *n * nb / tot;
    *n = tot;
}

/// The reductions in their wire numbering (distributed runs).
#[cfg(feature = "distributed")]
const KINDS: [Kind; 8] = [
    Kind::Sum,
    Kind::Prod,
    Kind::Min,
    Kind::Max,
    Kind::Mean,
    Kind::Var,
    Kind::ArgMin,
    Kind::ArgMax,
];

/// Appends a reduction partial as bytes: kind, NaN flag, shape, then each field's tag,
/// length and little-endian elements.
#[cfg(feature = "distributed")]
pub(crate) fn encode_partial(p: &Partial, out: &mut Vec<u8>) -> Result<(), String> {
    let kind = KINDS.iter().position(|&k| k == p.kind).expect("a kind") as u8;
    out.extend([kind, u8::from(p.skip_nan)]);
    out.extend((p.shape.len() as u64).to_le_bytes());
    for &d in &p.shape {
        out.extend((d as u64).to_le_bytes());
    }
    out.extend((p.fields.len() as u64).to_le_bytes());
    for f in &p.fields {
        out.push(matches!(f, AccVec::I(_)).into());
        out.extend((f.len() as u64).to_le_bytes());
        match f {
            AccVec::F(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
            AccVec::I(v) => v.iter().for_each(|x| out.extend(x.to_le_bytes())),
        }
    }
    out.extend((p.count as u64).to_le_bytes());
    Ok(())
}

/// The reduction partial [`encode_partial`] wrote, as a value.
#[cfg(feature = "distributed")]
pub(crate) fn decode_partial(b: &[u8]) -> Result<crate::Value, String> {
    /// A cursor whose reads are checked against what is left.
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if n > self.0.len() {
                return Err("a truncated reduction partial".into());
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn len(&mut self) -> Result<usize, String> {
            let w = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
            usize::try_from(w).map_err(|_| "length out of range".to_string())
        }
    }
    let mut c = Cursor(b);
    let head = c.take(2)?;
    let kind = *KINDS.get(usize::from(head[0])).ok_or("unknown reduction")?;
    let skip_nan = head[1] != 0;
    let ndim = c.len()?;
    if ndim > c.0.len() / 8 {
        return Err("more axes than the message holds".into());
    }
    let shape = (0..ndim).map(|_| c.len()).collect::<Result<Vec<_>, _>>()?;
    let nfields = c.len()?;
    if nfields > c.0.len() {
        return Err("more fields than the message holds".into());
    }
    let mut fields = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        let tag = c.take(1)?[0];
        let n = c.len()?;
        let bytes = c.take(n.checked_mul(8).ok_or("field length overflows")?)?;
        let words = bytes
            .chunks_exact(8)
            .map(|w| w.try_into().expect("8 bytes"));
        fields.push(match tag {
            0 => AccVec::F(words.map(f64::from_le_bytes).collect()),
            1 => AccVec::I(words.map(i64::from_le_bytes).collect()),
            t => return Err(format!("unknown field tag {t}")),
        });
    }
    let count = c.len()?;
    if !c.0.is_empty() {
        return Err("bytes after a reduction partial".into());
    }
    Ok(crate::Value::payload(Partial {
        kind,
        skip_nan,
        shape,
        fields,
        count,
    }))
}
