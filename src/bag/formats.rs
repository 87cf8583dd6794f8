//! JSON Lines and CSV records; documented in the [bag module](super#json-lines-and-csv).

use super::text::{Bounds, READ_BUFFER, open_regular, read_range, skip_line, task_io};
use super::{Bag, Element, Sink, TextFiles};
use crate::error::{ErrorKind, Result, TaskError};
use serde::de::DeserializeOwned;
use std::cell::Cell;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

/// The line number (from 1) of the line starting at byte `offset` of `path`: the newlines
/// before it, counted on the error path only. `None` if the file cannot be read that far.
fn line_number(path: &Path, offset: u64) -> Option<u64> {
    let mut r = std::fs::File::open(path).ok()?.take(offset);
    let mut buf = vec![0u8; READ_BUFFER];
    let mut lines = 1;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Some(lines),
            Ok(n) => lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// A [`Parse`](ErrorKind::Parse) error at the line starting at byte `offset` of `path`.
#[cold]
fn parse_error(path: &Path, offset: u64, e: impl std::fmt::Display) -> TaskError {
    let at = match line_number(path, offset) {
        Some(n) => format!("line {n}"),
        None => format!("byte {offset}"),
    };
    TaskError::with_kind(ErrorKind::Parse, format!("{}: {at}: {e}", path.display()))
}

impl TextFiles {
    /// A bag of the files' JSON Lines records, each deserialized as `T`
    /// (`serde_json::Value` for any JSON). See the [module docs](super#json-lines-and-csv).
    ///
    /// ```
    /// use blockwork::{bag::TextFiles, ErrorKind, Sequential};
    /// #[derive(serde::Deserialize, Clone, Debug, PartialEq)]
    /// struct Event { user: String, n: i64 }
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.jsonl");
    /// std::fs::write(&path, "{\"user\": \"ann\", \"n\": 2}\n\n{\"user\": \"bo\", \"n\": 5}\n")?;
    /// let events = TextFiles::paths([&path]).json_lines::<Event>()?;
    /// let total = events.map(|e| e.n).sum().compute(&Sequential::new())?;
    /// assert_eq!(total, 7);
    /// // Untyped, and a line that does not fit the type.
    /// let any = TextFiles::paths([&path]).json_lines::<serde_json::Value>()?;
    /// assert_eq!(any.compute(&Sequential::new())?[1]["user"], "bo");
    /// std::fs::write(&path, "{\"user\": \"ann\", \"n\": 2}\n{\"user\": 3, \"n\": 5}\n")?;
    /// let err = TextFiles::paths([&path]).json_lines::<Event>()?.compute(&Sequential::new());
    /// let err = err.unwrap_err();
    /// assert_eq!(err.task_cause(), Some(ErrorKind::Parse));
    /// assert!(err.to_string().contains("a.jsonl: line 2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn json_lines<T: DeserializeOwned + Element>(&self) -> Result<Bag<T>> {
        let kind = std::any::type_name::<T>();
        self.read_with("read_json_lines", kind, |path, start, limits, sink| {
            read_range(path, start, limits, &mut |line, at| {
                if line.trim_ascii().is_empty() {
                    return Ok(true);
                }
                match serde_json::from_str::<T>(line) {
                    Ok(v) => Ok(sink(v)),
                    Err(e) => Err(parse_error(path, at, e)),
                }
            })
        })
    }

    /// A bag of the files' CSV records, each deserialized as `T` with the file's header
    /// (its first line) naming the fields. See the [module docs](super#json-lines-and-csv).
    ///
    /// ```
    /// use blockwork::{bag::TextFiles, ErrorKind, Sequential};
    /// #[derive(serde::Deserialize, Clone, Debug, PartialEq)]
    /// struct Row { city: String, temp: f64 }
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("t.csv");
    /// std::fs::write(&path, "city,temp\n\"Paris, FR\",11.5\nOslo,-3\n")?;
    /// let rows = TextFiles::paths([&path]).csv::<Row>()?.compute(&Sequential::new())?;
    /// assert_eq!(rows[0], Row { city: "Paris, FR".into(), temp: 11.5 });
    /// assert_eq!(rows.len(), 2);
    /// std::fs::write(&path, "city,temp\nOslo,-3\nRome,warm\n")?;
    /// let err = TextFiles::paths([&path]).csv::<Row>()?.compute(&Sequential::new());
    /// let err = err.unwrap_err();
    /// assert_eq!(err.task_cause(), Some(ErrorKind::Parse));
    /// assert!(err.to_string().contains("t.csv: line 3"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn csv<T: DeserializeOwned + Element>(&self) -> Result<Bag<T>> {
        let kind = std::any::type_name::<T>();
        self.read_with("read_csv", kind, read_csv_range::<T>)
    }
}

