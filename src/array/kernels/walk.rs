//! Walking a block: merging axes, ordering tiles (row-major, or cache-blocked when a leaf
//! is read transposed), prefetching and transposing tiles of transposed leaves.

use super::eval::{Buf, LeafCursor, LeafIn, Slab, TILE, internal, with_slab};
use crate::error::TaskError;

/// The run space of one block: merged axes, and for each stream a base and strides.
pub(crate) struct RunSpace {
    /// Merged shape; the last axis is the run axis. Never empty.
    pub(crate) shape: Vec<usize>,
    /// Per stream: offset of the block's first element.
    pub(crate) base: Vec<isize>,
    /// Per stream: stride per merged axis.
    pub(crate) strides: Vec<Vec<isize>>,
}

impl RunSpace {
    /// Merges the axes of `shape` given per-stream `(base, strides per axis)`.
    pub(crate) fn new(shape: &[usize], streams: &[(isize, Vec<isize>)]) -> RunSpace {
        let mut dims: Vec<(usize, Vec<isize>)> = Vec::new();
        for (o, &len) in shape.iter().enumerate() {
            if len == 1 {
                continue;
            }
            let st: Vec<isize> = streams.iter().map(|s| s.1[o]).collect();
            if let Some(last) = dims.last_mut() {
                let n = len as isize;
                if last
                    .1
                    .iter()
                    .zip(&st)
                    .all(|(&p, &q)| p == q.wrapping_mul(n))
                {
                    last.0 *= len;
                    last.1 = st;
                    continue;
                }
            }
            dims.push((len, st));
        }
        if dims.is_empty() {
            dims.push((1, vec![0; streams.len()]));
        }
        let shape = dims.iter().map(|d| d.0).collect();
        let strides = (0..streams.len())
            .map(|s| dims.iter().map(|d| d.1[s]).collect())
            .collect();
        RunSpace {
            shape,
            base: streams.iter().map(|s| s.0).collect(),
            strides,
        }
    }

    /// Length of each run.
    pub(crate) fn run_len(&self) -> usize {
        *self.shape.last().expect("never empty")
    }

    /// Stride of stream `s` along a run.
    pub(crate) fn run_stride(&self, s: usize) -> isize {
        *self.strides[s].last().expect("never empty")
    }

    /// Calls `f` with each stream's offset at every index of the first `depth` axes (the
    /// later axes at 0), in row-major order.
    fn outer(
        &self,
        depth: usize,
        mut f: impl FnMut(&[isize]) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        if self.shape.contains(&0) {
            return Ok(());
        }
        let mut idx = vec![0usize; depth];
        let mut off = self.base.clone();
        loop {
            f(&off)?;
            // Odometer over the outer axes, keeping the offsets incrementally.
            let mut k = depth;
            loop {
                if k == 0 {
                    return Ok(());
                }
                k -= 1;
                idx[k] += 1;
                for (o, st) in off.iter_mut().zip(&self.strides) {
                    *o += st[k];
                }
                if idx[k] < self.shape[k] {
                    break;
                }
                for (o, st) in off.iter_mut().zip(&self.strides) {
                    *o -= st[k] * self.shape[k] as isize;
                }
                idx[k] = 0;
            }
        }
    }

    /// Whether some leaf (one of the first `leaves` streams) walks the run axis with a
    /// large stride but the axis before it with unit stride: a transposed read.
    fn transposed(&self, leaves: usize) -> bool {
        let m = self.shape.len();
        m >= 2
            && self.strides[..leaves]
                .iter()
                .any(|st| st[m - 1].abs() > 1 && st[m - 2].abs() == 1)
    }

