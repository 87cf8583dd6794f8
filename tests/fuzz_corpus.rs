//! Replays the committed fuzz corpora and every crash the fuzzers found through the same
//! checks the fuzz targets run (`fuzz/README.md` says how to run the fuzzers themselves).

use std::path::PathBuf;

fn inputs(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn spec_json_corpus() {
    let corpus = inputs("fuzz/corpus/spec_json");
    assert!(corpus.len() >= 5, "the seed corpus is committed");
    for (path, bytes) in corpus {
        eprintln!("{}", path.display());
        blockwork::spec::fuzz_spec_json(&bytes);
    }
}

#[test]
fn spec_json_regressions() {
    for (path, bytes) in inputs("fuzz/regressions/spec_json") {
        eprintln!("{}", path.display());
        blockwork::spec::fuzz_spec_json(&bytes);
    }
}

#[test]
fn dag_differential_corpus() {
    let corpus = inputs("fuzz/corpus/dag_differential");
    assert!(corpus.len() >= 5, "the seed corpus is committed");
    for (path, bytes) in corpus {
        eprintln!("{}", path.display());
        blockwork::testing::fuzz_dag_differential(&bytes);
    }
}

#[test]
fn array_index_corpus() {
    let corpus = inputs("fuzz/corpus/array_index");
    assert!(corpus.len() >= 5, "the seed corpus is committed");
    for (path, bytes) in corpus {
        eprintln!("{}", path.display());
        blockwork::array::fuzz_array_index(&bytes);
    }
}

#[test]
fn array_index_regressions() {
    for (path, bytes) in inputs("fuzz/regressions/array_index") {
        eprintln!("{}", path.display());
        blockwork::array::fuzz_array_index(&bytes);
    }
}

#[test]
fn spec_budget_corpus() {
    let corpus = inputs("fuzz/corpus/spec_budget");
    assert!(corpus.len() >= 5, "the seed corpus is committed");
    for (path, bytes) in corpus {
        eprintln!("{}", path.display());
        blockwork::spec::fuzz_spec_budget(&bytes);
    }
}

#[test]
fn spec_budget_regressions() {
    for (path, bytes) in inputs("fuzz/regressions/spec_budget") {
        eprintln!("{}", path.display());
        blockwork::spec::fuzz_spec_budget(&bytes);
    }
}

#[test]
fn array_shapes_corpus() {
    let corpus = inputs("fuzz/corpus/array_shapes");
    assert!(corpus.len() >= 10, "the seed corpus is committed");
    for (path, bytes) in corpus {
        eprintln!("{}", path.display());
        blockwork::array::fuzz_array_shapes(&bytes);
    }
}

#[test]
fn array_shapes_regressions() {
    for (path, bytes) in inputs("fuzz/regressions/array_shapes") {
        eprintln!("{}", path.display());
        blockwork::array::fuzz_array_shapes(&bytes);
    }
}
