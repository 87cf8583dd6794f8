//! The key index of graphs and the plans built from it, under hostile key layouts and
//! mutation sequences: keys built by every constructor must find the same node, graphs
//! changed after planning must plan what they now hold, errors must name the right keys, and
//! the index must stay linear in time and memory however the keys are laid out.

use blockwork::spec::{Spec, builtin, key_text, parse_key};
use blockwork::{
    Arg, Atom, Error, ErrorKind, Executor, Graph, GraphBuilder, Key, Node, Op, Plan, Pool,
    Sequential, Task, Value,
};
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

// ---- allocation accounting (per thread) -----------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get() + delta;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call forwards to `System` unchanged; the bookkeeping only touches
// thread-local cells that need no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is `System`'s.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller's contract is `System`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The peak bytes this thread held at once while running `f`, above what it held before.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}

// ---- helpers ---------------------------------------------------------------------------------

/// Integer addition over any number of arguments (wrapping, so that no graph fails).
fn wadd() -> Op {
    static OP: OnceLock<Op> = OnceLock::new();
    OP.get_or_init(|| {
        Op::new("wadd", |args: &[Value]| {
            let mut s = 0i64;
            for a in args {
                match a {
                    Value::Int(i) => s = s.wrapping_add(*i),
                    other => return Err(format!("not an int: {other:?}").into()),
                }
            }
            Ok(Value::Int(s))
        })
    })
    .clone()
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(2).expect("a pool"))
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an int: {other:?}"),
    }
}

fn run_both(g: &Graph, outputs: &[Key]) -> Result<Vec<i64>, Error> {
    let plan = Plan::new(g, outputs)?;
    let seq = Sequential::new().run(&plan)?;
    let par = pool().run(&plan)?;
    let seq: Vec<i64> = seq.values.iter().map(int).collect();
    let par: Vec<i64> = par.values.iter().map(int).collect();
    assert_eq!(seq, par, "Sequential and Pool disagree on {outputs:?}");
    Ok(seq)
}

/// Every way the crate offers to build the tuple key `(name, atoms...)`.
fn every_constructor(name: &str, atoms: &[Atom]) -> Vec<Key> {
    let shared: Arc<str> = name.into();
    let mut out = vec![
        Key::tuple(name, atoms.iter().cloned()),
        Key::from_parts(shared.clone(), atoms.iter().cloned()),
        Key::from_parts(name.to_owned().into(), atoms.iter().cloned()),
        parse_key(&key_text(&Key::tuple(name, atoms.iter().cloned()))).expect("a key's text"),
    ];
    let ints: Option<Vec<usize>> = atoms
        .iter()
        .map(|a| match a {
            Atom::Int(i) => usize::try_from(*i).ok(),
            Atom::Str(_) => None,
        })
        .collect();
    if let Some(idx) = ints {
        out.push(Key::block(&shared, &idx));
    }
    let a = |i: usize| atoms[i].clone();
    match atoms.len() {
        1 => out.push((name, a(0)).into()),
        2 => out.push((name, a(0), a(1)).into()),
        3 => out.push((name, a(0), a(1), a(2)).into()),
        4 => out.push((name, a(0), a(1), a(2), a(3)).into()),
        _ => {}
    }
    out
}

fn atom_sets() -> Vec<Vec<Atom>> {
    let ints = [
        0i64,
        1,
        5,
        4095,
        4096,
        1 << 20,
        i32::MAX as i64,
        i32::MAX as i64 + 1,
        -1,
        i32::MIN as i64,
        i32::MIN as i64 - 1,
        i64::MAX,
        i64::MIN,
    ];
    let mut sets: Vec<Vec<Atom>> = vec![vec![]];
    for &a in &ints {
        sets.push(vec![Atom::Int(a)]);
        sets.push(vec![Atom::Int(a), Atom::Int(3)]);
        sets.push(vec![Atom::Int(2), Atom::Int(a), Atom::Int(1), Atom::Int(0)]);
        sets.push(vec![
            Atom::Int(a),
            Atom::Int(a),
            Atom::Int(a),
            Atom::Int(a),
            Atom::Int(a),
        ]);
        sets.push(vec![Atom::Int(a), Atom::Str("s".into())]);
        sets.push(vec![Atom::Str("".into()), Atom::Int(a)]);
    }
    sets
}

// ---- keys built every way find one node ------------------------------------------------------

