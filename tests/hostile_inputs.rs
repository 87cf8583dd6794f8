//! Open reproductions: hostile inputs that still get past the value budget, the "no hang"
//! rule, memory bounds or the atomic-write rule. Each test states what the contract asks for
//! and fails today; each is ignored until its fix lands, then the `#[ignore]` goes. Run them
//! with `cargo test --release --test hostile_inputs -- --ignored` (some take seconds and up to
//! a few GB; the heavy ones say so). Spec files run the `blockwork` binary with a timeout.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `blockwork run SPEC ARGS...`; `None` if it has not finished after `secs` seconds
/// (the child is killed).
fn run_spec(spec: &str, args: &[&str], secs: u64) -> Option<Run> {
    let dir = std::env::temp_dir().join(format!("bw-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.json", fxhash(spec)));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(spec.as_bytes())
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_blockwork"))
        .arg("run")
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output().unwrap();
        let _ = tx.send(Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(r) => Some(r),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            None
        }
    }
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn compute_zeros(side: usize) -> String {
    format!(
        r#"{{"op": "array.compute", "args": [{{"op": "array.zeros", "args": [[{side}, {side}], {side}]}}]}}"#
    )
}

/// `array.compute` builds its nested list without looking at `--max-value-bytes`: a value of
/// a million elements (24 MB by the budget's measure) exists under a 1000-byte budget, and
/// `len` reports success. Expected: `TooLarge`, exit 2.
#[test]
fn array_compute_ignores_max_value_bytes() {
    let spec = format!(
        r#"{{"nodes": {{"o": {{"op": "len", "args": [{}]}}}}}}"#,
        compute_zeros(1000)
    );
    let r = run_spec(&spec, &["--max-value-bytes", "1000"], 60).expect("hung");
    assert_eq!(
        r.code,
        Some(2),
        "a 1e6-element value under a 1000-byte budget: stdout {} stderr {}",
        r.stdout,
        r.stderr
    );
}

/// `list` checks only its own slots (24 bytes per argument), not the values inside: a list of
/// computed arrays is far over the budget and still succeeds. Expected: `TooLarge`, exit 2.
#[test]
fn list_checks_only_its_shallow_size() {
    let spec = format!(
        r#"{{"nodes": {{"o": {{"op": "len", "args": [{{"op": "list", "args": [{c}, {c}, {c}]}}]}}}}}}"#,
        c = compute_zeros(100)
    );
    let r = run_spec(&spec, &["--max-value-bytes", "1000"], 60).expect("hung");
    assert_eq!(
        r.code,
        Some(2),
        "3 x 10_000 elements under a 1000-byte budget: stdout {} stderr {}",
        r.stdout,
        r.stderr
    );
}

/// The same hole at the default budget: a 400-byte spec, `len(list(compute(4096^2) x 4))`,
/// peaks at about 2.2 GB of RSS and exits 0 (measured with `/usr/bin/time -v`); with 16
/// arguments it would be about 9 GB. Heavy, so ignored by default; run with
/// `cargo test --release --test hostile_inputs -- --ignored`. Now `list` refuses the
/// result (exit 2), after its four arguments, each within the budget, were computed: the
/// budget bounds each value, not a task's arguments together. The cheap sibling is
/// `list_of_values_each_within_the_budget_is_refused`.
#[test]
#[ignore = "heavy: about 2 GB and seconds"]
fn list_of_computes_exceeds_a_gigabyte() {
    let c = r#"{"op": "array.compute", "args": [{"op": "array.zeros", "args": [[4096, 4096], [4096, 4096]]}]}"#;
    let spec = format!(
        r#"{{"nodes": {{"o": {{"op": "len", "args": [{{"op": "list", "args": [{c}, {c}, {c}, {c}]}}]}}}}}}"#
    );
    let dir = std::env::temp_dir();
    let path = dir.join(format!("bw-hostile-list4-{}.json", std::process::id()));
    std::fs::write(&path, spec).unwrap();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_blockwork"))
        .arg("run")
        .arg(&path)
        .args(["--threads", "1"])
        .output()
        .expect("/usr/bin/time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        out.status.code() == Some(2) || kb < 1_100_000,
        "exit {:?}, peak RSS {kb} kB",
        out.status.code()
    );
}