    /// Walks the block tile by tile, calling `f` with each [`Step`].
    ///
    /// Tiles run along the last axis, row-major. When a leaf is read transposed, rows go
    /// in groups of [`BLOCK_ROWS`] over columns [`BLOCK_COLS`] wide instead: `f` gets a
    /// [`Step::Ahead`] for the next group (to prefetch) and a [`Step::Group`] for this one,
    /// and walks its rows itself (after transposing the transposed leaves' tile).
    pub(crate) fn each_tile(
        &self,
        leaves: usize,
        mut f: impl FnMut(Step<'_>) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let m = self.shape.len();
        let ns = self.strides.len();
        let rs: Vec<isize> = (0..ns).map(|s| self.run_stride(s)).collect();
        let mut offs = vec![0isize; ns];
        let cols = self.run_len();
        if !self.transposed(leaves) {
            // Rows apart in memory (a strided slice, a part of a block): the start of the
            // next row is asked for before this one is read, so that its first lines are
            // on their way while the hardware prefetcher, which stops at each row's end
            // and page, picks the next row up.
            let next_row: Option<Vec<isize>> = (m >= 2 && cols >= ROW_PREFETCH_MIN)
                .then(|| (0..ns).map(|s| self.strides[s][m - 2]).collect());
            return self.outer(m - 1, |off| {
                if let Some(row_st) = &next_row {
                    for s in 0..ns {
                        offs[s] = off[s] + row_st[s];
                    }
                    f(Step::NextRow { offs: &offs })?;
                }
                let mut t = 0;
                while t < cols {
                    let n = TILE.min(cols - t);
                    for s in 0..ns {
                        offs[s] = off[s] + t as isize * rs[s];
                    }
                    f(Step::Tile { offs: &offs, n })?;
                    t += n;
                }
                Ok(())
            });
        }
        let rows = self.shape[m - 2];
        let row_st: Vec<isize> = (0..ns).map(|s| self.strides[s][m - 2]).collect();
        self.outer(m - 2, |off| {
            for r0 in (0..rows).step_by(BLOCK_ROWS) {
                for c0 in (0..cols).step_by(BLOCK_COLS) {
                    let n = BLOCK_COLS.min(cols - c0);
                    if r0 + BLOCK_ROWS < rows {
                        for s in 0..ns {
                            offs[s] = off[s]
                                + (r0 + BLOCK_ROWS) as isize * row_st[s]
                                + c0 as isize * rs[s];
                        }
                        f(Step::Ahead { offs: &offs, n })?;
                    }
                    for s in 0..ns {
                        offs[s] = off[s] + r0 as isize * row_st[s] + c0 as isize * rs[s];
                    }
                    let g = rows.min(r0 + BLOCK_ROWS) - r0;
                    f(Step::Group {
                        offs: &offs,
                        rows: g,
                        n,
                        row_st: &row_st,
                    })?;
                }
            }
            Ok(())
        })
    }
}

/// One step of a block walk (see [`RunSpace::each_tile`]); `offs` are every stream's offsets at
/// the first element, `n` the tile length.
pub(crate) enum Step<'a> {
    /// One tile.
    Tile { offs: &'a [isize], n: usize },
    /// The tile of the next row group, to prefetch.
    Ahead { offs: &'a [isize], n: usize },
    /// The start of the next row (in the row-major order, when rows are apart), to
    /// prefetch; an offset past the last row is ignored.
    NextRow { offs: &'a [isize] },
    /// `rows` tiles, one per row, each `row_st` further than the last.
    Group {
        offs: &'a [isize],
        rows: usize,
        n: usize,
        row_st: &'a [isize],
    },
}

/// Rows per group in the transposed tile order (one cache line of `f64` per gathered
/// element is reused by this many rows).
pub(crate) const BLOCK_ROWS: usize = 8;
/// Columns per tile in the transposed tile order: the lines gathered for one row
/// (`BLOCK_COLS` of them, 64 bytes each: 32 KiB) fit in L1 while the group's rows reuse
/// them (measured on case c: 512 beats 128, 256 and 1024).
pub(crate) const BLOCK_COLS: usize = 512;

/// Asks for the cache lines of the block leaves' next tile (rows from `offs` on, with the
/// geometry's row and run strides), so that the transposed order's gathers find them in
/// cache instead of waiting for memory one line at a time.
fn prefetch(leaves: &[LeafIn<'_>], space: &RunSpace, offs: &[isize], n: usize) {
    let m = space.shape.len();
    for (s, leaf) in leaves.iter().enumerate() {
        let LeafIn::Block(slab) = leaf else { continue };
        let (row, run) = (space.strides[s][m - 2], space.strides[s][m - 1]);
        with_slab!(*slab, sl => prefetch_lines(sl, offs[s], row, run, n));
    }
}

/// Bytes at the start of the next row that [`Step::NextRow`] prefetches (measured on
/// case e, every second row of 1000-element rows: 512 and 1024 bytes took 8-10% less time
/// than none).
const ROW_PREFETCH_BYTES: usize = 512;
/// Shortest row (in elements) worth a [`Step::NextRow`].
const ROW_PREFETCH_MIN: usize = 64;

/// Asks for the first [`ROW_PREFETCH_BYTES`] of the next row of each block leaf read
/// forwards along its rows.
fn prefetch_row(leaves: &[LeafIn<'_>], space: &RunSpace, offs: &[isize]) {
    for (s, leaf) in leaves.iter().enumerate() {
        let LeafIn::Block(slab) = leaf else { continue };
        if space.run_stride(s) != 1 {
            continue;
        }
        with_slab!(*slab, sl => {
            let size = std::mem::size_of_val(&sl[..sl.len().min(1)]).max(1);
            let start = offs[s];
            if start >= 0 {
                let start = start as usize;
                let end = sl.len().min(start + ROW_PREFETCH_BYTES / size);
                for o in (start..end).step_by((64 / size).max(1)) {
                    prefetch_line(&sl[o]);
                }
            }
        });
    }
}

/// [`prefetch`] for one leaf: one hint per 64-byte line of the `BLOCK_ROWS × n` elements
/// from `off`, stepping over positions that share a line. The addresses are only computed
/// (`wrapping_offset`), never read: a hint past the slice (the rows after the block's last
/// group) is harmless, so the loop checks nothing per line.
fn prefetch_lines<T>(sl: &[T], off: isize, row: isize, run: isize, n: usize) {
    let size = std::mem::size_of::<T>().max(1);
    let rstep = if row.unsigned_abs() * size < 64 {
        BLOCK_ROWS
    } else {
        1
    };
    let cstep = (64 / (run.unsigned_abs() * size).max(1)).max(1);
    let (base, jump) = (sl.as_ptr(), cstep as isize * run);
    for r in (0..BLOCK_ROWS).step_by(rstep) {
        let mut o = off + r as isize * row;
        for _ in 0..n.div_ceil(cstep) {
            prefetch_line(base.wrapping_offset(o));
            o = o.wrapping_add(jump);
        }
    }
}

/// A hint to load the line holding `p` into all cache levels.
#[inline(always)]
fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it has no architectural effect and cannot fault,
    // whatever the address, and nothing is read through `p` here.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Per-tile evaluation callback: the leaves to read, their positions, every stream's
/// offsets, the tile length.
pub(crate) type TileFn<'f, 'a> =
    dyn FnMut(&[LeafIn<'_>], &LeafCursor, &[isize], usize) -> Result<(), TaskError> + 'f;

/// Scratch tiles for the leaves read transposed: each row group of such a leaf is copied
/// into a row-major `BLOCK_ROWS × BLOCK_COLS` tile (one pass over its cache lines, eight
/// elements per line), so that every row of the group then reads it contiguously.
pub(crate) struct Transposer {
    bufs: Vec<Option<Buf>>,
    cur: Vec<(isize, isize)>,
    row: Vec<isize>,
}

impl Transposer {
    pub(crate) fn new(leaves: &[LeafIn<'_>], space: &RunSpace) -> Transposer {
        let m = space.shape.len();
        let bufs = leaves
            .iter()
            .enumerate()
            .map(|(s, l)| match l {
                LeafIn::Block(d)
                    if m >= 2
                        && space.strides[s][m - 1].abs() > 1
                        && space.strides[s][m - 2].abs() == 1 =>
                {
                    Some(Buf::new(d.dtype(), BLOCK_ROWS * BLOCK_COLS))
                }
                _ => None,
            })
            .collect();
        Transposer {
            bufs,
            cur: vec![(0, 0); leaves.len()],
            row: vec![0; space.strides.len()],
        }
    }

    /// Handles one step of the walk, calling `f` per tile.
    pub(crate) fn step(
        &mut self,
        step: Step<'_>,
        leaves: &[LeafIn<'_>],
        space: &RunSpace,
        f: &mut TileFn<'_, '_>,
    ) -> Result<(), TaskError> {
        let nl = leaves.len();
        let rs = |s: usize| space.run_stride(s);
        match step {
            Step::Ahead { offs, n } => {
                prefetch(leaves, space, offs, n);
                Ok(())
            }
            Step::NextRow { offs } => {
                prefetch_row(leaves, space, offs);
                Ok(())
            }
            Step::Tile { offs, n } => {
                for (i, c) in self.cur.iter_mut().enumerate() {
                    *c = (offs[i], rs(i));
                }
                f(leaves, &self.cur, offs, n)
            }
            Step::Group {
                offs,
                rows,
                n,
                row_st,
            } => {
                for (s, b) in self.bufs.iter_mut().enumerate() {
                    if let (Some(b), LeafIn::Block(d)) = (b, &leaves[s]) {
                        let g = GroupAt {
                            off: offs[s],
                            row: row_st[s],
                            run: rs(s),
                            rows,
                            n,
                        };
                        transpose_tile(*d, b, g)?;
                    }
                }
                let group: Vec<LeafIn<'_>> = leaves
                    .iter()
                    .zip(&self.bufs)
                    .map(|(l, b)| match b {
                        Some(b) => LeafIn::Tile(b),
                        None => match l {
                            LeafIn::Block(d) => LeafIn::Block(*d),
                            LeafIn::Gen(g, a, b) => LeafIn::Gen(g, *a, *b),
                            LeafIn::Tile(b) => LeafIn::Tile(b),
                        },
                    })
                    .collect();
                for r in 0..rows {
                    for s in 0..offs.len() {
                        self.row[s] = offs[s] + r as isize * row_st[s];
                    }
                    for i in 0..nl {
                        self.cur[i] = if self.bufs[i].is_some() {
                            ((r * BLOCK_COLS) as isize, 1)
                        } else {
                            (self.row[i], rs(i))
                        };
                    }
                    f(&group, &self.cur, &self.row, n)?;
                }
                Ok(())
            }
        }
    }
}

/// Where a row group of a transposed leaf lies in its source: element `(r, c)` of the
/// `rows × n` group is at `off + r * row + c * run`.
#[derive(Clone, Copy)]
struct GroupAt {
    off: isize,
    row: isize,
    run: isize,
    rows: usize,
    n: usize,
}

/// `tile[r][c] = src[off + r * row + c * run]` for the group's `rows × n` elements.
fn transpose_tile(src: Slab<'_>, tile: &mut Buf, g: GroupAt) -> Result<(), TaskError> {
    macro_rules! arms {
        ($($v:ident),*) => {
            match (src, tile) {
                $((Slab::$v(s), Buf::$v(t)) => transpose_into(s, t, g),)*
                _ => Err(internal("tile type")),
            }
        };
    }
    arms!(Bool, I32, I64, F32, F64)
}

/// [`transpose_tile`] on typed slices. A full group whose rows are consecutive in `s`
/// (`row == 1`: the usual transposed read) goes in `BLOCK_ROWS × BLOCK_ROWS` micro-tiles:
/// eight source lines of eight elements each, borrowed as fixed-size arrays, are written
/// out as eight pieces of tile rows, with no per-element index checks. Other
/// geometries, and the columns left over, go element by element.
fn transpose_into<T: Copy>(s: &[T], t: &mut [T], g: GroupAt) -> Result<(), TaskError> {
    let GroupAt {
        off,
        row,
        run,
        rows,
        n,
    } = g;
    const R: usize = BLOCK_ROWS;
    let at = |r: usize, c: usize| off + r as isize * row + c as isize * run;
    let in_bounds = |i: isize| i >= 0 && (i as usize) < s.len();
    if rows == 0 || n == 0 {
        return Ok(());
    }
    // The four corners bound every index the group reads (it is affine in `r` and `c`).
    let corners = [at(0, 0), at(rows - 1, 0), at(0, n - 1), at(rows - 1, n - 1)];
    if !corners.into_iter().all(in_bounds) || t.len() < (rows - 1) * BLOCK_COLS + n {
        return Err(internal("transposed tile out of bounds"));
    }
    let mut c0 = 0;
    if row == 1 && rows == R {
        while c0 + R <= n {
            let lines: [&[T; R]; R] = std::array::from_fn(|j| {
                let b = at(0, c0 + j) as usize;
                s[b..b + R].try_into().expect("a line of R elements")
            });
            for r in 0..R {
                let dst = &mut t[r * BLOCK_COLS + c0..r * BLOCK_COLS + c0 + R];
                for (d, line) in dst.iter_mut().zip(&lines) {
                    *d = line[r];
                }
            }
            c0 += R;
        }
    }
    for c in c0..n {
        for r in 0..rows {
            t[r * BLOCK_COLS + c] = s[at(r, c) as usize];
        }
    }
    Ok(())
}