#[test]
fn keys_built_every_way_find_the_same_node() {
    let sets = atom_sets();
    for (maker, _) in every_constructor("x", &[Atom::Int(1)]).iter().enumerate() {
        // Insert with one constructor, look up with every other.
        let mut g = Graph::new();
        let mut b = GraphBuilder::new();
        for (i, atoms) in sets.iter().enumerate() {
            let keys = every_constructor("x", atoms);
            let k = keys[maker % keys.len()].clone();
            assert!(
                g.insert(k.clone(), Node::Literal(Value::Int(i as i64)))
                    .is_none()
            );
            b.literal(k, i as i64).unwrap();
        }
        // The string key "x" is not any tuple key named x.
        g.insert("x", Node::Literal(Value::Int(-1)));
        b.literal("x", -1).unwrap();
        let built = b.build();
        assert_eq!(g.len(), sets.len() + 1);
        assert_eq!(built.len(), sets.len() + 1);
        let mut dup = GraphBuilder::new();
        for (i, atoms) in sets.iter().enumerate() {
            for (c, k) in every_constructor("x", atoms).into_iter().enumerate() {
                for graph in [&g, &built] {
                    assert_eq!(
                        graph.get(&k),
                        Some(&Node::Literal(Value::Int(i as i64))),
                        "{k} (inserted by constructor {maker})"
                    );
                }
                // A key equal to one present is a duplicate, however it was built.
                if c == 0 {
                    dup.literal(k.clone(), 0).unwrap();
                } else {
                    let e = dup.literal(k.clone(), 0).unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::DuplicateKey, "{k}");
                }
                // Replacing through any constructor keeps one entry.
                let mut h = g.clone();
                assert!(h.insert(k.clone(), Node::Literal(Value::Int(7))).is_some());
                assert_eq!(h.len(), g.len(), "{k}");
                assert_eq!(h.get(&k), Some(&Node::Literal(Value::Int(7))));
                assert_eq!(g.get(&k), Some(&Node::Literal(Value::Int(i as i64))));
            }
        }
        assert_eq!(dup.len(), sets.len());
        assert_eq!(g.get(&Key::from("x")), Some(&Node::Literal(Value::Int(-1))));
        assert_eq!(
            g.get(&Key::from(String::from("x"))),
            Some(&Node::Literal(Value::Int(-1)))
        );
    }
}

#[test]
fn references_built_every_way_resolve_and_run() {
    // One producer per atom set; a consumer per constructor reads it through that form.
    for atoms in atom_sets() {
        let keys = every_constructor("p", &atoms);
        let mut b = GraphBuilder::new();
        b.literal(keys[0].clone(), 21).unwrap();
        for (c, k) in keys.iter().enumerate() {
            b.task(
                format!("use{c}"),
                &wadd(),
                [Arg::key(k.clone()), Arg::key(k.clone())],
            )
            .unwrap();
        }
        let g = b.build();
        let outs: Vec<Key> = (0..keys.len())
            .map(|c| Key::from(format!("use{c}")))
            .collect();
        assert_eq!(
            run_both(&g, &outs).unwrap(),
            vec![42; keys.len()],
            "{}",
            keys[0]
        );
        // The same through a graph grown by insert, and through a spec round trip.
        let mut h = Graph::new();
        let all: Vec<_> = g.iter().collect();
        for (k, n) in all.into_iter().rev() {
            h.insert(k.clone(), n.clone());
        }
        assert_eq!(run_both(&h, &outs).unwrap(), vec![42; keys.len()]);
    }
}

// ---- mutation after planning ------------------------------------------------------------------

