//! The layering of the library, checked on its source: each module names only the modules
//! below it (`crate::...` paths, and `super::...` paths that leave the module).
//!
//! Layers: `key`, `value` and `error` are leaves; `graph` holds specifications; `plan` interns
//! them; `exec` runs plans; the collections (`array`, `bag`), `spec`, `diagnostics`,
//! `bench_shapes` and `testing` sit on top. The command-line tool (`src/main.rs`, `src/cli/`)
//! uses the library, never the other way round.
//!
//! Inside `array`, the kernels (`src/array/kernels/`) fill block buffers and build no graphs:
//! they name neither the graph layers nor the array modules that decide tasks and keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Modules above the core layers.
const UPPER: &[&str] = &[
    "array",
    "bag",
    "distributed",
    "spec",
    "diagnostics",
    "bench_shapes",
    "testing",
];

/// The modules `module` must not name.
fn forbidden(module: &str) -> Vec<&'static str> {
    let mut f: Vec<&'static str> = match module {
        "key" | "value" | "error" => vec!["graph", "plan", "exec"],
        "graph" => vec!["plan", "exec"],
        "plan" => vec!["exec"],
        "exec" => vec![],
        "bench_shapes" => vec!["spec"],
        _ => return vec!["cli"],
    };
    if module != "bench_shapes" {
        f.extend(UPPER);
    }
    f.push("cli");
    f
}

/// Known violations, to be removed: (file, module it names). Nothing else is allowed, and an
/// entry here whose import has gone is reported so that it can be deleted.
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `.rs` files below `dir`, in path order.
fn sorted_rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files.sort();
    files
}

/// The module path of a source file under `src/` (`graph/op.rs` is `["graph", "op"]`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segments of the paths that follow `crate::` in `code`, including each
/// top-level item of a `crate::{a, b::c}` group.
fn crate_paths(code: &str, prefix: &str, out: &mut BTreeSet<String>) {
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut at_item = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_item = true,
                    c if c.is_whitespace() => {}
                    _ if at_item => {
                        out.insert(ident_at(&group[j..]).to_owned());
                        at_item = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident_at(rest).to_owned());
        }
    }
}

/// `code` with its line comments (doc comments included) cut off.
fn without_comments(code: &str) -> String {
    code.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names, for a file whose module path is `path`.
fn named_modules(code: &str, path: &[String]) -> BTreeSet<String> {
    let code = without_comments(code);
    let mut out = BTreeSet::new();
    crate_paths(&code, "crate::", &mut out);
    // `super::x` from a file directly under the root names the root's `x`.
    if path.len() == 1 {
        crate_paths(&code, "super::", &mut out);
    }
    out
}

#[test]
fn modules_name_only_the_layers_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sorted_rust_files(&root.join("src"));
    assert!(files.len() > 20, "the sources are found");
    let mut violations = Vec::new();
    let mut seen_exceptions = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(root.join("src")).unwrap();
        let shown = format!("src/{}", rel.display());
        let path = module_path(rel);
        let Some(top) = path.first() else { continue };
        // The command-line tool is a client of the library.
        if top == "cli" || rel == Path::new("main.rs") {
            continue;
        }
        let code = std::fs::read_to_string(file).unwrap();
        let named = named_modules(&code, &path);
        for bad in forbidden(top) {
            if !named.contains(bad) {
                continue;
            }
            if KNOWN_EXCEPTIONS.contains(&(shown.as_str(), bad)) {
                seen_exceptions.insert((shown.clone(), bad));
            } else {
                violations.push(format!("{shown} ({top}) names `{bad}`"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layering:\n  {}",
        violations.join("\n  ")
    );
    for &(file, module) in KNOWN_EXCEPTIONS {
        if !seen_exceptions.contains(&(file.to_owned(), module)) {
            eprintln!("note: {file} no longer names `{module}`; delete its KNOWN_EXCEPTIONS entry");
        }
    }
}

/// Array modules the kernels may name: element types, grid arithmetic, the expression trees
/// they evaluate, the buffer pool they take output storage from (which names only element
/// types), and each other. Every other array module builds graphs (which tasks, which keys)
/// and calls the kernels from its ops, not the other way round.
const KERNELS_MAY_NAME: &[&str] = &["kernels", "dtype", "grid", "expr", "pool"];

/// Crate modules the kernels must not name: keys, graphs and what runs them.
const KERNELS_MUST_NOT_NAME: &[&str] = &["key", "graph", "plan", "exec"];

/// The array modules `code` names, for a file whose module path is `path` (under
/// `array::kernels`): `crate::array::x`, and `super` paths that leave the kernels.
fn named_array_modules(code: &str, path: &[String]) -> BTreeSet<String> {
    let code = without_comments(code);
    let mut out = BTreeSet::new();
    crate_paths(&code, "crate::array::", &mut out);
    let to_array = if path.len() == 2 {
        "super::"
    } else {
        "super::super::"
    };
    crate_paths(&code, to_array, &mut out);
    out.remove("super");
    out
}

#[test]
fn kernels_build_no_graphs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sorted_rust_files(&root.join("src/array/kernels"));
    assert!(files.len() >= 8, "the kernels are found");
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root.join("src")).unwrap();
        let shown = format!("src/{}", rel.display());
        let path = module_path(rel);
        let code = std::fs::read_to_string(file).unwrap();
        for m in named_modules(&code, &path) {
            if KERNELS_MUST_NOT_NAME.contains(&m.as_str()) {
                violations.push(format!("{shown} names `{m}`"));
            }
        }
        for m in named_array_modules(&code, &path) {
            if !KERNELS_MAY_NAME.contains(&m.as_str()) {
                violations.push(format!("{shown} names `array::{m}`"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "kernels naming graph construction:\n  {}",
        violations.join("\n  ")
    );
    // The scanner sees both ways out of the kernels.
    let eval = ["array".to_owned(), "kernels".to_owned(), "eval".to_owned()];
    let named = named_array_modules(
        "use super::ops::Val;\nuse super::super::linalg::x;\nuse crate::array::{dtype::D, Array};",
        &eval,
    );
    let want: BTreeSet<String> = ["linalg", "dtype", "Array"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(named, want);
}

/// The scanner itself: it sees grouped, nested and `super` paths, and skips comments and
/// longer names that merely end in `crate`.
#[test]
fn the_scanner_sees_every_form_of_path() {
    let code = "use crate::{exec::Pool, plan::{Plan, TaskId}};\n\
                use super::spec::Spec; // crate::bag in a comment\n\
                fn f() { crate::array::zeros(); notcrate::diagnostics::x(); }";
    let named = named_modules(code, &["graph".to_owned()]);
    let want: BTreeSet<String> = ["exec", "plan", "spec", "array"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(named, want);
    // Deeper files' `super` stays inside their own module.
    assert!(named_modules("use super::spec;", &["graph".into(), "op".into()]).is_empty());
    assert_eq!(
        module_path(Path::new("graph/optimize/mod.rs")),
        ["graph", "optimize"]
    );
}
