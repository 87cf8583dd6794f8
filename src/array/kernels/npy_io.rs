//! Positioned reads and writes of one block of a C-order `.npy` file's data: the runs of a
//! block that are contiguous in the file, read into the block's buffer (close runs in one
//! read) or written from it.
//!
//! On little-endian targets the numeric types' storage already is the file's byte form: a
//! long run is read straight into the block's storage and written straight from it, with no
//! conversion copy (`bytemuck` byte views). `bool` and big-endian targets convert element
//! by element through a buffer.

use crate::array::dtype::Element;
use crate::array::grid::c_strides;
use crate::files::cache::Stretches;
use ndarray::ArrayD;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Element types with a little-endian byte form.
pub(crate) trait LeBytes: Element {
    fn read(b: &[u8]) -> Self;
    fn write(self, out: &mut Vec<u8>);
    /// The bytes of `s`, where they are its little-endian file form (numeric types on
    /// little-endian targets); `None` where elements must be converted one by one.
    fn bytes(s: &[Self]) -> Option<&[u8]>;
    /// As [`bytes`](LeBytes::bytes), writable: reading the file's bytes into it sets `s`.
    fn bytes_mut(s: &mut [Self]) -> Option<&mut [u8]>;
}
macro_rules! le {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            fn read(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("itemsize bytes"))
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn bytes(s: &[Self]) -> Option<&[u8]> {
                cfg!(target_endian = "little").then(|| bytemuck::cast_slice(s))
            }
            fn bytes_mut(s: &mut [Self]) -> Option<&mut [u8]> {
                cfg!(target_endian = "little").then(|| bytemuck::cast_slice_mut(s))
            }
        }
    )*};
}
le!(i32, i64, f32, f64);
impl LeBytes for bool {
    fn read(b: &[u8]) -> bool {
        b[0] != 0
    }
    fn write(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    fn bytes(_: &[bool]) -> Option<&[u8]> {
        None
    }
    fn bytes_mut(_: &mut [bool]) -> Option<&mut [u8]> {
        None
    }
}

/// Bytes one positioned read or write moves at most: a run longer than this is cut into
/// pieces, and short runs close together are read together up to this size.
const WINDOW_BYTES: usize = 1 << 20;

/// Largest gap between two runs that one read spans (the bytes in between are read and
/// skipped): a page costs about as much to read as a system call.
const GAP_BYTES: usize = 4096;

/// The pieces of a block that are contiguous in the file, in block order, as `(file element
/// offset, block element offset, length)`: its rows, with the trailing axes it spans whole
/// merged into them, each cut into pieces of at most `max_len` elements.
///
/// An iterator, so that a block of many short rows (a column of a C-order file: one element
/// per row) costs no memory to plan; each step costs O(ndim).
#[derive(Clone)]
pub(crate) struct Runs {
    /// Element strides of the file's array.
    strides: Vec<usize>,
    /// The block's extent along the axes `..inner` (the rows), and the position in it.
    outer: Vec<usize>,
    idx: Vec<usize>,
    /// The file element offset of the current row (kept up to date by `next_row`).
    file: usize,
    /// Elements of one row (the merged axes `inner..`).
    len: usize,
    /// The next piece's offset in the current row.
    at: usize,
    max_len: usize,
    /// The current row's number (its block offset is `row * len`); `None` when done.
    row: Option<usize>,
}

impl Runs {
    pub(crate) fn new(
        shape: &[usize],
        block_off: &[usize],
        block_shape: &[usize],
        max_len: usize,
    ) -> Runs {
        let n = shape.len();
        // Merge the innermost axes while the block covers them fully.
        let mut inner = n;
        let mut len = 1;
        while inner > 0 {
            len *= block_shape[inner - 1];
            inner -= 1;
            if block_shape[inner] != shape[inner] {
                break;
            }
        }
        let strides = c_strides(shape);
        let file = block_off.iter().zip(&strides).map(|(o, s)| o * s).sum();
        Runs {
            strides,
            file,
            outer: block_shape[..inner].to_vec(),
            idx: vec![0; inner],
            len,
            at: 0,
            max_len: max_len.max(1),
            row: (!block_shape.contains(&0)).then_some(0),
        }
    }

    /// Steps to the next row; `false` after the last.
    fn next_row(&mut self) -> bool {
        for k in (0..self.idx.len()).rev() {
            self.idx[k] += 1;
            self.file += self.strides[k];
            if self.idx[k] < self.outer[k] {
                return true;
            }
            self.file -= self.outer[k] * self.strides[k];
            self.idx[k] = 0;
        }
        false
    }
}

impl Iterator for Runs {
    type Item = (usize, usize, usize);

    fn next(&mut self) -> Option<(usize, usize, usize)> {
        let row = self.row?;
        let piece = (
            self.file + self.at,
            row * self.len + self.at,
            self.max_len.min(self.len - self.at),
        );
        self.at += piece.2;
        if self.at == self.len {
            self.at = 0;
            self.row = self.next_row().then_some(row + 1);
        }
        Some(piece)
    }
}

/// A positioned read that fails on a file shorter than its header says.
fn read_exact_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    file.read_exact_at(buf, pos).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => std::io::Error::new(
            e.kind(),
            "file shorter than its header says (changed after it was opened?)",
        ),
        _ => e,
    })
}