#[test]
fn graphs_changed_after_planning_plan_what_they_hold() {
    let name: Arc<str> = "b".into();
    let mut b = GraphBuilder::new();
    for i in 0..50usize {
        b.literal(Key::block(&name, &[i, 0]), i as i64).unwrap();
    }
    b.task(
        "sum",
        &wadd(),
        (0..50usize).map(|i| Arg::key(Key::block(&name, &[i, 0]))),
    )
    .unwrap();
    let g = b.build();
    let all = (0..50).sum::<i64>();
    assert_eq!(run_both(&g, &["sum".into()]).unwrap(), [all]);
    let old_plan = Plan::new(&g, &["sum".into()]).unwrap();

    // A clone changed through every mutation; the original and its plan are unchanged.
    let mut h = g.clone();
    h.insert(("b", 3, 0), Node::Literal(Value::Int(1000)));
    assert_eq!(run_both(&h, &["sum".into()]).unwrap(), [all - 3 + 1000]);
    assert_eq!(run_both(&g, &["sum".into()]).unwrap(), [all]);
    // Removing a key shifts every later id: a stale id table would read the wrong block.
    let removed = h.remove(&Key::tuple("b", [0, 0])).unwrap();
    assert_eq!(removed, Node::Literal(Value::Int(0)));
    let e = run_both(&h, &["sum".into()]).unwrap_err();
    match &e {
        Error::MissingKey { key, referrer } => {
            assert_eq!(key, &Key::tuple("b", [0, 0]));
            assert_eq!(referrer.as_ref(), Some(&Key::from("sum")));
        }
        other => panic!("{other}"),
    }
    h.insert(
        Key::from_parts("b".into(), [Atom::Int(0), Atom::Int(0)]),
        Node::Literal(Value::Int(5)),
    );
    assert_eq!(run_both(&h, &["sum".into()]).unwrap(), [all - 3 + 1000 + 5]);
    // The re-added key went last; everything still resolves to the right node.
    assert_eq!(h.keys().last(), Some(&Key::tuple("b", [0, 0])));
    // Turning a literal into an alias and a task, then removing what it reads.
    h.insert(Key::block(&name, &[7, 0]), Node::Alias(Key::from("extra")));
    let e = run_both(&h, &["sum".into()]).unwrap_err();
    assert!(
        matches!(&e, Error::MissingKey { key, referrer: Some(r) } if *key == Key::from("extra") && *r == Key::tuple("b", [7, 0])),
        "{e}"
    );
    h.insert("extra", Node::Task(Task::new(&wadd(), [Arg::lit(100)])));
    assert_eq!(
        run_both(&h, &["sum".into()]).unwrap(),
        [all - 3 + 1000 + 5 - 7 + 100]
    );
    // The old plan still reads the old graph.
    let v = Sequential::new().run(&old_plan).unwrap();
    assert_eq!(int(&v.values[0]), all);
    assert_eq!(run_both(&g, &["sum".into()]).unwrap(), [all]);
}

#[test]
fn merges_and_removals_keep_ids_straight() {
    let mut a = Graph::new();
    let mut b = Graph::new();
    for i in 0..200i64 {
        a.insert(("m", i, 0), Node::Literal(Value::Int(i)));
        b.insert(("m", 0, i + 1000), Node::Literal(Value::Int(-i)));
    }
    Plan::new(&a, &[Key::tuple("m", [0, 0])]).unwrap();
    a.merge(&b).unwrap();
    a.insert(
        "t",
        Node::Task(Task::new(
            &wadd(),
            [
                Arg::key(("m", 199, 0)),
                Arg::key(("m", 0, 1199)),
                Arg::key(("m", 5, 0)),
            ],
        )),
    );
    assert_eq!(run_both(&a, &["t".into()]).unwrap(), [5]); // 199 + (-199) + 5
    for i in (0..200i64).step_by(3) {
        assert!(a.remove(&Key::tuple("m", [i, 0])).is_some());
        assert!(a.remove(&Key::tuple("m", [i, 0])).is_none());
    }
    a.insert(("m", 199, 0), Node::Literal(Value::Int(1)));
    a.insert(("m", 5, 0), Node::Literal(Value::Int(2)));
    assert_eq!(run_both(&a, &["t".into()]).unwrap(), [1 - 199 + 2]);
    for (i, k) in a.keys().enumerate() {
        assert!(a.contains(k), "{i}: {k}");
    }
}

// ---- error paths ------------------------------------------------------------------------------

#[test]
fn errors_name_the_right_keys() {
    let mut b = GraphBuilder::new();
    b.alias(("a", 0), ("a", 1)).unwrap();
    b.alias(("a", 1), ("a", 2)).unwrap();
    b.alias(("a", 2), "gone").unwrap();
    b.alias("self", "self").unwrap();
    b.alias("r0", "r1").unwrap();
    b.alias("r1", "r2").unwrap();
    b.alias("r2", "r0").unwrap();
    b.alias("into_ring", "r1").unwrap();
    b.task("t", &wadd(), [Arg::key("u")]).unwrap();
    b.alias("u", "t").unwrap();
    b.task("reads_chain", &wadd(), [Arg::lit(1), Arg::key(("a", 0))])
        .unwrap();
    b.literal("ok", 1).unwrap();
    let g = b.build();
    let missing = |out: Key| match Plan::new(&g, &[Key::from("ok"), out.clone()]) {
        Err(Error::MissingKey { key, referrer }) => (key, referrer),
        Err(e) => panic!("{out}: {e}"),
        Ok(_) => panic!("{out}: planned"),
    };
    assert_eq!(missing(Key::from("nope")), (Key::from("nope"), None));
    assert_eq!(
        missing(Key::tuple("nope", [1])),
        (Key::tuple("nope", [1]), None)
    );
    assert_eq!(
        missing(Key::tuple("a", [0])),
        (Key::from("gone"), Some(Key::tuple("a", [2])))
    );
    assert_eq!(
        missing(Key::from("reads_chain")),
        (Key::from("gone"), Some(Key::tuple("a", [2])))
    );
    let cycle = |out: &str| match Plan::new(&g, &[Key::from("ok"), Key::from(out)]) {
        Err(Error::Cycle { path }) => path,
        Err(e) => panic!("{out}: {e}"),
        Ok(_) => panic!("{out}: planned"),
    };
    for out in ["self", "r0", "r2", "into_ring", "t", "u"] {
        let path = cycle(out);
        assert!(
            path.len() >= 2 && path.first() == path.last(),
            "{out}: {path:?}"
        );
    }
    let p = cycle("r0");
    for k in ["r0", "r1", "r2"] {
        assert!(p.contains(&Key::from(k)), "{p:?}");
    }
    // Nesting one level beyond the limit is an error, at the limit it runs.
    for (depth, ok) in [
        (blockwork::graph::MAX_NESTING - 1, true),
        (blockwork::graph::MAX_NESTING + 1, false),
    ] {
        let mut arg = Arg::key("ok");
        for _ in 0..depth {
            arg = Arg::task(&wadd(), [arg]);
        }
        let mut h = g.clone();
        h.insert("deep", Node::Task(Task::new(&wadd(), [arg])));
        let r = Plan::new(&h, &["deep".into()]);
        assert_eq!(r.is_ok(), ok, "{depth}");
        if !ok {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::TooLarge);
        }
    }
}