impl<T: DeserializeOwned + Element> Bag<T> {
    /// The JSON Lines records of the files matching a glob pattern, as
    /// [`TextFiles::glob`] and [`TextFiles::json_lines`] with the default block size.
    pub fn read_json_lines(pattern: &str) -> Result<Bag<T>> {
        TextFiles::glob(pattern)?.json_lines()
    }

    /// The CSV records of the files matching a glob pattern, as [`TextFiles::glob`] and
    /// [`TextFiles::csv`] with the default block size.
    pub fn read_csv(pattern: &str) -> Result<Bag<T>> {
        TextFiles::glob(pattern)?.csv()
    }
}

/// Why a [`Capped`] reader stopped: a [`TooLarge`](ErrorKind::TooLarge) condition.
#[derive(Debug)]
struct Cap(String);
impl std::fmt::Display for Cap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Cap {}

/// A reader that refuses to run more than `max_record` bytes past `mark` (the end of the
/// last record, set by its user), or more than `max_total` bytes in all: the CSV reader
/// then never buffers one unbounded record.
struct Capped<R> {
    inner: R,
    read: u64,
    mark: Rc<Cell<u64>>,
    max_record: u64,
    max_total: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read.saturating_sub(self.mark.get()) > self.max_record {
            return Err(std::io::Error::other(Cap(format!(
                "a record longer than {} bytes",
                self.max_record
            ))));
        }
        if self.read > self.max_total {
            return Err(std::io::Error::other(Cap(format!(
                "a file of unknown size (reported as 0) read past {} bytes",
                self.max_total
            ))));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A CSV error as a task error: the reader's caps are [`TooLarge`](ErrorKind::TooLarge),
/// other I/O is [`Io`](ErrorKind::Io), the rest [`Parse`](ErrorKind::Parse) at the record
/// the error names (`base` plus its offset in the reader), else at `line_at`.
#[cold]
fn csv_error(path: &Path, base: u64, line_at: u64, e: csv::Error) -> TaskError {
    if let csv::ErrorKind::Io(io) = e.kind() {
        let kind = match io.get_ref().map(|c| c.is::<Cap>()) {
            Some(true) => ErrorKind::TooLarge,
            _ => ErrorKind::Io,
        };
        return TaskError::with_kind(kind, format!("{}: {e}", path.display()));
    }
    let at = e.position().map_or(line_at, |p| base + p.byte());
    parse_error(path, at, e)
}

/// Pushes the CSV records starting in `[start, bounds.end)` of a file into `sink`.
fn read_csv_range<T: DeserializeOwned>(
    path: &Path,
    start: u64,
    bounds: Bounds,
    sink: &mut Sink<'_, T>,
) -> std::result::Result<(), TaskError> {
    let mark = Rc::new(Cell::new(0));
    let capped = |r: BufReader<std::fs::File>| Capped {
        inner: r,
        read: 0,
        mark: mark.clone(),
        max_record: bounds.max_line as u64 + READ_BUFFER as u64,
        max_total: bounds.max_bytes,
    };
    let builder = || {
        let mut b = csv::ReaderBuilder::new();
        b.has_headers(false)
            .flexible(true)
            .buffer_capacity(READ_BUFFER);
        b
    };
    let file = BufReader::with_capacity(READ_BUFFER, open_regular(path)?);
    let mut rdr = builder().from_reader(capped(file));
    let mut rec = csv::StringRecord::new();
    // The header: the file's first record.
    let got = rdr
        .read_record(&mut rec)
        .map_err(|e| csv_error(path, 0, 0, e))?;
    if !got {
        return Ok(());
    }
    let header = std::mem::take(&mut rec);
    // Records start after the header in the first range, after the first line break at or
    // past `start - 1` in the others (the record there belongs to the previous range).
    let mut base = 0;
    if start > 0 {
        let mut r = BufReader::with_capacity(READ_BUFFER, open_regular(path)?);
        r.seek(SeekFrom::Start(start - 1))
            .map_err(|e| task_io(path, e))?;
        base = start - 1 + skip_line(&mut r).map_err(|e| task_io(path, e))?;
        mark.set(0);
        rdr = builder().from_reader(capped(r));
    }
    let mut at = base + rdr.position().byte();
    loop {
        mark.set(rdr.position().byte());
        let got = rdr
            .read_record(&mut rec)
            .map_err(|e| csv_error(path, base, at, e))?;
        if !got {
            return Ok(());
        }
        at = base + rec.position().map_or(0, |p| p.byte());
        if at >= bounds.end {
            return Ok(());
        }
        if rec.len() != header.len() {
            let why = format!("{} fields where the header has {}", rec.len(), header.len());
            return Err(parse_error(path, at, why));
        }
        let v = rec
            .deserialize::<T>(Some(&header))
            .map_err(|e| parse_error(path, at, e))?;
        if !sink(v) {
            return Ok(());
        }
    }
}
