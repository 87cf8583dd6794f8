//! Bags and text files: byte-range partitions against `str::lines`, runs of whole lines
//! against the file's bytes, round trips through a temporary directory, errors, and the
//! word count against a plain `HashMap` count.

use blockwork::bag::{Bag, Counter, TextFiles, corpus, for_each_word};
use blockwork::{ErrorKind, Pool, Sequential};
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;

fn pool() -> Pool {
    Pool::builder().threads(2).pin(false).build().unwrap()
}

/// Lines as `str::lines` gives them: without `\n` or `\r\n`, no empty line after a final
/// newline.
fn std_lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn byte_ranges_cover_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "",
        "\n",
        "one line without newline",
        "a\nbb\n\nccc\r\ndddd\n",
        "x\n\n\n\ny\nlast",
        "\u{e9}t\u{e9}\nna\u{ef}ve caf\u{e9}\n\u{1f600}\n",
    ];
    let seq = Sequential::new();
    for (i, text) in texts.iter().enumerate() {
        let p = write(dir.path(), &format!("t{i}.txt"), text);
        for bs in [1, 2, 3, 5, 8, 1 << 20] {
            let b = TextFiles::paths([&p]).blocksize(bs).lines().unwrap();
            assert_eq!(
                b.compute(&seq).unwrap(),
                std_lines(text),
                "text {i}, blocksize {bs}"
            );
            let expect_parts = (text.len() as u64).div_ceil(bs).max(1) as usize;
            assert_eq!(b.npartitions(), expect_parts);
            // Runs of whole lines: the same partitions, and together the file's bytes.
            let runs = TextFiles::paths([&p]).blocksize(bs).line_blocks().unwrap();
            assert_eq!(runs.npartitions(), expect_parts);
            assert_eq!(
                runs.compute(&seq).unwrap().concat(),
                *text,
                "text {i}, blocksize {bs}"
            );
        }
    }
}

/// Each partition of `line_blocks` holds exactly the lines that the same partition of
/// `lines` holds, every run ending at a line end (or the end of the file).
#[test]
fn line_blocks_partitions_hold_the_lines_of_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = "alpha beta\ngamma\r\n\ndelta epsilon zeta\neta\ntheta iota\nkappa";
    let p = write(dir.path(), "t.txt", text);
    let seq = Sequential::new();
    for bs in [1, 4, 7, 13, 64] {
        let lines = TextFiles::paths([&p]).blocksize(bs).lines().unwrap();
        let runs = TextFiles::paths([&p]).blocksize(bs).line_blocks().unwrap();
        let want_parts = lines.compute_partitions(&seq).unwrap();
        let got_parts = runs.compute_partitions(&seq).unwrap();
        assert_eq!(got_parts.len(), want_parts.len());
        for (part, (want, got)) in want_parts.into_iter().zip(got_parts).enumerate() {
            for r in &got {
                assert!(r.ends_with('\n') || text.ends_with(r.as_str()), "{r:?}");
            }
            assert_eq!(
                std_lines(&got.concat()),
                want,
                "blocksize {bs}, partition {part}"
            );
        }
    }
}

#[test]
fn long_lines_span_read_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let long = "w".repeat(3 << 20);
    let text = format!("short\n{long}\nmid\n{long}{long}\nend");
    let p = write(dir.path(), "long.txt", &text);
    for bs in [1 << 20, 3 << 20, 64 << 20] {
        let b = TextFiles::paths([&p]).blocksize(bs).lines().unwrap();
        let got = b.compute(&pool()).unwrap();
        assert_eq!(got, std_lines(&text), "blocksize {bs}");
        let runs = TextFiles::paths([&p]).blocksize(bs).line_blocks().unwrap();
        assert_eq!(
            runs.compute(&pool()).unwrap().concat(),
            text,
            "blocksize {bs}"
        );
    }
    // A line longer than `max_line_bytes` fails in both forms, inside one read or across two.
    for max in [10, 2 << 20] {
        for runs in [false, true] {
            let t = TextFiles::paths([&p]).max_line_bytes(max);
            let b = if runs { t.line_blocks() } else { t.lines() }.unwrap();
            let e = b.compute(&Sequential::new()).unwrap_err();
            assert_eq!(
                e.task_cause(),
                Some(ErrorKind::TooLarge),
                "max {max}, runs {runs}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_ranges_match_lines(lines in prop::collection::vec("[a-c ]{0,12}", 0..40), bs in 1u64..64, trailing in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = lines.join("\n");
        if trailing && !text.is_empty() {
            text.push('\n');
        }
        let p = write(dir.path(), "p.txt", &text);
        let b = TextFiles::paths([&p]).blocksize(bs).lines().unwrap();
        prop_assert_eq!(b.compute(&Sequential::new()).unwrap(), std_lines(&text));
        prop_assert_eq!(b.count().compute(&Sequential::new()).unwrap(), std_lines(&text).len());
        let runs = TextFiles::paths([&p]).blocksize(bs).line_blocks().unwrap();
        prop_assert_eq!(runs.compute(&Sequential::new()).unwrap().concat(), text);
    }
}

#[test]
fn text_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = (0..250)
        .map(|i| format!("item {i} {}", "z".repeat(i % 17)))
        .collect();
    let p = pool();
    for n in [1, 4, 9] {
        let b = Bag::from_vec(items.clone(), n).unwrap();
        let out = dir.path().join(format!("run{n}"));
        let pattern = format!("{}/part-*.txt", out.display());
        let paths = b.to_textfiles(&pattern, &p).unwrap();
        assert_eq!(paths.len(), n);
        assert!(paths.iter().all(|f| f.exists()));
        let back = Bag::read_text(&pattern).unwrap();
        assert_eq!(back.npartitions(), n);
        assert_eq!(back.compute(&p).unwrap(), items);
        // Without a `*` the path is a directory of `i.part` files.
        let d = dir.path().join(format!("dir{n}"));
        let paths = b
            .map(|s| s.len())
            .to_textfiles(d.to_str().unwrap(), &p)
            .unwrap();
        assert_eq!(paths[0], d.join("0.part"));
        let lens: Vec<usize> = TextFiles::paths(paths)
            .lines()
            .unwrap()
            .map(|s| s.parse().unwrap())
            .compute(&p)
            .unwrap();
        assert_eq!(lens, items.iter().map(String::len).collect::<Vec<_>>());
    }
}