/// Child half of [`deep_arguments_are_an_error_not_a_stack_overflow`].
#[test]
#[ignore = "run by deep_arguments_are_an_error_not_a_stack_overflow in a child process"]
fn deep_arguments_child() {
    if std::env::var_os("BLOCKWORK_DEEP_CHILD").is_none() {
        return;
    }
    let t = std::thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(|| {
            let mut arg = Arg::lit(1);
            for _ in 0..200_000 {
                arg = Arg::list([arg]);
            }
            let mut b = GraphBuilder::new();
            b.task("deep", &wadd(), [arg]).unwrap();
            b.literal("fine", 1).unwrap();
            let g = b.build();
            let fine = Plan::new(&g, &["fine".into()]).map(|_| ());
            let deep = Plan::new(&g, &["deep".into()]).map(|_| ());
            // Dropping a 200,000-deep argument is not what is tested here.
            std::mem::forget(g);
            (fine, deep.map_err(|e| e.kind()))
        })
        .unwrap();
    let (fine, deep) = t.join().unwrap();
    assert!(fine.is_ok());
    assert_eq!(deep, Err(ErrorKind::TooLarge));
}

#[test]
fn deep_arguments_are_an_error_not_a_stack_overflow() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "deep_arguments_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("BLOCKWORK_DEEP_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed ({:?}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- scale: time and memory --------------------------------------------------------------------

/// Index memory for `n` keys of `n` distinct names, each at `coord` in one axis.
fn bytes_for_one_key_per_name(n: usize, coord: usize) -> usize {
    let ((), bytes) = peak_bytes(|| {
        let mut b = GraphBuilder::with_capacity(n);
        for i in 0..n {
            let name: Arc<str> = format!("name{i}").into();
            b.literal(Key::block(&name, &[coord]), 0).unwrap();
        }
        let g = b.build();
        assert_eq!(g.len(), n);
    });
    bytes
}

#[test]
fn one_far_key_per_name_costs_no_more_than_one_near_key() {
    let n = 2000;
    let near = bytes_for_one_key_per_name(n, 0);
    let far = bytes_for_one_key_per_name(n, 4000);
    assert!(
        far <= 4 * near + (1 << 20),
        "{n} keys: {near} bytes at coordinate 0, {far} bytes at coordinate 4000"
    );
}

#[test]
fn grids_stay_linear_in_memory_for_skewed_layouts() {
    // One name, layouts that would need a huge dense grid: far corners, long thin axes,
    // reversed insertion, all four arities at once.
    let n = 20_000usize;
    let layouts: Vec<Box<dyn Fn(usize) -> Vec<usize>>> = vec![
        Box::new(|i| vec![i * 1000]),
        Box::new(|i| vec![n - i, n - i]),
        Box::new(|i| if i % 2 == 0 { vec![i, 0] } else { vec![0, i] }),
        Box::new(|i| vec![i % 7, (i * 31) % 100_003, i % 3]),
        Box::new(|i| vec![1 << (i % 31), i]),
        Box::new(|i| vec![i; 1 + i % 4]),
    ];
    let baseline = {
        let ((), bytes) = peak_bytes(|| {
            let name: Arc<str> = "g".into();
            let mut b = GraphBuilder::with_capacity(n);
            for i in 0..n {
                b.literal(Key::block(&name, &[i]), 0).unwrap();
            }
            b.build();
        });
        bytes
    };
    for (l, layout) in layouts.iter().enumerate() {
        let ((), bytes) = peak_bytes(|| {
            let name: Arc<str> = "g".into();
            let mut b = GraphBuilder::with_capacity(n);
            for i in 0..n {
                b.literal(Key::block(&name, &layout(i)), 0).unwrap();
            }
            let g = b.build();
            for i in (0..n).step_by(97) {
                assert!(g.contains(&Key::tuple("g", layout(i))), "layout {l}, {i}");
            }
        });
        assert!(
            bytes <= 4 * baseline + (1 << 20),
            "layout {l}: {bytes} bytes, dense keys: {baseline}"
        );
    }
}

/// `(1 << 64) / K` for FxHasher's multiplier K, as the inverse modulo 2^64.
fn inverse(k: u64) -> u64 {
    let mut x = k; // Newton's iteration for the inverse of an odd number
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(k.wrapping_mul(x)));
    }
    x
}

