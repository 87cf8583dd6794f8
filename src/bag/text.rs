//! Text files in and out: lines from a glob or a list of paths, one line per element;
//! one file per partition on the way out.
//!
//! A file larger than the block size is split into byte ranges of nearly equal length, and
//! the partition of range `[start, end)` holds the lines that *start* inside it: its reader
//! seeks to `start - 1`, skips through the first newline, and stops at the first line
//! starting at or past `end`. Lines are streamed through a [`READ_BUFFER`]-byte buffer,
//! never read whole, and reach the bag without their `\n` (or `\r\n`). A regular file whose
//! size is reported as 0 (procfs files) is one partition read to its end, up to the block
//! size. Only regular files are read: a FIFO, a device or a directory is refused (a FIFO
//! with no writer would block, `/dev/zero` never ends). A line longer than
//! [`DEFAULT_MAX_LINE_BYTES`] (or [`TextFiles::max_line_bytes`]) is refused too.

use super::{Bag, Element, Sink, StreamFn, hash_of, list_arg, token};
use crate::error::{Error, ErrorKind, Result, TaskError};
use crate::exec::Executor;
use crate::graph::{Arg, Graph, Node, Op, Task};
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;
use std::fmt::Display;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest byte range of a file read by one partition, unless set with
/// [`TextFiles::blocksize`]: files up to this size are one partition each.
pub const DEFAULT_BLOCKSIZE: u64 = 64 << 20;

/// Longest line read, unless set with [`TextFiles::max_line_bytes`]: a longer one is a
/// [`TooLarge`](ErrorKind::TooLarge) error of its partition rather than unbounded memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 << 20;

/// Bytes read from a file at a time, and the size of each output file's write buffer.
pub(super) const READ_BUFFER: usize = 1 << 20;

/// A set of text files to read as a bag of lines.
///
/// ```
/// use blockwork::{bag::TextFiles, Sequential};
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "one\ntwo\nthree\n")?;
/// let lines = TextFiles::paths([dir.path().join("a.txt")]).blocksize(5).lines()?;
/// assert_eq!(lines.npartitions(), 3);
/// assert_eq!(lines.compute(&Sequential::new())?, vec!["one", "two", "three"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TextFiles {
    paths: Vec<PathBuf>,
    blocksize: u64,
    max_line: usize,
}