/// Reads block `bshape` at `off` of an array of `shape` whose data starts at byte `data_at`
/// of `file`: one positioned read per window of [`Runs`] at most [`GAP_BYTES`] apart, each
/// at most [`WINDOW_BYTES`] long. A window of one run is read straight into `out`'s storage
/// where the element type allows ([`LeBytes::bytes_mut`]), and its byte range is added to
/// `own`: those bytes belong to this block alone (windows of several runs also read the
/// bytes between them, which may be another block's).
pub(crate) fn read_block<T: LeBytes>(
    file: &File,
    data_at: u64,
    shape: &[usize],
    off: &[usize],
    bshape: &[usize],
    out: &mut ArrayD<T>,
    own: &mut Stretches,
) -> std::io::Result<()> {
    let w = std::mem::size_of::<T>().max(1);
    let (window, gap) = ((WINDOW_BYTES / w).max(1), GAP_BYTES / w);
    let dst = out
        .as_slice_mut()
        .ok_or_else(|| std::io::Error::other("internal: output layout"))?;
    let mut buf = Vec::new();
    let mut runs = Runs::new(shape, off, bshape, window);
    loop {
        // Find how many runs one read covers, on a copy of the iterator.
        let mut scan = runs.clone();
        let Some((start, at, len)) = scan.next() else {
            return Ok(());
        };
        let (mut end, mut count) = (start + len, 1);
        for (f, _, len) in scan {
            if f < end || f - end > gap || f + len - start > window {
                break;
            }
            (end, count) = (f + len, count + 1);
        }
        let pos = data_at + (start * w) as u64;
        if count == 1 {
            own.add(pos, pos + (len * w) as u64);
            if let Some(bytes) = T::bytes_mut(&mut dst[at..at + len]) {
                read_exact_at(file, bytes, pos)?;
                runs.next();
                continue;
            }
        }
        buf.resize((end - start) * w, 0);
        read_exact_at(file, &mut buf, pos)?;
        for (f, at, len) in runs.by_ref().take(count) {
            let src = &buf[(f - start) * w..(f - start + len) * w];
            match T::bytes_mut(&mut dst[at..at + len]) {
                Some(bytes) => bytes.copy_from_slice(src),
                None => {
                    for (d, b) in dst[at..at + len].iter_mut().zip(src.chunks_exact(w)) {
                        *d = T::read(b);
                    }
                }
            }
        }
    }
}

/// Writes block `a` at `off` of an array of `shape` whose data starts at byte `data_at` of
/// `file`: one positioned write per piece of [`Runs`], each at most [`WINDOW_BYTES`] long,
/// straight from `a`'s storage where the element type allows ([`LeBytes::bytes`]). The byte
/// range of each piece is added to `written`.
pub(crate) fn write_block<T: LeBytes>(
    file: &File,
    data_at: usize,
    shape: &[usize],
    off: &[usize],
    a: &ArrayD<T>,
    written: &mut Stretches,
) -> std::io::Result<()> {
    let w = std::mem::size_of::<T>().max(1);
    let src = a
        .as_slice()
        .ok_or_else(|| std::io::Error::other("internal: block layout"))?;
    let mut buf = Vec::new();
    for (f, at, len) in Runs::new(shape, off, a.shape(), WINDOW_BYTES / w) {
        let pos = (data_at + f * w) as u64;
        let piece = &src[at..at + len];
        match T::bytes(piece) {
            Some(bytes) => file.write_all_at(bytes, pos)?,
            None => {
                buf.clear();
                piece.iter().for_each(|&x| x.write(&mut buf));
                file.write_all_at(&buf, pos)?;
            }
        }
        written.add(pos, pos + (len * w) as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Runs;

    /// Planning is lazy: a column of 2^40 rows yields its first runs at once (a list of
    /// them would be 24 TiB), and cutting runs into pieces covers each row exactly once.
    #[test]
    fn runs_are_planned_lazily() {
        let first: Vec<_> = Runs::new(&[1 << 40, 3], &[0, 1], &[1 << 40, 1], 8)
            .take(3)
            .collect();
        assert_eq!(first, [(1, 0, 1), (4, 1, 1), (7, 2, 1)]);
        // Block rows 1..3 x cols 2..7 of a 4 x 10 array, in pieces of at most 2.
        let got: Vec<_> = Runs::new(&[4, 10], &[1, 2], &[2, 5], 2).collect();
        let want = [
            (12, 0, 2),
            (14, 2, 2),
            (16, 4, 1),
            (22, 5, 2),
            (24, 7, 2),
            (26, 9, 1),
        ];
        assert_eq!(got, want);
        // Whole trailing axes merge into one run; an empty block has none; 0-d has one.
        let merged: Vec<_> = Runs::new(&[3, 2, 4], &[1, 0, 0], &[2, 2, 4], 100).collect();
        assert_eq!(merged, [(8, 0, 16)]);
        assert_eq!(Runs::new(&[3, 0], &[0, 0], &[3, 0], 4).count(), 0);
        assert_eq!(Runs::new(&[], &[], &[], 4).collect::<Vec<_>>(), [(0, 0, 1)]);
    }
}