fn time_build(keys: &[Key]) -> Duration {
    let t = Instant::now();
    let mut b = GraphBuilder::with_capacity(keys.len());
    for k in keys {
        b.literal(k.clone(), 0).unwrap();
    }
    let g = b.build();
    for k in keys.iter().step_by(17) {
        assert!(g.contains(k));
    }
    t.elapsed()
}

#[test]
fn crafted_atoms_do_not_make_the_hashed_index_quadratic() {
    const K: u64 = 0xf1357aea2e62a9c5;
    let inv = inverse(K);
    assert_eq!(inv.wrapping_mul(K), 1);
    let n = 20_000u64;
    let crafted: Vec<Key> = (1..=n)
        .map(|j| Key::tuple("h", [j.wrapping_mul(inv) as i64]))
        .collect();
    let plain: Vec<Key> = (1..=n)
        .map(|j| Key::tuple("h", [(j as i64) << 40]))
        .collect();
    let mut report = String::new();
    for _ in 0..3 {
        let c = time_build(&crafted);
        let p = time_build(&plain);
        if c < p * 20 + Duration::from_millis(50) {
            return;
        }
        report += &format!("\ncrafted {c:?}, plain {p:?}");
    }
    panic!("crafted atoms are slow:{report}");
}

#[test]
fn wide_deep_and_repeated_plans_are_fast() {
    let start = Instant::now();
    let n = 200_000usize;
    let name: Arc<str> = "w".into();
    // A wide fan-in through aliases, a deep chain of tasks, many repeated outputs.
    let mut b = GraphBuilder::with_capacity(3 * n);
    for i in 0..n {
        b.literal(Key::block(&name, &[i]), 1).unwrap();
        b.alias(Key::tuple("alias", [i as i64]), Key::block(&name, &[i]))
            .unwrap();
    }
    b.task(
        "fan",
        &wadd(),
        (0..n).map(|i| Arg::key(Key::tuple("alias", [i as i64]))),
    )
    .unwrap();
    b.literal(("chain", 0), 0).unwrap();
    for i in 1..n as i64 {
        b.task(
            ("chain", i),
            &wadd(),
            [Arg::key(("chain", i - 1)), Arg::lit(1)],
        )
        .unwrap();
    }
    let g = b.build();
    let last = Key::tuple("chain", [n as i64 - 1]);
    let outs: Vec<Key> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                last.clone()
            } else {
                Key::tuple("alias", [(i % 10) as i64])
            }
        })
        .chain([Key::from("fan")])
        .collect();
    let v = run_both(&g, &outs).unwrap();
    assert_eq!(v[0], n as i64 - 1);
    assert_eq!(v[1], 1);
    assert_eq!(v[n], n as i64);
    // A chain of aliases n long, requested from both ends.
    let mut h = g.clone();
    for i in 0..n as i64 {
        h.insert(("link", i), Node::Alias(Key::tuple("link", [i + 1])));
    }
    h.insert(("link", n as i64), Node::Alias("fan".into()));
    let outs = [Key::tuple("link", [n as i64 - 1]), Key::tuple("link", [0])];
    assert_eq!(run_both(&h, &outs).unwrap(), [n as i64, n as i64]);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
}

// ---- spec files --------------------------------------------------------------------------------