impl TextFiles {
    /// The files matching a glob pattern, in sorted order. A bad pattern, an unreadable
    /// match, or no match at all is an error.
    pub fn glob(pattern: &str) -> Result<TextFiles> {
        let bad =
            |e: String| Error::new(ErrorKind::InvalidArgument, format!("glob {pattern:?}: {e}"));
        let mut paths = glob::glob(pattern)
            .map_err(|e| bad(e.to_string()))?
            .map(|p| p.map_err(|e| Error::new(ErrorKind::Io, e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        if paths.is_empty() {
            return Err(bad("no file matches".into()));
        }
        paths.sort();
        Ok(TextFiles::paths(paths))
    }

    /// The given files, in the given order.
    pub fn paths<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> TextFiles {
        TextFiles {
            paths: paths.into_iter().map(Into::into).collect(),
            blocksize: DEFAULT_BLOCKSIZE,
            max_line: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Splits files larger than `bytes` into ranges of at most `bytes` (at least 1). A file
    /// whose size is reported as 0 (procfs) is read up to `bytes`; a longer one is a
    /// [`TooLarge`](ErrorKind::TooLarge) error of its partition.
    pub fn blocksize(mut self, bytes: u64) -> TextFiles {
        self.blocksize = bytes.max(1);
        self
    }

    /// Refuses lines longer than `bytes` (at least 1; default [`DEFAULT_MAX_LINE_BYTES`])
    /// with a [`TooLarge`](ErrorKind::TooLarge) error of their partition.
    ///
    /// ```
    /// use blockwork::{bag::TextFiles, ErrorKind, Sequential};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.txt"), "short\na much longer line\n")?;
    /// let lines = TextFiles::paths([dir.path().join("a.txt")]).max_line_bytes(8).lines()?;
    /// let err = lines.compute(&Sequential::new()).unwrap_err();
    /// assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_line_bytes(mut self, bytes: usize) -> TextFiles {
        self.max_line = bytes.max(1);
        self
    }

    /// The paths to read.
    pub fn files(&self) -> &[PathBuf] {
        &self.paths
    }

    /// A bag of the files' lines: one partition per block of each file (an empty file is
    /// one empty partition; more than [`MAX_PARTITIONS`](super::MAX_PARTITIONS) in all is a
    /// [`TooLarge`](ErrorKind::TooLarge) error). Files are inspected now (a missing file is an
    /// [`Io`](ErrorKind::Io) error, one that is not a regular file an
    /// [`InvalidArgument`](ErrorKind::InvalidArgument) error); their lines are read when the
    /// bag is computed.
    pub fn lines(&self) -> Result<Bag<String>> {
        self.read_with("read_text", "", |path, start, limits, sink| {
            read_range(path, start, limits, &mut |line, _| {
                Ok(sink(line.to_owned()))
            })
        })
    }

    /// The same lines as [`lines`](Self::lines), in the same partitions, but several whole
    /// lines per element: each element is a run of consecutive lines that one read of 1 MiB
    /// completed, with their line ends (`\n`, or `\r\n`) kept. For work that does not need
    /// lines one by one (counting words, searching), this skips the `String` and the call
    /// per line; a line that spans two reads is an element of its own.
    ///
    /// ```
    /// use blockwork::{bag::TextFiles, Sequential};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.txt"), "one\ntwo\r\nthree")?;
    /// let blocks = TextFiles::paths([dir.path().join("a.txt")]).line_blocks()?;
    /// assert_eq!(blocks.compute(&Sequential::new())?.concat(), "one\ntwo\r\nthree");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn line_blocks(&self) -> Result<Bag<String>> {
        self.read_with("read_text_blocks", "", |path, start, limits, sink| {
            read_range_as(path, start, limits, true, &mut |lines, _| {
                Ok(sink(lines.to_owned()))
            })
        })
    }

    /// A bag with one partition per byte range of each file (as [`lines`](Self::lines)
    /// cuts them), whose task calls `read` with the file, the range's start and its
    /// [`Bounds`]. `label` names the op and, with `kind` (what differs between readers of
    /// one label, such as the element type), the bag.
    pub(super) fn read_with<T: Element>(
        &self,
        label: &str,
        kind: &str,
        read: impl Fn(&Path, u64, Bounds, &mut Sink<'_, T>) -> std::result::Result<(), TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Result<Bag<T>> {
        let mut args = Vec::new();
        let mut ident = Vec::with_capacity(self.paths.len());
        for p in &self.paths {
            let meta = std::fs::metadata(p).map_err(|e| io_error(p, e))?;
            if !meta.is_file() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{}: {}", p.display(), NOT_REGULAR),
                ));
            }
            let path = p.to_str().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("path {p:?} is not UTF-8"),
                )
            })?;
            let len = meta.len();
            ident.push((path.to_owned(), len, meta.modified().ok()));
            let blocks = len.div_ceil(self.blocksize).max(1);
            super::check_partitions(
                "lines",
                usize::try_from(blocks)
                    .ok()
                    .and_then(|b| b.checked_add(args.len())),
            )?;
            // In u128: `len * b` overflows u64 for a (sparse) file of terabytes.
            let at = |b: u64| (u128::from(len) * u128::from(b) / u128::from(blocks)) as u64;
            for b in 0..blocks {
                let (start, end) = (at(b), at(b + 1));
                // A size of 0 may be no size at all (procfs): read such a file to its end,
                // in one partition, but no further than a block.
                let (end, cap) = if len == 0 {
                    (i64::MAX as u64, self.blocksize)
                } else {
                    (end, u64::MAX)
                };
                args.push(vec![
                    Arg::lit(path),
                    Arg::lit(start as i64),
                    Arg::lit(end as i64),
                    Arg::lit(cap.min(i64::MAX as u64) as i64),
                ]);
            }
        }
        let name = token(
            label,
            &[],
            &hash_of(&(ident, self.blocksize, self.max_line, kind)),
        );
        let max_line = self.max_line;
        let stream: Arc<StreamFn<T>> = Arc::new(move |args: &[Value], sink: &mut Sink<'_, T>| {
            let path = args.first().and_then(Value::as_str).unwrap_or_default();
            let pos = |i: usize| args.get(i).and_then(Value::as_int).unwrap_or(0) as u64;
            let limits = Bounds {
                end: pos(2),
                max_bytes: pos(3),
                max_line,
            };
            read(Path::new(path), pos(1), limits, sink)
        });
        Ok(Bag::streamed(name, label, Graph::new(), args, stream))
    }
}