#[test]
fn text_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let none = format!("{}/*.nothing", dir.path().display());
    assert_eq!(
        Bag::read_text(&none).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        Bag::read_text("[").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let missing = TextFiles::paths([dir.path().join("missing.txt")]).lines();
    assert_eq!(missing.unwrap_err().kind(), ErrorKind::Io);
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"fine\n\xff\xfe\n").unwrap();
    // Both readers fail the partition, naming the line holding the bad byte (at byte 5).
    for runs in [false, true] {
        let t = TextFiles::paths([&bad]);
        let b = if runs { t.line_blocks() } else { t.lines() }.unwrap();
        let e = b.compute(&Sequential::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TaskFailed);
        assert!(e.to_string().contains("UTF-8 in the line at byte 5"), "{e}");
    }
    // A bad line fails only the partition that owns it.
    let split = dir.path().join("split.txt");
    std::fs::write(&split, b"good line\nmore good\n\xff bad\n").unwrap();
    let b = TextFiles::paths([&split]).blocksize(10).lines().unwrap();
    assert_eq!(
        b.take(2, &Sequential::new()).unwrap(),
        vec!["good line", "more good"]
    );
    assert_eq!(
        b.count().compute(&Sequential::new()).unwrap_err().kind(),
        ErrorKind::TaskFailed
    );
    // A file removed after the bag was made fails its task, not the process.
    let gone = write(dir.path(), "gone.txt", "x\n");
    let b = TextFiles::paths([&gone]).lines().unwrap();
    std::fs::remove_file(&gone).unwrap();
    assert_eq!(
        b.compute(&pool()).unwrap_err().kind(),
        ErrorKind::TaskFailed
    );
    let b = Bag::from_vec(vec![1, 2, 3], 3).unwrap();
    let paths = [dir.path().join("only-one")];
    assert_eq!(
        b.to_textfiles_at(&paths, &pool()).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn word_count_matches_hashmap() {
    let dir = tempfile::tempdir().unwrap();
    let files = corpus::generate(dir.path(), 300_000, 4, corpus::SEED).unwrap();
    let mut want: HashMap<String, usize> = HashMap::new();
    for f in &files {
        for w in std::fs::read_to_string(f).unwrap().split_whitespace() {
            *want.entry(w.to_owned()).or_default() += 1;
        }
    }
    let mut want_top: Vec<(String, usize)> = want.clone().into_iter().collect();
    want_top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let pattern = format!("{}/*.txt", dir.path().display());
    let p = pool();
    for bs in [50_000, 1 << 20] {
        let lines = TextFiles::glob(&pattern)
            .unwrap()
            .blocksize(bs)
            .lines()
            .unwrap();
        let counts = lines.frequencies_by(|l: &String, words: &mut Counter<str>| {
            l.split_ascii_whitespace().for_each(|w| words.add(w))
        });
        let got: HashMap<String, usize> = counts.compute(&p).unwrap().into_iter().collect();
        assert_eq!(got, want);
        // The generic path (a String per word) agrees.
        let words = lines.flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
        let got: HashMap<String, usize> = words
            .frequencies()
            .compute(&p)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(got, want);
        // Top ten by count; the counts of the top words are distinct at this size.
        let top = counts.topk(10, |(_, c)| *c).compute(&p).unwrap();
        let counts_only: Vec<usize> = top.iter().map(|(_, c)| *c).collect();
        assert_eq!(
            counts_only,
            want_top[..10].iter().map(|(_, c)| *c).collect::<Vec<_>>()
        );
        for (w, c) in &top {
            assert_eq!(want[w], *c);
        }
        // Runs of lines split by `for_each_word`, counted as byte slices, agree.
        let runs = TextFiles::glob(&pattern)
            .unwrap()
            .blocksize(bs)
            .line_blocks()
            .unwrap();
        let counts = runs.frequencies_by(|t: &String, words: &mut Counter<[u8]>| {
            for_each_word(t.as_bytes(), |w| words.add(w))
        });
        let got: HashMap<String, usize> = counts
            .compute(&p)
            .unwrap()
            .into_iter()
            .map(|(w, c)| (String::from_utf8(w).unwrap(), c))
            .collect();
        assert_eq!(got, want);
    }
    // The benchmark's own word count.
    let top = corpus::top_words(&pattern, 10, &p).unwrap();
    assert_eq!(top.len(), 10);
    for (i, (w, c)) in top.iter().enumerate() {
        assert_eq!((want[w], *c), (want_top[i].1, want_top[i].1), "{w}");
    }
}

#[test]
fn corpus_is_deterministic_and_zipfian() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let a = corpus::generate(d1.path(), 100_000, 3, 7).unwrap();
    let b = corpus::generate(d2.path(), 100_000, 3, 7).unwrap();
    let total: u64 = a.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!((100_000..100_000 + 3 * 200).contains(&total), "{total}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
    }
    let c = corpus::generate(d2.path(), 100_000, 3, 8).unwrap();
    assert_ne!(std::fs::read(&a[0]).unwrap(), std::fs::read(&c[0]).unwrap());
    // The most frequent word is the vocabulary's first, and about twice as frequent as the
    // second (Zipf with exponent 1).
    let vocab = corpus::Vocabulary::new(corpus::VOCABULARY, 7);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let text: String = a
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for w in text.split_whitespace() {
        *counts.entry(w).or_default() += 1;
    }
    let (c0, c1) = (
        counts[vocab.words()[0].as_str()],
        counts[vocab.words()[1].as_str()],
    );
    assert!(counts.values().all(|&c| c <= c0));
    let ratio = c0 as f64 / c1 as f64;
    assert!((1.6..2.5).contains(&ratio), "{ratio}");
    assert_eq!(
        corpus::generate(d1.path(), 10, 0, 1).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn a_failing_partition_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    // Partition 1 fails at its third element, after two lines were written.
    let b = Bag::from_vec((0..9i64).collect(), 3).unwrap().try_map(|x| {
        if x == 5 {
            Err(blockwork::TaskError::new("element 5 is bad"))
        } else {
            Ok(x)
        }
    });
    let pattern = dir.path().join("out-*.txt");
    // An older file at the failing partition's path stays as it was.
    let older = dir.path().join("out-1.txt");
    std::fs::write(&older, "older\n").unwrap();
    for exec in [&Sequential::new() as &dyn blockwork::Executor, &pool()] {
        let err = b.to_textfiles(pattern.to_str().unwrap(), exec).unwrap_err();
        assert!(err.to_string().contains("out-1.txt"), "{err}");
        assert_eq!(std::fs::read_to_string(&older).unwrap(), "older\n");
        // Nothing but complete parts: no temporary files left behind.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for n in &names {
            assert!(n.starts_with("out-") && n.ends_with(".txt"), "{names:?}");
        }
        // Partitions that succeeded are whole.
        if let Ok(text) = std::fs::read_to_string(dir.path().join("out-0.txt")) {
            assert_eq!(text, "0\n1\n2\n");
        }
    }
}

#[test]
fn files_that_report_size_zero_are_read_to_the_end() {
    let path = Path::new("/proc/self/status");
    if !path.exists() {
        return; // no procfs here
    }
    assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
    let b = TextFiles::paths([path]).lines().unwrap();
    let lines = b.compute(&Sequential::new()).unwrap();
    // Reference: the file as std reads it (the fields are stable within one process).
    let expected = std_lines(&std::fs::read_to_string(path).unwrap());
    assert_eq!(lines.len(), expected.len());
    assert!(!lines.is_empty());
    assert!(lines.iter().any(|l| l.starts_with("Name:")), "{lines:?}");
    // An empty regular file is still empty.
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.txt", "");
    let b = TextFiles::paths([empty]).lines().unwrap();
    assert!(b.compute(&Sequential::new()).unwrap().is_empty());
}