#[test]
fn spec_files_round_trip_keys_of_every_form() {
    let add = builtin("add").unwrap();
    let mut g = Graph::new();
    let mut keys = Vec::new();
    for (i, atoms) in atom_sets().into_iter().enumerate() {
        let k = Key::tuple("s", atoms);
        g.insert(k.clone(), Node::Literal(Value::Int(i as i64)));
        keys.push(k);
    }
    for name in ["[x]", "\"q\"", "plain", ""] {
        g.insert(name, Node::Literal(Value::Int(1)));
        keys.push(Key::from(name));
    }
    g.insert(
        "total",
        Node::Task(Task::new(&add, keys.iter().map(|k| Arg::key(k.clone())))),
    );
    let text = Spec::new(g.clone(), ["total"]).to_json().unwrap();
    let back = Spec::from_json(&text).unwrap();
    assert_eq!(back.graph().len(), g.len());
    let got: Vec<Key> = back.graph().keys().cloned().collect();
    let want: Vec<Key> = g.keys().cloned().collect();
    assert_eq!(got, want);
    for k in &keys {
        assert_eq!(back.graph().get(k), g.get(k), "{k}");
        for again in every_constructor(k.name(), &k.atoms().collect::<Vec<_>>()) {
            if k.is_tuple() {
                assert!(back.graph().contains(&again), "{again}");
            }
        }
    }
    let want = Sequential::new().get(&g, "total").unwrap();
    assert_eq!(Sequential::new().get(back.graph(), "total").unwrap(), want);
    assert_eq!(pool().get(back.graph(), "total").unwrap(), want);
}

// ---- optimize passes on mutated graphs ---------------------------------------------------------

#[test]
fn optimize_passes_on_changed_graphs_keep_results() {
    use blockwork::graph::optimize::{cull, dealias, fuse, inline};
    let mut g = Graph::new();
    for i in 0..30i64 {
        g.insert(("o", i), Node::Literal(Value::Int(i)));
        g.insert(
            ("t", i),
            Node::Task(Task::new(
                &wadd(),
                [Arg::key(("o", i)), Arg::key(("o", (i + 1) % 30))],
            )),
        );
        g.insert(("al", i), Node::Alias(Key::tuple("t", [i])));
    }
    g.insert(
        "out",
        Node::Task(Task::new(&wadd(), (0..30i64).map(|i| Arg::key(("al", i))))),
    );
    let outs = [Key::from("out"), Key::tuple("al", [3])];
    let before = run_both(&g, &outs).unwrap();
    let mut h = g.clone();
    h.remove(&Key::tuple("o", [0]));
    h.insert(("o", 0), Node::Literal(Value::Int(100)));
    h.insert(("al", 5), Node::Alias(Key::tuple("o", [7])));
    h.remove(&Key::tuple("t", [5]));
    let after = run_both(&h, &outs).unwrap();
    assert_ne!(before, after);
    for (what, graph, want) in [("g", &g, &before), ("h", &h, &after)] {
        let culled = cull(graph, &outs).unwrap();
        assert_eq!(&run_both(&culled, &outs).unwrap(), want, "{what} cull");
        let inlined = inline(graph, &outs, true);
        assert_eq!(&run_both(&inlined, &outs).unwrap(), want, "{what} inline");
        let fused = fuse(graph, &outs);
        assert_eq!(&run_both(&fused, &outs).unwrap(), want, "{what} fuse");
        let d = dealias(graph, &outs);
        assert_eq!(&run_both(&d, &outs).unwrap(), want, "{what} dealias");
    }
}

// ---- random mutation sequences against a model -------------------------------------------------