impl Bag<String> {
    /// The lines of the files matching a glob pattern, as [`TextFiles::glob`] and
    /// [`TextFiles::lines`] with the default block size.
    pub fn read_text(pattern: &str) -> Result<Bag<String>> {
        TextFiles::glob(pattern)?.lines()
    }
}

impl<T: Element + Display> Bag<T> {
    /// Writes each partition to its own file, one element per line, and returns the paths.
    ///
    /// `path` names the files: a `*` in it is replaced by the partition number (`out/*.txt`
    /// gives `out/0.txt`, `out/1.txt`, ...); without one it is a directory that receives
    /// `0.part`, `1.part`, ... (as dask). Missing directories are created. Each file is
    /// written under a temporary name in its directory and renamed when complete, so a
    /// partition that fails leaves no file (and an older file at its path unchanged); the
    /// error names the path. As with `Array::to_npy`, symlinks are written through, a
    /// replaced file keeps its permissions, and a path that is not a regular file is refused.
    pub fn to_textfiles<E: Executor + ?Sized>(&self, path: &str, exec: &E) -> Result<Vec<PathBuf>> {
        let n = self.npartitions();
        let paths: Vec<PathBuf> = if path.contains('*') {
            (0..n)
                .map(|i| PathBuf::from(path.replacen('*', &i.to_string(), 1)))
                .collect()
        } else {
            (0..n)
                .map(|i| Path::new(path).join(format!("{i}.part")))
                .collect()
        };
        self.to_textfiles_at(&paths, exec)?;
        Ok(paths)
    }

    /// Writes partition `i` to `paths[i]`; a count other than the number of partitions is
    /// an [`InvalidArgument`](ErrorKind::InvalidArgument) error.
    pub fn to_textfiles_at<E: Executor + ?Sized>(&self, paths: &[PathBuf], exec: &E) -> Result<()> {
        if paths.len() != self.npartitions() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} paths for {} partitions",
                    paths.len(),
                    self.npartitions()
                ),
            ));
        }
        let mut graph = self.base_graph().clone();
        let name = token("to_textfiles", &[self.name()], &paths);
        let stream = self.stream().clone();
        let op = Op::new(
            format!("{}-to_textfiles", self.label),
            move |args: &[Value]| {
                let path = Path::new(args.get(1).and_then(Value::as_str).unwrap_or_default());
                write_part(&*stream, list_arg(args.first())?, path)
            },
        );
        let mut keys = Vec::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
            }
            let p = p.to_str().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("path {p:?} is not UTF-8"),
                )
            })?;
            let k = Key::tuple(&name, [i]);
            graph.insert(
                k.clone(),
                Node::Task(Task::new(&op, [self.part_arg(i), Arg::lit(p)])),
            );
            keys.push(k);
        }
        let out = exec.run(&Plan::new(&graph, &keys)?)?;
        // Every part is written: only now do they replace their targets, so that the
        // partitions read the inputs as they were (a target may be one of them) and a
        // failure replaces nothing.
        for (v, p) in out.values.iter().zip(paths) {
            let part = v
                .downcast_ref::<WrittenPart>()
                .and_then(|w| w.0.lock().unwrap_or_else(|e| e.into_inner()).take())
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Io,
                        format!("{}: the written part was lost", p.display()),
                    )
                })?;
            part.0.persist(&part.1).map_err(|e| io_error(p, e.error))?;
        }
        Ok(())
    }
}