/// Runs `spec` under a 1000-byte value budget and checks that it exits with code 2.
fn refused_under_1000_bytes(what: &str, spec: &str) -> Run {
    let r = run_spec(spec, &["--max-value-bytes", "1000"], 60).expect("hung");
    assert_eq!(
        r.code,
        Some(2),
        "{what}: stdout {} stderr {}",
        r.stdout,
        r.stderr
    );
    r
}

/// Three values of 504 bytes each (a 4 x 4 array as nested lists) are each within a
/// 1000-byte budget; `list`, `concat`, and an argument list passed on by `identity` or
/// `getitem`, make one value of about 1500 bytes of them, which is over it. One value alone
/// is fine.
#[test]
fn list_of_values_each_within_the_budget_is_refused() {
    let c = compute_zeros(4);
    let len_of =
        |inner: String| format!(r#"{{"nodes": {{"o": {{"op": "len", "args": [{inner}]}}}}}}"#);
    for (what, spec) in [
        (
            "list",
            len_of(format!(r#"{{"op": "list", "args": [{c}, {c}, {c}]}}"#)),
        ),
        (
            "concat",
            len_of(format!(
                r#"{{"op": "concat", "args": [[{c}], [{c}], [{c}]]}}"#
            )),
        ),
        (
            "identity",
            len_of(format!(
                r#"{{"op": "identity", "args": [[{c}, {c}, {c}]]}}"#
            )),
        ),
        (
            "getitem",
            len_of(format!(
                r#"{{"op": "getitem", "args": [[[{c}, {c}, {c}]], 0]}}"#
            )),
        ),
    ] {
        let r = refused_under_1000_bytes(what, &spec);
        assert!(r.stderr.contains("TooLarge"), "{what}: {}", r.stderr);
    }
    let one = len_of(format!(r#"{{"op": "list", "args": [{c}]}}"#));
    let r = run_spec(&one, &["--max-value-bytes", "1000"], 60).expect("hung");
    assert_eq!(r.code, Some(0), "one value: {}", r.stderr);
    assert!(r.stdout.contains(r#""o": 1"#), "{}", r.stdout);
}

/// The cheap sibling of `matmul_of_two_tiny_recipes_takes_gigabytes`: a 4 x 4 product of
/// single-block f64 operands holds three blocks of 128 bytes at once; a 300-byte budget
/// refuses it before it runs, a 400-byte one computes it (every element is 4).
#[test]
fn matmul_over_the_value_budget_is_refused() {
    let spec = r#"{"nodes": {"o": {"op": "array.compute", "args": [{"op": "array.sum", "args": [
        {"op": "array.matmul", "args": [{"op": "array.ones", "args": [[4, 4], 4]},
                                        {"op": "array.ones", "args": [[4, 4], 4]}]}]}]}}}"#;
    let r = run_spec(spec, &["--max-value-bytes", "300"], 60).expect("hung");
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("block product"), "{}", r.stderr);
    let r = run_spec(spec, &["--max-value-bytes", "400"], 60).expect("hung");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains(r#""o": 64"#), "{}", r.stdout);
}

/// Every output is measured on its own: one value just under the budget, named by 1000
/// aliases, prints 1000 times the budget (the output grows with the alias count, not with
/// anything the budget sees). Expected: the run's output as a whole is bounded (exit 2).
#[test]
fn aliases_multiply_printed_output_past_the_budget() {
    let budget = 10_000usize;
    let mut nodes = vec![format!(
        r#""s": {{"op": "str_concat", "args": ["{}"]}}"#,
        "x".repeat(budget - 100)
    )];
    let outputs: Vec<String> = (0..1000).map(|i| format!("\"a{i}\"")).collect();
    for i in 0..1000 {
        nodes.push(format!(r#""a{i}": {{"alias": "s"}}"#));
    }
    let spec = format!(
        r#"{{"nodes": {{{}}}, "outputs": [{}]}}"#,
        nodes.join(", "),
        outputs.join(", ")
    );
    let r = run_spec(&spec, &["--max-value-bytes", &budget.to_string()], 60).expect("hung");
    assert!(
        r.code == Some(2) || r.stdout.len() <= 10 * budget,
        "exit {:?}, printed {} bytes under a budget of {budget}",
        r.code,
        r.stdout.len()
    );
}

/// `sleep` and `spin` took any non-negative i64 of nanoseconds: a one-line spec ran for 292
/// years. They wait at most one minute; more is a failing task (exit 1), not a hang.
#[test]
fn sleep_and_spin_of_i64_max_are_refused() {
    for op in ["sleep", "spin"] {
        let spec =
            format!(r#"{{"nodes": {{"o": {{"op": "{op}", "args": [9223372036854775807]}}}}}}"#);
        let r = run_spec(&spec, &[], 10);
        let r = r.unwrap_or_else(|| panic!("{op}(i64::MAX) still running after 10 s"));
        assert_eq!(r.code, Some(1), "{op}: {}", r.stderr);
        assert!(r.stderr.contains("one minute"), "{op}: {}", r.stderr);
    }
}

/// `pow` of ints checks overflow by the exponent alone: `1 ** big`, `0 ** big` and
/// `(-1) ** big` fail with "integer overflow" although the answers (1, 0, -1) fit.
#[test]
fn pow_of_small_bases_with_huge_exponents() {
    for (base, want) in [(1, "1"), (0, "0"), (-1, "-1")] {
        let spec = format!(
            r#"{{"nodes": {{"o": {{"op": "pow", "args": [{base}, 9223372036854775807]}}}}}}"#
        );
        let r = run_spec(&spec, &[], 20).expect("hung");
        assert_eq!(r.code, Some(0), "pow({base}, i64::MAX): {}", r.stderr);
        assert!(r.stdout.contains(&format!("\"o\": {want}")), "{}", r.stdout);
    }
}

/// Peak-RSS check of a CLI run: `blockwork run SPEC --threads 1` under `/usr/bin/time`; returns
/// (exit code, peak RSS in kB).
fn peak_rss_of_run(spec: &str, tag: &str) -> (Option<i32>, u64) {
    let path = std::env::temp_dir().join(format!("bw-hostile-{tag}-{}.json", std::process::id()));
    std::fs::write(&path, spec).unwrap();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_blockwork"))
        .arg("run")
        .arg(&path)
        .args(["--threads", "1"])
        .output()
        .expect("/usr/bin/time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    (out.status.code(), kb)
}

/// A block may hold `MAX_BLOCK_ELEMENTS` (2^27) elements, 1 GiB of f64, and `matmul` holds
/// all the blocks of a row of its operands at once: `ones([k, 2^27]) @ ones([2^27, k])` in
/// blocks of one row needs about (k + 1) GiB for a k x k result. Measured: k = 1 2.1 GB,
/// k = 2 3.1 GB, k = 4 5.3 GB (exit 0 each); k = 16 would need ~17 GB. Expected: a typed
/// `TooLarge` (or a bounded working set). `array.matmul` now refuses, before anything runs,
/// a product whose output block and largest operand blocks are over the value budget.
#[test]
fn matmul_of_two_tiny_recipes_takes_gigabytes() {
    let spec = r#"{"nodes": {"o": {"op": "array.compute", "args": [{"op": "array.matmul", "args": [
        {"op": "array.ones", "args": [[2, 134217728], [1, 134217728]]},
        {"op": "array.ones", "args": [[134217728, 2], [134217728, 1]]}]}]}}}"#;
    let (code, kb) = peak_rss_of_run(spec, "matmul");
    assert!(
        code == Some(2) || kb < 1_100_000,
        "exit {code:?}, peak RSS {kb} kB"
    );
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` in a thread; `None` if it takes more than `secs`. In the child process of
/// `in_child`, exits with code 3 once RSS passes 1.5 GB.
fn watched<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let start = std::time::Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(v) => return Some(v),
            Err(_) if start.elapsed() > Duration::from_secs(secs) => return None,
            Err(_) => {
                if std::env::var_os("BW_HOSTILE_CHILD").is_some() && rss_kb() > 1_500_000 {
                    eprintln!("RSS over 1.5 GB after {:?}", start.elapsed());
                    std::process::exit(3);
                }
            }
        }
    }
}

/// Runs this test binary's test `name` again in a child process (so that a memory blow-up
/// cannot take the test run with it); returns its exit code and stderr.
fn in_child(name: &str) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env("BW_HOSTILE_CHILD", std::process::id().to_string())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `read_text` reads a file whose size is 0 to its end (for procfs); `/dev/zero` has size 0
/// and no end, and no newline: one line grows without bound (1.6 GB in 1.4 s, then on until
/// the allocator fails). Expected: a typed error (a cap on a line or on a size-0 file), as
/// `blockwork run` caps a spec read from `/dev/zero`.
#[test]
fn read_text_of_dev_zero_grows_without_bound() {
    if std::env::var_os("BW_HOSTILE_CHILD").is_some() {
        let r = watched(60, || {
            blockwork::bag::TextFiles::paths(["/dev/zero"])
                .lines()
                .and_then(|b| b.count().compute(&blockwork::Sequential::new()))
        });
        match r {
            Some(Ok(n)) => panic!("read_text(/dev/zero) counted {n} lines"),
            Some(Err(e)) => eprintln!("typed error: {e}"),
            None => panic!("read_text(/dev/zero) still running after 60 s"),
        }
        return;
    }
    let (code, stderr) = in_child("read_text_of_dev_zero_grows_without_bound");
    assert_eq!(code, Some(0), "child: {stderr}");
}

/// `read_text` of a FIFO that no one writes blocks in `open` forever (its size is 0, so it is
/// read "to its end"). Expected: a typed error for a file that is not a regular file (or
/// documented as a hang, as `cat` would).
#[test]
fn read_text_of_a_fifo_hangs() {
    let dir = std::env::temp_dir().join(format!("bw-hostile-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let _ = std::fs::remove_file(&fifo);
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success());
    if ok.ok() != Some(true) {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let p = fifo.clone();
    let r = watched(10, move || {
        blockwork::bag::TextFiles::paths([p])
            .lines()
            .and_then(|b| b.count().compute(&blockwork::Sequential::new()))
            .map_err(|e| e.to_string())
    });
    // Unblock the reader (if it is stuck in open) so the thread can end. Non-blocking: with
    // no reader at all a plain open for writing would block this thread instead.
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(0o4000) // O_NONBLOCK
            .open(&fifo);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let r = r.expect("read_text of a FIFO with no writer still blocked after 10 s");
    let e = r.expect_err("a FIFO read as text");
    assert!(e.contains("not a regular file"), "{e}");
}

/// Writes a `.npy` header for `shape` and extends the file (sparsely) by `data_len` bytes.
fn sparse_npy(path: &std::path::Path, descr: &str, shape: &str, data_len: u64) {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(h.len() as u16).to_le_bytes()).unwrap();
    f.write_all(h.as_bytes()).unwrap();
    f.set_len(10 + h.len() as u64 + data_len).unwrap();
}

/// `from_npy` plans one positioned read per contiguous run of a block and keeps the runs in
/// a `Vec<(usize, usize, usize)>`: a block that is one column of a C-order file has one run
/// per element, 24 bytes each. A (sparse) 256 MB bool file of shape (2^27, 2) read in blocks
/// of one column: RSS passes 1.5 GB in 3.6 s (the run list heads for 3.2 GB for a 128 MB
/// block), then 2^27 one-byte reads. Expected: bounded bookkeeping (iterate the runs) and
/// reads that are not one syscall per element. Now the runs are an iterator and runs a few
/// bytes apart are read together, up to 1 MiB a read.
#[test]
#[ignore = "heavy: 2^28 elements of a 256 MB file, about 10 s; the cheap sibling is the \
            `runs_are_planned_lazily` unit test of `array::npy`"]
fn from_npy_by_columns_plans_24_bytes_per_element() {
    if std::env::var_os("BW_HOSTILE_CHILD").is_some() {
        let parent = std::env::var("BW_HOSTILE_CHILD").unwrap();
        let path = std::env::temp_dir().join(format!("bw-hostile-cols-{parent}.npy"));
        sparse_npy(&path, "|b1", "(134217728, 2)", 1 << 28);
        let p = path.clone();
        let r = watched(120, move || {
            blockwork::array::ArrayContext::new()
                .from_npy(&p, vec![134_217_728usize, 1])
                .and_then(|a| a.sum(None))
                .and_then(|a| a.compute_scalar(&blockwork::Sequential::new()))
                .map(|s| format!("{s:?}"))
        });
        let _ = std::fs::remove_file(&path);
        assert!(r.is_some(), "still running after 120 s");
        return;
    }
    let (code, stderr) = in_child("from_npy_by_columns_plans_24_bytes_per_element");
    // Clean up after a child that exited on the watchdog.
    let _ = std::fs::remove_file(
        std::env::temp_dir().join(format!("bw-hostile-cols-{}.npy", std::process::id())),
    );
    assert_eq!(code, Some(0), "child: {stderr}");
}

/// `array.matmul` of two arrays of 2^16 blocks (each well under `MAX_BLOCKS`) builds one task
/// per block product, 256^3 = 2^24 of them at about 400 bytes each: `sum(ones([256,256],1) @
/// ones([256,256],1))` needs about 6.6 GB (measured: 128^3 products, 836 MB; 256^3 under
/// `ulimit -v 3000000` aborts with "memory allocation failed", SIGABRT). With 1024-sided
/// operands it would be 2^30 tasks. Expected: `TooLarge` for a product of over `MAX_BLOCKS`
/// block pairs (or a tree that is not cubic in tasks). Runs under `ulimit -v` 1.5 GB.
#[test]
fn matmul_task_count_is_cubic_in_blocks() {
    let spec = r#"{"nodes": {"o": {"op": "array.compute", "args": [{"op": "array.sum", "args": [
        {"op": "array.matmul", "args": [{"op": "array.ones", "args": [[256, 256], 1]},
                                        {"op": "array.ones", "args": [[256, 256], 1]}]}]}]}}}"#;
    let path = std::env::temp_dir().join(format!("bw-hostile-mm-{}.json", std::process::id()));
    std::fs::write(&path, spec).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1500000; exec timeout 120 "$0" run "$1" --threads 1"#)
        .arg(env!("CARGO_BIN_EXE_blockwork"))
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "status {:?} (a signal: aborted): {}",
        out.status,
        stderr.lines().take(3).collect::<Vec<_>>().join(" / ")
    );
}

