//! JSON Lines and CSV bags: records over several files and byte-range partitions, checked
//! against the files parsed whole (serde_json per line, the csv crate over the whole text);
//! bad records as typed errors naming the file and the line.

use blockwork::bag::{Bag, TextFiles};
use blockwork::{ErrorKind, Executor, Pool, Sequential};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize, Clone, Debug, PartialEq)]
struct Event {
    id: u64,
    user: String,
    score: f64,
    tags: Vec<String>,
}

fn event_line(i: u64) -> String {
    format!(
        r#"{{"id": {i}, "user": "u{}", "score": {}, "tags": [{}]}}"#,
        i % 7,
        i as f64 * 0.5,
        (0..i % 3)
            .map(|t| format!("\"t{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Writes files `name-k.ext` holding `lines[k]`, each line ended by `\n`.
fn write_files(dir: &Path, ext: &str, files: &[Vec<String>]) -> Vec<PathBuf> {
    files
        .iter()
        .enumerate()
        .map(|(k, lines)| {
            let p = dir.join(format!("f{k}.{ext}"));
            std::fs::write(
                &p,
                lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
            )
            .unwrap();
            p
        })
        .collect()
}

fn execs() -> [Box<dyn Executor>; 2] {
    [Box::new(Sequential::new()), Box::new(Pool::new(2).unwrap())]
}

#[test]
fn json_lines_typed_and_untyped_over_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<Vec<String>> = vec![
        (0..40).map(event_line).collect(),
        vec![],
        // Blank and whitespace-only lines are skipped; CRLF endings are read.
        (40..45)
            .map(|i| format!("{}\r", event_line(i)))
            .chain(["".into(), "  ".into()])
            .collect(),
    ];
    let paths = write_files(dir.path(), "jsonl", &files);
    // Reference: each file's lines parsed one by one.
    let mut expected: Vec<Event> = Vec::new();
    let mut expected_any: Vec<serde_json::Value> = Vec::new();
    for p in &paths {
        for line in std::fs::read_to_string(p).unwrap().lines() {
            if !line.trim().is_empty() {
                expected.push(serde_json::from_str(line).unwrap());
                expected_any.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    assert_eq!(expected.len(), 45);
    for blocksize in [1u64, 7, 100, 1 << 20] {
        let files = TextFiles::paths(&paths).blocksize(blocksize);
        let typed = files.json_lines::<Event>().unwrap();
        if blocksize < 100 {
            assert!(typed.npartitions() > 3);
        } else if blocksize == 1 << 20 {
            assert_eq!(typed.npartitions(), 3);
        }
        for exec in execs() {
            assert_eq!(typed.compute(&*exec).unwrap(), expected, "{blocksize}");
            let any = files.json_lines::<serde_json::Value>().unwrap();
            assert_eq!(any.compute(&*exec).unwrap(), expected_any);
        }
    }
    // Through the glob reader, and fused with later steps.
    let pattern = dir.path().join("*.jsonl");
    let b = Bag::<Event>::read_json_lines(pattern.to_str().unwrap()).unwrap();
    let total: f64 = expected.iter().map(|e| e.score).sum();
    assert_eq!(
        b.map(|e| e.score)
            .sum()
            .compute(&Sequential::new())
            .unwrap(),
        total
    );
}

/// The task error of computing `b`, checked to be a Parse error naming `file` and `line`.
fn parse_error_at<T: blockwork::bag::Element + std::fmt::Debug>(
    b: &Bag<T>,
    file: &str,
    line: usize,
) {
    for exec in execs() {
        let err = b.compute(&*exec).unwrap_err();
        assert_eq!(err.task_cause(), Some(ErrorKind::Parse), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{file}: line {line}:")), "{msg}");
    }
}

#[test]
fn bad_json_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..30).map(event_line).collect();
    lines[22] = r#"{"id": 22, "user": "x", "score": oops}"#.into();
    let bad_syntax = write_files(dir.path(), "a", &[lines.clone()]);
    lines[22] = r#"{"id": -1, "user": "x", "score": 1.0, "tags": []}"#.into();
    let bad_type = write_files(dir.path(), "b", &[lines]);
    // Line 23 of the file, whichever partition reads it.
    for blocksize in [16u64, 300, 1 << 20] {
        let b = TextFiles::paths(&bad_syntax).blocksize(blocksize);
        parse_error_at(&b.json_lines::<serde_json::Value>().unwrap(), "f0.a", 23);
        let b = TextFiles::paths(&bad_type).blocksize(blocksize);
        parse_error_at(&b.json_lines::<Event>().unwrap(), "f0.b", 23);
        // The same file parses as untyped JSON.
        assert_eq!(
            b.json_lines::<serde_json::Value>()
                .unwrap()
                .count()
                .compute(&Sequential::new())
                .unwrap(),
            30
        );
    }
    // A missing file is an Io error when the bag is made.
    let missing = TextFiles::paths([dir.path().join("none.jsonl")]).json_lines::<Event>();
    assert_eq!(missing.unwrap_err().kind(), ErrorKind::Io);
    // A line longer than the limit.
    let b = TextFiles::paths(&bad_type)
        .max_line_bytes(20)
        .json_lines::<Event>()
        .unwrap();
    assert_eq!(
        b.compute(&Sequential::new()).unwrap_err().task_cause(),
        Some(ErrorKind::TooLarge)
    );
}

#[derive(Deserialize, Clone, Debug, PartialEq)]
struct Row {
    name: String,
    qty: i64,
    price: Option<f64>,
}

fn csv_file(rows: std::ops::Range<usize>) -> Vec<String> {
    let mut v = vec!["name,qty,price".to_string()];
    v.extend(rows.map(|i| match i % 4 {
        0 => format!("item{i},{i},{}", i as f64 / 4.0),
        1 => format!("\"quoted, {i}\",{},", i * 2),
        2 => format!("\"say \"\"{i}\"\"\",-{i},1e3"),
        _ => format!("plain{i},{i},0.5"),
    }));
    v
}

#[test]
fn csv_typed_over_files_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(
        dir.path(),
        "csv",
        &[
            csv_file(0..50),
            csv_file(50..53),
            vec!["name,qty,price".into()],
        ],
    );
    // Reference: the csv crate over each whole file.
    let mut expected: Vec<Row> = Vec::new();
    for p in &paths {
        let mut r = csv::Reader::from_path(p).unwrap();
        expected.extend(r.deserialize::<Row>().map(Result::unwrap));
    }
    assert_eq!(expected.len(), 53);
    assert_eq!(
        expected[1],
        Row {
            name: "quoted, 1".into(),
            qty: 2,
            price: None
        }
    );
    assert_eq!(
        expected[2],
        Row {
            name: "say \"2\"".into(),
            qty: -2,
            price: Some(1000.0)
        }
    );
    for blocksize in [1u64, 9, 64, 1 << 20] {
        let b = TextFiles::paths(&paths)
            .blocksize(blocksize)
            .csv::<Row>()
            .unwrap();
        for exec in execs() {
            assert_eq!(b.compute(&*exec).unwrap(), expected, "{blocksize}");
        }
    }
    // Tuples by position, through the glob reader.
    let pattern = dir.path().join("f1.csv");
    let t = Bag::<(String, i64, String)>::read_csv(pattern.to_str().unwrap()).unwrap();
    let got = t.compute(&Sequential::new()).unwrap();
    assert_eq!(got[0], ("say \"50\"".into(), -50, "1e3".into()));
    assert_eq!(got[1], ("plain51".into(), 51, "0.5".into()));
    assert_eq!(got.len(), 3);
}

#[test]
fn csv_quoted_newlines_in_one_partition_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.csv");
    std::fs::write(&p, "name,qty,price\n\"two\nlines\",1,2\r\nnext,2,\n").unwrap();
    let rows = TextFiles::paths([&p])
        .csv::<Row>()
        .unwrap()
        .compute(&Sequential::new())
        .unwrap();
    assert_eq!(
        rows,
        vec![
            Row {
                name: "two\nlines".into(),
                qty: 1,
                price: Some(2.0)
            },
            Row {
                name: "next".into(),
                qty: 2,
                price: None
            },
        ]
    );
    // A bad record after the quoted newline: its physical line.
    std::fs::write(&p, "name,qty,price\n\"two\nlines\",1,2\nnext,x,\n").unwrap();
    parse_error_at(&TextFiles::paths([&p]).csv::<Row>().unwrap(), "q.csv", 4);
}

#[test]
fn bad_csv_records_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = csv_file(0..40);
    rows[31] = "short,1".into();
    let short = write_files(dir.path(), "s", &[rows.clone()]);
    rows[31] = "item,notanumber,1".into();
    let badnum = write_files(dir.path(), "n", &[rows.clone()]);
    rows[31] = "item,1,\"unterminated".into();
    let unterminated = write_files(dir.path(), "u", &[rows]);
    for blocksize in [10u64, 200, 1 << 20] {
        for (paths, name) in [(&short, "f0.s"), (&badnum, "f0.n")] {
            let b = TextFiles::paths(paths)
                .blocksize(blocksize)
                .csv::<Row>()
                .unwrap();
            parse_error_at(&b, name, 32);
        }
    }
    // An unterminated quote runs to the end of the file: one field too few there.
    let b = TextFiles::paths(&unterminated).csv::<Row>().unwrap();
    parse_error_at(&b, "f0.u", 32);
    // Invalid UTF-8 in a field.
    let p = dir.path().join("bin.csv");
    std::fs::write(&p, b"name,qty,price\nok,1,2\nb\xffd,1,2\n").unwrap();
    parse_error_at(&TextFiles::paths([&p]).csv::<Row>().unwrap(), "bin.csv", 3);
    // A record longer than the limit is TooLarge, not unbounded memory.
    let p = dir.path().join("long.csv");
    let long = format!("name,qty,price\n\"{}\",1,2\n", "x".repeat(5000));
    std::fs::write(&p, long).unwrap();
    let b = TextFiles::paths([&p])
        .max_line_bytes(100)
        .csv::<Row>()
        .unwrap();
    let got = b.compute(&Sequential::new()).unwrap();
    // The limit counts whole buffers, so a record a little over it may pass; far over fails.
    assert_eq!(got.len(), 1);
    let huge = format!("name,qty,price\n\"{}\",1,2\n", "x".repeat(3 << 20));
    std::fs::write(&p, huge).unwrap();
    let b = TextFiles::paths([&p])
        .max_line_bytes(100)
        .csv::<Row>()
        .unwrap();
    let err = b.compute(&Sequential::new()).unwrap_err();
    assert_eq!(err.task_cause(), Some(ErrorKind::TooLarge), "{err}");
}