/// A logical atom and key: the model's identity, independent of [`Key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum LA {
    I(i64),
    S(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum LK {
    Name(u8),
    Tup(u8, Vec<LA>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LN {
    Lit(i64),
    Alias(LK, u8),
    Task(Vec<(LK, u8)>, i64),
}

fn name_of(n: u8) -> String {
    format!("k{n}")
}

fn shared_names() -> &'static [Arc<str>] {
    static S: OnceLock<Vec<Arc<str>>> = OnceLock::new();
    S.get_or_init(|| (0..4).map(|n| name_of(n).into()).collect())
}

fn atom(a: &LA) -> Atom {
    match a {
        LA::I(i) => Atom::Int(*i),
        LA::S(s) => Atom::Str(format!("s{s}").into()),
    }
}

/// The key `lk`, built the `ctor`-th way.
fn make(lk: &LK, ctor: u8) -> Key {
    match lk {
        LK::Name(n) => match ctor % 3 {
            0 => Key::from(name_of(*n).as_str()),
            1 => Key::from(name_of(*n)),
            _ => Key::from(shared_names()[*n as usize].clone()),
        },
        LK::Tup(n, atoms) => {
            let atoms: Vec<Atom> = atoms.iter().map(atom).collect();
            let all = every_constructor(&name_of(*n), &atoms);
            match ctor as usize % (all.len() + 1) {
                i if i < all.len() => all[i].clone(),
                _ => Key::from_parts(shared_names()[*n as usize].clone(), atoms),
            }
        }
    }
}

fn node(n: &LN) -> Node {
    match n {
        LN::Lit(v) => Node::Literal(Value::Int(*v)),
        LN::Alias(k, c) => Node::Alias(make(k, *c)),
        LN::Task(refs, lit) => Node::Task(Task::new(
            &wadd(),
            refs.iter()
                .map(|(k, c)| Arg::key(make(k, *c)))
                .chain([Arg::lit(*lit)]),
        )),
    }
}

/// Logical equality of model nodes (constructors do not matter).
fn same(a: &LN, b: &LN) -> bool {
    match (a, b) {
        (LN::Lit(x), LN::Lit(y)) => x == y,
        (LN::Alias(x, _), LN::Alias(y, _)) => x == y,
        (LN::Task(x, l), LN::Task(y, m)) => {
            l == m && x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.0 == q.0)
        }
        _ => false,
    }
}

#[derive(Clone, Debug, Default)]
struct Model {
    order: Vec<LK>,
    nodes: HashMap<LK, LN>,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Value(i64),
    /// The errors a correct plan may report: missing keys reachable, and whether a cycle is.
    Errors(HashSet<LK>, bool),
}

impl Model {
    fn insert(&mut self, k: LK, n: LN) {
        if self.nodes.insert(k.clone(), n).is_none() {
            self.order.push(k);
        }
    }

    fn remove(&mut self, k: &LK) -> bool {
        if self.nodes.remove(k).is_some() {
            self.order.retain(|o| o != k);
            true
        } else {
            false
        }
    }

    fn eval(&self, out: &LK) -> Outcome {
        let mut missing = HashSet::new();
        let mut cycle = false;
        let mut memo = HashMap::new();
        let mut on = HashSet::new();
        let v = self.walk(out, &mut memo, &mut on, &mut missing, &mut cycle);
        match v {
            Some(v) if missing.is_empty() && !cycle => Outcome::Value(v),
            _ => Outcome::Errors(missing, cycle),
        }
    }

    fn walk(
        &self,
        k: &LK,
        memo: &mut HashMap<LK, Option<i64>>,
        on: &mut HashSet<LK>,
        missing: &mut HashSet<LK>,
        cycle: &mut bool,
    ) -> Option<i64> {
        if let Some(v) = memo.get(k) {
            return *v;
        }
        if !on.insert(k.clone()) {
            *cycle = true;
            return None;
        }
        let v = match self.nodes.get(k) {
            None => {
                missing.insert(k.clone());
                None
            }
            Some(LN::Lit(v)) => Some(*v),
            Some(LN::Alias(t, _)) => self.walk(t, memo, on, missing, cycle),
            Some(LN::Task(refs, lit)) => {
                let mut s = Some(*lit);
                for (r, _) in refs {
                    let v = self.walk(r, memo, on, missing, cycle);
                    s = match (s, v) {
                        (Some(a), Some(b)) => Some(a.wrapping_add(b)),
                        _ => None,
                    };
                }
                s
            }
        };
        on.remove(k);
        memo.insert(k.clone(), v);
        v
    }
}

fn lk_of(key: &Key) -> LK {
    let n: u8 = key.name()[1..].parse().expect("a model name");
    if !key.is_tuple() {
        return LK::Name(n);
    }
    LK::Tup(
        n,
        key.atoms()
            .map(|a| match a {
                Atom::Int(i) => LA::I(i),
                Atom::Str(s) => LA::S(s[1..].parse().unwrap()),
            })
            .collect(),
    )
}

fn check_graph(g: &Graph, m: &Model, ctor: u8) {
    assert_eq!(g.len(), m.order.len());
    let keys: Vec<LK> = g.keys().map(lk_of).collect();
    assert_eq!(keys, m.order, "insertion order");
    for (i, k) in m.order.iter().enumerate() {
        let key = make(k, ctor.wrapping_add(i as u8));
        let want = node(&m.nodes[k]);
        assert_eq!(g.get(&key), Some(&want), "{key}");
    }
    // Plans agree with the model for every key, one at a time and all together.
    let mut good = Vec::new();
    let mut want = Vec::new();
    for (i, k) in m.order.iter().enumerate() {
        let key = make(k, ctor.wrapping_add(3 * i as u8));
        match (m.eval(k), run_both(g, std::slice::from_ref(&key))) {
            (Outcome::Value(v), Ok(got)) => {
                assert_eq!(got, [v], "{key}");
                good.push(key);
                want.push(v);
            }
            (Outcome::Errors(missing, cycle), Err(e)) => match &e {
                Error::MissingKey { key: mk, .. } => {
                    assert!(
                        missing.contains(&lk_of(mk)),
                        "{key}: {e}; model {missing:?}"
                    )
                }
                Error::Cycle { path } => {
                    assert!(cycle, "{key}: {e}");
                    assert_eq!(path.first(), path.last(), "{e}");
                }
                other => panic!("{key}: {other}"),
            },
            (want, got) => panic!("{key}: model {want:?}, plan {got:?}"),
        }
    }
    // Repeated and reversed outputs.
    let mut outs = good.clone();
    outs.extend(good.iter().rev().cloned());
    let mut w = want.clone();
    w.extend(want.iter().rev());
    assert_eq!(run_both(g, &outs).unwrap(), w);
}

#[derive(Clone, Debug)]
enum Step {
    Insert(LK, u8, LN),
    Remove(LK, u8),
    Snapshot,
    Plan,
    Merge(Vec<(LK, u8, LN)>),
}

fn lk_strategy() -> impl Strategy<Value = LK> {
    let la = prop_oneof![
        6 => (0i64..4).prop_map(LA::I),
        1 => (4000i64..4200).prop_map(LA::I),
        1 => (-2i64..0).prop_map(LA::I),
        1 => prop_oneof![Just(i32::MAX as i64 + 1), Just(i64::MIN), Just(1 << 40)].prop_map(LA::I),
        1 => (0u8..2).prop_map(LA::S),
    ];
    prop_oneof![
        1 => (0u8..4).prop_map(LK::Name),
        6 => ((0u8..4), prop::collection::vec(la, 0..6)).prop_map(|(n, a)| LK::Tup(n, a)),
    ]
}

fn ln_strategy() -> impl Strategy<Value = LN> {
    prop_oneof![
        2 => (-50i64..50).prop_map(LN::Lit),
        1 => (lk_strategy(), any::<u8>()).prop_map(|(k, c)| LN::Alias(k, c)),
        3 => (prop::collection::vec((lk_strategy(), any::<u8>()), 0..4), -50i64..50)
            .prop_map(|(r, l)| LN::Task(r, l)),
    ]
}

fn step_strategy(keys: Vec<LK>) -> impl Strategy<Value = Step> {
    // Reuse keys often so that replacements, removals and references meet.
    let pick = prop::sample::select(keys);
    let key = prop_oneof![2 => pick, 1 => lk_strategy()];
    prop_oneof![
        8 => (key.clone(), any::<u8>(), ln_strategy()).prop_map(|(k, c, n)| Step::Insert(k, c, n)),
        2 => (key.clone(), any::<u8>()).prop_map(|(k, c)| Step::Remove(k, c)),
        1 => Just(Step::Snapshot),
        1 => Just(Step::Plan),
        1 => prop::collection::vec((key, any::<u8>(), ln_strategy()), 0..5).prop_map(Step::Merge),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(lk_strategy(), 1..12)
        .prop_flat_map(|keys| prop::collection::vec(step_strategy(keys), 1..40))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_mutations_match_a_model(steps in steps(), ctor in any::<u8>()) {
        let mut g = Graph::new();
        let mut m = Model::default();
        let mut snaps: Vec<(Graph, Model)> = Vec::new();
        for step in steps {
            match step {
                Step::Insert(k, c, n) => {
                    let had = m.nodes.contains_key(&k);
                    let old = g.insert(make(&k, c), node(&n));
                    prop_assert_eq!(old.is_some(), had);
                    m.insert(k, n);
                }
                Step::Remove(k, c) => {
                    prop_assert_eq!(g.remove(&make(&k, c)).is_some(), m.remove(&k));
                }
                Step::Snapshot => snaps.push((g.clone(), m.clone())),
                Step::Plan => {
                    let outs: Vec<Key> = m.order.iter().map(|k| make(k, ctor)).collect();
                    let _ = Plan::new(&g, &outs);
                }
                Step::Merge(entries) => {
                    let mut other = Graph::new();
                    let mut om = Model::default();
                    for (k, c, n) in entries {
                        other.insert(make(&k, c), node(&n));
                        om.insert(k, n);
                    }
                    let clash = om.order.iter().any(|k| {
                        m.nodes.get(k).is_some_and(|mine| !same(mine, &om.nodes[k]))
                    });
                    let r = g.merge(&other);
                    prop_assert_eq!(r.is_err(), clash, "{:?}", r);
                    if !clash {
                        for k in om.order {
                            if !m.nodes.contains_key(&k) {
                                let n = om.nodes[&k].clone();
                                m.insert(k, n);
                            }
                        }
                    }
                }
            }
        }
        check_graph(&g, &m, ctor);
        for (sg, sm) in &snaps {
            check_graph(sg, sm, ctor.wrapping_add(1));
        }
    }
}