/// `bench --n` accepted up to 1e8 tasks, but a task costs about 390 bytes of RSS:
/// `bench --workload independent --n 4e6 --sequential` peaks at 1.56 GB (10 s), so the
/// largest accepted n needed about 39 GB. Now an `--n` whose estimate (400 bytes a task) is
/// over MemAvailable is refused (exit 2) before anything is built. This measures that the
/// estimate is not below what a run takes; heavy (1.6 GB, seconds), so ignored by default;
/// the cheap sibling is `bench_refuses_an_n_over_the_available_memory`.
#[test]
#[ignore = "heavy: 1.6 GB and about 10 s"]
fn bench_n_limit_allows_tens_of_gigabytes() {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_blockwork"))
        .args([
            "bench",
            "--workload",
            "independent",
            "--n",
            "4e6",
            "--sequential",
        ])
        .output()
        .expect("/usr/bin/time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    if out.status.code() == Some(2) {
        // Refused: this machine has less than the estimate available.
        assert!(stderr.contains("MemAvailable"), "{stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        kb * 1024 <= 4_000_000 * 400,
        "peak RSS {kb} kB at n = 4e6 is over the estimate of 400 bytes a task"
    );
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// `bench --n 1e8` (about 40 GB by the estimate of 400 bytes a task) is refused at once on
/// a machine with less available, and an `--n` within it runs.
#[test]
fn bench_refuses_an_n_over_the_available_memory() {
    let bench = |n: &str| {
        Command::new(env!("CARGO_BIN_EXE_blockwork"))
            .args([
                "bench",
                "--workload",
                "independent",
                "--n",
                n,
                "--sequential",
            ])
            .output()
            .unwrap()
    };
    let Some(have) = mem_available() else {
        eprintln!("no /proc/meminfo; skipped");
        return;
    };
    if have >= 100_000_000 * 400 {
        eprintln!("{have} bytes available: 1e8 tasks fit; skipped");
        return;
    }
    let start = std::time::Instant::now();
    let out = bench("1e8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("MemAvailable"), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "refused only after {:?}",
        start.elapsed()
    );
    let out = bench("1000");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("bw-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `to_npy` wrote a temporary and renamed it over the path whatever the path was: a FIFO (or
/// a device: as root, `to_npy("/dev/null")` left `/dev/null` a regular file) was replaced by a
/// regular file, and a symlink was replaced instead of written through. Now a path that exists
/// and is not a regular file is a typed error, and symlinks are written through.
#[test]
fn to_npy_refuses_fifos() {
    use blockwork::array::{ArrayContext, DType};
    let d = scratch_dir("npy-special");
    let c = ArrayContext::new();
    let a = c.ones(&[5], 2, DType::F64).unwrap();
    let fifo = d.join("fifo.npy");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        let r = a.to_npy(&fifo, &blockwork::Sequential::new());
        let still_fifo = {
            use std::os::unix::fs::FileTypeExt;
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        };
        assert!(
            r.is_err() || still_fifo,
            "to_npy onto a FIFO returned {r:?} and replaced the FIFO by a regular file"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// `to_npy` onto a symlink replaces the link by a regular file; the file it pointed to keeps
/// its old contents (`numpy.save` writes through the link).
#[test]
fn to_npy_writes_through_symlinks() {
    use blockwork::array::{ArrayContext, DType};
    let d = scratch_dir("npy-link");
    let c = ArrayContext::new();
    let a = c.ones(&[5], 2, DType::F64).unwrap();
    let target = d.join("target.npy");
    a.to_npy(&target, &blockwork::Sequential::new()).unwrap();
    let link = d.join("link.npy");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let twos = a.add(&a).unwrap();
    twos.to_npy(&link, &blockwork::Sequential::new()).unwrap();
    let is_link = std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink();
    let back = c
        .from_npy(&target, 2)
        .unwrap()
        .compute::<f64>(&blockwork::Sequential::new())
        .unwrap();
    let _ = std::fs::remove_dir_all(&d);
    assert!(
        is_link && back.iter().all(|&v| v == 2.0),
        "writing through a symlink: link kept {is_link}, target now {back:?}"
    );
}

/// The bounds of `read_text`: a line over `max_line_bytes`, and a file of reported size 0
/// (procfs) read past the block size, are `TooLarge`; a character device is refused up
/// front. Within the bounds the lines are those of the file.
#[test]
fn read_text_bounds_lines_and_unsized_files() {
    use blockwork::bag::TextFiles;
    let seq = blockwork::Sequential::new();
    let d = scratch_dir("text-bounds");
    let p = d.join("a.txt");
    std::fs::write(&p, format!("short\n{}\nend\n", "y".repeat(3 << 20))).unwrap();
    let too_large = |files: TextFiles| {
        let err = files.lines().unwrap().compute(&seq).unwrap_err();
        assert_eq!(
            err.task_cause(),
            Some(blockwork::ErrorKind::TooLarge),
            "{err}"
        );
    };
    too_large(TextFiles::paths([&p]).max_line_bytes(1 << 20));
    let lines = TextFiles::paths([&p])
        .max_line_bytes(3 << 20)
        .lines()
        .unwrap()
        .compute(&seq)
        .unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!((lines[0].as_str(), lines[2].as_str()), ("short", "end"));
    let _ = std::fs::remove_dir_all(&d);
    let status = std::path::Path::new("/proc/self/status");
    if status.exists() {
        let all = TextFiles::paths([status])
            .lines()
            .unwrap()
            .compute(&seq)
            .unwrap();
        assert!(all.iter().any(|l| l.starts_with("Name:")), "{all:?}");
        too_large(TextFiles::paths([status]).blocksize(16));
    }
    if std::path::Path::new("/dev/null").exists() {
        let err = TextFiles::paths(["/dev/null"]).lines().unwrap_err();
        assert_eq!(err.kind(), blockwork::ErrorKind::InvalidArgument, "{err}");
    }
}

/// The same for `to_textfiles_at`: a FIFO at the output path is replaced by a regular file.
#[test]
fn to_textfiles_refuses_fifos() {
    let d = scratch_dir("text-special");
    let fifo = d.join("part.txt");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        return;
    }
    let bag = blockwork::bag::Bag::from_vec(vec![1i64, 2, 3], 1).unwrap();
    let r = bag.to_textfiles_at(std::slice::from_ref(&fifo), &blockwork::Sequential::new());
    let still_fifo = {
        use std::os::unix::fs::FileTypeExt;
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    };
    let _ = std::fs::remove_dir_all(&d);
    assert!(
        r.is_err() || still_fifo,
        "to_textfiles onto a FIFO returned {r:?} and replaced the FIFO by a regular file"
    );
}

/// The temporary-and-rename write drops the mode of the file it replaces: a `0600` file
/// overwritten by `to_npy` or `to_textfiles_at` comes back `0644`, readable by everyone.
/// Expected: the replaced file's permissions kept (as an in-place write would).
#[test]
fn atomic_writes_keep_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch_dir("perm");
    let a = blockwork::array::ArrayContext::new()
        .ones(&[5], 2, blockwork::array::DType::F64)
        .unwrap();
    let p = d.join("x.npy");
    std::fs::write(&p, b"private").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    a.to_npy(&p, &blockwork::Sequential::new()).unwrap();
    let npy_mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    let t = d.join("t.txt");
    std::fs::write(&t, b"private").unwrap();
    std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o600)).unwrap();
    blockwork::bag::Bag::from_vec(vec![1i64, 2, 3], 1)
        .unwrap()
        .to_textfiles_at(std::slice::from_ref(&t), &blockwork::Sequential::new())
        .unwrap();
    let text_mode = std::fs::metadata(&t).unwrap().permissions().mode() & 0o777;
    let _ = std::fs::remove_dir_all(&d);
    assert_eq!(
        (npy_mode, text_mode),
        (0o600, 0o600),
        "modes after overwriting 0600 files: to_npy {npy_mode:o}, to_textfiles {text_mode:o}"
    );
}

/// The same hole without `list`: an argument list `[...]` builds a list value with no check at
/// all, and `concat` counts only the top-level slots. Both succeed far over a 1000-byte
/// budget. Expected: `TooLarge`, exit 2.
#[test]
fn argument_lists_and_concat_skip_the_budget() {
    let c = compute_zeros(100);
    for (what, spec) in [
        (
            "argument list",
            format!(r#"{{"nodes": {{"o": {{"op": "len", "args": [[{c}, {c}, {c}]]}}}}}}"#),
        ),
        (
            "concat",
            format!(
                r#"{{"nodes": {{"o": {{"op": "len", "args": [{{"op": "concat", "args": [[{c}], [{c}]]}}]}}}}}}"#
            ),
        ),
    ] {
        refused_under_1000_bytes(what, &spec);
    }
}

/// A spec whose shape is `k` ones: nothing bounds the number of dimensions (NumPy caps it
/// at 32, 64 in NumPy 2).
fn ones_nd(k: usize) -> String {
    let shape = vec!["1"; k].join(",");
    format!(r#"{{"op": "array.ones", "args": [[{shape}], 1]}}"#)
}

fn signal_free(r: &Option<Run>) -> bool {
    matches!(
        r,
        Some(Run {
            code: Some(0..=2),
            ..
        })
    )
}

/// `array.compute` of a one-element array of 30 000 dimensions (a 60 KB spec) overflowed a
/// worker's stack (SIGABRT). Arrays have at most `MAX_NDIM` (64) axes: a typed error.
#[test]
fn compute_of_30000_dimensions_is_a_typed_error() {
    let spec = format!(
        r#"{{"nodes": {{"o": {{"op": "array.compute", "args": [{}]}}}}}}"#,
        ones_nd(30_000)
    );
    let r = run_spec(&spec, &[], 60);
    assert!(
        signal_free(&r),
        "exit {:?}: {}",
        r.as_ref().map(|r| r.code),
        r.as_ref().map(|r| r.stderr.as_str()).unwrap_or("timed out")
    );
    let r = r.unwrap();
    assert!(r.stderr.contains("at most 64"), "{}", r.stderr);
}

/// `array.matmul` of two one-element arrays of 3000 dimensions took 1.1 GB and 4 s, then
/// overflowed the stack (SIGABRT). Now a typed error, at once.
#[test]
fn matmul_of_3000_dimensions_is_a_typed_error() {
    let spec = format!(
        r#"{{"nodes": {{"o": {{"op": "array.compute", "args": [{{"op": "array.matmul", "args": [{a}, {a}]}}]}}}}}}"#,
        a = ones_nd(3000)
    );
    let r = run_spec(&spec, &[], 60);
    assert!(
        signal_free(&r),
        "exit {:?}: {}",
        r.as_ref().map(|r| r.code),
        r.as_ref().map(|r| r.stderr.as_str()).unwrap_or("timed out")
    );
    let r = r.unwrap();
    assert!(r.stderr.contains("at most 64"), "{}", r.stderr);
}

/// The same limit through the library: 64 axes work, 65 are `TooLarge`.
#[test]
fn arrays_have_at_most_64_dimensions() {
    use blockwork::array::{ArrayContext, DType};
    let ctx = ArrayContext::new();
    let ok = ctx.ones(&[1; 64], 1, DType::F64).unwrap();
    assert_eq!(ok.shape().len(), 64);
    let e = ctx.ones(&[1; 65], 1, DType::F64).unwrap_err();
    assert_eq!(e.kind(), blockwork::ErrorKind::TooLarge, "{e}");
    let e = ok.expand_dims(0).unwrap_err();
    assert_eq!(e.kind(), blockwork::ErrorKind::TooLarge, "{e}");
}