/// A part written to its temporary file (removed when dropped) and the file it replaces once
/// all parts are written.
struct WrittenPart(std::sync::Mutex<Option<(tempfile::TempPath, PathBuf)>>);

/// Streams one partition into a file, one element per line. The lines go to a temporary
/// file in the same directory, returned as a [`WrittenPart`] to rename to `path` once every
/// partition is written: a failure (of an element or of the disk) removes it and leaves no
/// partial file at `path`, and its error names `path`. The file is closed (a bag may have
/// more partitions than a process may hold files open).
fn write_part<T: Display>(
    stream: &StreamFn<T>,
    args: &[Value],
    path: &Path,
) -> std::result::Result<Value, TaskError> {
    let target = crate::files::write_target(path).map_err(|e| task_io(path, e))?;
    let dir = target.dir.as_path();
    let mut temp = tempfile::Builder::new();
    temp.prefix(".blockwork-part-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As `File::create` would make it (the umask applies), not owner-only.
        temp.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let file = temp.tempfile_in(dir).map_err(|e| task_io(path, e))?;
    let mut w = BufWriter::with_capacity(READ_BUFFER, file);
    let mut failed = None;
    stream(args, &mut |x| match writeln!(w, "{x}") {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })
    .map_err(|e| {
        TaskError::with_kind(
            e.kind(),
            format!("writing {}: {}", path.display(), e.message()),
        )
    })?;
    if let Some(e) = failed {
        return Err(task_io(path, e));
    }
    let file = w.into_inner().map_err(|e| task_io(path, e.into_error()))?;
    if let Some(p) = target.permissions {
        file.as_file()
            .set_permissions(p)
            .map_err(|e| task_io(path, e))?;
    }
    let part = (file.into_temp_path(), target.path);
    Ok(Value::opaque(
        WrittenPart(std::sync::Mutex::new(Some(part))),
        0,
    ))
}

/// Why a path is not read.
const NOT_REGULAR: &str = "not a regular file (a FIFO, device or directory is not read as text)";

/// Where a partition stops reading: lines starting at or past `end` are the next
/// partition's; reading more than `max_bytes` from its start, or a line longer than
/// `max_line`, is [`TooLarge`](ErrorKind::TooLarge).
#[derive(Clone, Copy)]
pub(super) struct Bounds {
    pub(super) end: u64,
    pub(super) max_bytes: u64,
    pub(super) max_line: usize,
}

/// Opens `path` for reading without blocking (a FIFO with no writer would block in a
/// plain `open`) and refuses anything but a regular file, which may have been replaced
/// since the bag was made.
pub(super) fn open_regular(path: &Path) -> std::result::Result<File, TaskError> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK (the same value on every Linux architecture we build for); it changes
    // nothing for regular files.
    const O_NONBLOCK: i32 = 0o4000;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(|e| task_io(path, e))?;
    let meta = file.metadata().map_err(|e| task_io(path, e))?;
    if !meta.is_file() {
        return Err(TaskError::with_kind(
            ErrorKind::InvalidArgument,
            format!("{}: {NOT_REGULAR}", path.display()),
        ));
    }
    Ok(file)
}

/// What is done with each line: given the line (without its newline) and the file offset
/// where it starts; returns `false` to stop reading.
pub(super) type OnLine<'a> = dyn FnMut(&str, u64) -> std::result::Result<bool, TaskError> + 'a;

/// Passes the lines starting in `[start, bounds.end)` of a file to `on_line`.
pub(super) fn read_range(
    path: &Path,
    start: u64,
    bounds: Bounds,
    sink: &mut OnLine<'_>,
) -> std::result::Result<(), TaskError> {
    read_range_as(path, start, bounds, false, sink)
}

/// As [`read_range`]; with `blocks`, `sink` gets runs of whole lines with their line ends
/// (as many as each read completed) instead of one line at a time without its end.
fn read_range_as(
    path: &Path,
    start: u64,
    bounds: Bounds,
    blocks: bool,
    sink: &mut OnLine<'_>,
) -> std::result::Result<(), TaskError> {
    let file = open_regular(path)?;
    let mut r = BufReader::with_capacity(READ_BUFFER, file);
    let mut line_start = 0;
    if start > 0 {
        r.seek(SeekFrom::Start(start - 1))
            .map_err(|e| task_io(path, e))?;
        line_start = start - 1 + skip_line(&mut r).map_err(|e| task_io(path, e))?;
    }
    let mut lines = LineSplitter {
        path,
        line_start,
        end: bounds.end,
        max_line: bounds.max_line,
        carry: Vec::new(),
        blocks,
    };
    let mut read = 0u64;
    loop {
        let buf = r.fill_buf().map_err(|e| task_io(path, e))?;
        read += buf.len() as u64;
        if read > bounds.max_bytes {
            return Err(TaskError::with_kind(
                ErrorKind::TooLarge,
                format!(
                    "{}: a file of unknown size (reported as 0) read past {} bytes",
                    path.display(),
                    bounds.max_bytes
                ),
            ));
        }
        if buf.is_empty() {
            // A last line without a newline; its start was checked when it began.
            if !lines.carry.is_empty() {
                let last = std::mem::take(&mut lines.carry);
                lines.emit(&last, last.len(), None, sink)?;
            }
            return Ok(());
        }
        let n = buf.len();
        if !lines.feed(buf, sink)? {
            return Ok(());
        }
        r.consume(n);
    }
}

/// Reads through the next `\n`, returning the bytes consumed (all of them at end of file).
pub(super) fn skip_line(r: &mut impl BufRead) -> std::io::Result<u64> {
    let mut skipped = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        if let Some(i) = memchr::memchr(b'\n', buf) {
            r.consume(i + 1);
            return Ok(skipped + i as u64 + 1);
        }
        let n = buf.len();
        skipped += n as u64;
        r.consume(n);
    }
}

/// Cuts buffers into lines, carrying a line that spans two buffers.
struct LineSplitter<'p> {
    path: &'p Path,
    /// File offset of the line being assembled (or of the next one, when `carry` is empty).
    line_start: u64,
    /// Lines starting at or past this offset belong to the next partition.
    end: u64,
    /// Longest line accepted, in bytes.
    max_line: usize,
    /// The beginning of a line whose end is in a later buffer.
    carry: Vec<u8>,
    /// Emit runs of whole lines, ends kept, rather than lines one by one.
    blocks: bool,
}

impl LineSplitter<'_> {
    /// Emits the lines completed in `buf`; `false` when done (past `end`, or the sink
    /// asked to stop), in which case the rest of the file is not needed.
    fn feed(&mut self, buf: &[u8], sink: &mut OnLine<'_>) -> std::result::Result<bool, TaskError> {
        let mut off = 0;
        if !self.carry.is_empty() {
            // Finish the line begun in an earlier buffer.
            let Some(i) = memchr::memchr(b'\n', buf) else {
                self.carry.extend_from_slice(buf);
                self.check_carry()?;
                return Ok(true);
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&buf[..=i]);
            let go = self.emit(&line, line.len() - 1, None, sink)?;
            self.line_start += line.len() as u64;
            off = i + 1;
            if !go {
                return Ok(false);
            }
        }
        // The lines wholly inside `buf`: validated as UTF-8 in one pass when possible (lines
        // end at `\n` bytes, which are char boundaries), else line by line, so that a bad
        // byte fails only the partition that owns its line.
        let whole = memchr::memrchr(b'\n', &buf[off..]).map_or(off, |j| off + j + 1);
        if self.blocks {
            return self.feed_block(&buf[off..whole], &buf[whole..], sink);
        }
        let region = &buf[off..whole];
        let text = std::str::from_utf8(region).ok();
        let mut at = 0;
        while at < region.len() {
            if self.line_start >= self.end {
                return Ok(false);
            }
            let i = memchr::memchr(b'\n', &region[at..]).map_or(region.len() - at, |i| i);
            let go = self.emit(&region[at..at + i], i, text.map(|t| &t[at..at + i]), sink)?;
            self.line_start += i as u64 + 1;
            at += i + 1;
            if !go {
                return Ok(false);
            }
        }
        self.keep(&buf[whole..])
    }

    /// Carries `rest`, the start of a line whose end is in a later buffer; `false` when
    /// that line is the next partition's.
    fn keep(&mut self, rest: &[u8]) -> std::result::Result<bool, TaskError> {
        if rest.is_empty() {
            return Ok(true);
        }
        if self.line_start >= self.end {
            return Ok(false);
        }
        self.carry.extend_from_slice(rest);
        self.check_carry()?;
        Ok(true)
    }

    /// Block mode: emits the lines of `region` (whole lines, each ending in `\n`) that
    /// start before `end` as one run, then carries `rest`.
    fn feed_block(
        &mut self,
        region: &[u8],
        rest: &[u8],
        sink: &mut OnLine<'_>,
    ) -> std::result::Result<bool, TaskError> {
        if self.line_start >= self.end {
            return Ok(false);
        }
        // Lines start at the region's start and after each `\n`: those at or past `end`
        // begin after the first `\n` at or past offset `end - 1`.
        let before = usize::try_from(self.end - self.line_start - 1).unwrap_or(usize::MAX);
        let own = if before >= region.len() {
            region.len()
        } else {
            memchr::memchr(b'\n', &region[before..]).map_or(region.len(), |j| before + j + 1)
        };
        let run = &region[..own];
        if self.max_line < READ_BUFFER {
            // A line wholly inside one read may still pass a small `max_line`.
            let mut at = 0;
            for i in memchr::memchr_iter(b'\n', run) {
                if i - at > self.max_line {
                    self.line_start += at as u64;
                    return Err(self.too_long());
                }
                at = i + 1;
            }
        }
        let text = match std::str::from_utf8(run) {
            Ok(t) => t,
            Err(e) => {
                // Name the line that holds the bad byte.
                let at = memchr::memrchr(b'\n', &run[..e.valid_up_to()]).map_or(0, |j| j + 1);
                self.line_start += at as u64;
                return Err(self.bad_utf8(e));
            }
        };
        if !run.is_empty() && !sink(text, self.line_start)? {
            return Ok(false);
        }
        self.line_start += own as u64;
        if own < region.len() {
            return Ok(false);
        }
        self.keep(rest)
    }

    /// A line still being assembled may not pass `max_line` bytes.
    fn check_carry(&self) -> std::result::Result<(), TaskError> {
        if self.carry.len() <= self.max_line {
            return Ok(());
        }
        Err(self.too_long())
    }

    #[cold]
    fn too_long(&self) -> TaskError {
        TaskError::with_kind(
            ErrorKind::TooLarge,
            format!(
                "{}: the line at byte {} is longer than {} bytes",
                self.path.display(),
                self.line_start,
                self.max_line
            ),
        )
    }

    #[cold]
    fn bad_utf8(&self, e: std::str::Utf8Error) -> TaskError {
        TaskError::with_kind(
            ErrorKind::Io,
            format!(
                "{}: invalid UTF-8 in the line at byte {}: {e}",
                self.path.display(),
                self.line_start
            ),
        )
    }

    /// Emits the line `full[..len]` (`checked`: the same bytes, already known to be UTF-8);
    /// `full[len..]` is its `\n`, if any, which goes with it in block mode.
    #[inline]
    fn emit(
        &self,
        full: &[u8],
        len: usize,
        checked: Option<&str>,
        sink: &mut OnLine<'_>,
    ) -> std::result::Result<bool, TaskError> {
        if len > self.max_line {
            return Err(self.too_long());
        }
        if self.blocks {
            let s = std::str::from_utf8(full).map_err(|e| self.bad_utf8(e))?;
            return sink(s, self.line_start);
        }
        let line = &full[..len];
        let s = match checked {
            Some(s) => s,
            None => std::str::from_utf8(line).map_err(|e| self.bad_utf8(e))?,
        };
        sink(s.strip_suffix('\r').unwrap_or(s), self.line_start)
    }
}

#[cold]
fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{}: {e}", path.display()))
}

#[cold]
pub(super) fn task_io(path: &Path, e: std::io::Error) -> TaskError {
    TaskError::with_kind(ErrorKind::Io, format!("{}: {e}", path.display()))
}
