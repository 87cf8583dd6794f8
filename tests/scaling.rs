//! Graph algorithms scale linearly: on alias chains and wide fan-ins, ten times the size must
//! cost less than thirty times the time, or, where caches make even a linear pass grow faster,
//! less than four times that pass's growth (three attempts). Both sizes are measured in the same test (best of
//! several runs, one test at a time), so the ratio does not depend on the machine's speed;
//! each case runs in well under a second.

use blockwork::diagnostics::{GraphInfo, to_dot};
use blockwork::graph::optimize::{cull, dealias, fuse, inline};
use blockwork::spec::{Spec, builtin};
use blockwork::{Arg, Executor, Graph, GraphBuilder, Key, Plan, Task, Value};
use std::time::{Duration, Instant};

/// The scaling tests run one at a time, so that they do not disturb each other's timings.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The fastest of `runs` runs of `f` on `input`.
fn best_of<T>(runs: usize, input: &T, f: &dyn Fn(&T)) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f(input);
            t.elapsed()
        })
        .min()
        .expect("at least one run")
}

/// Asserts that `f` on the input ten times as large costs less than 30 times as much, or,
/// where the larger input falls out of the caches and even a linear pass grows faster than
/// tenfold, less than 4 times as much more as `linear` grows (a pass that clones every key of
/// the graph into a hash set and a vector, the memory traffic of a linear graph algorithm).
/// A quadratic step costs a hundred times as much and fails either way.
fn assert_linear<T>(
    (n, small_input, large_input): &(usize, T, T),
    what: &str,
    linear: impl Fn(&T),
    f: impl Fn(&T),
) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ratio = |g: &dyn Fn(&T)| {
        g(small_input); // warm up
        let small = best_of(5, small_input, &g);
        let large = best_of(3, large_input, &g);
        // A floor keeps a tiny `small` (timer noise) from failing a linear algorithm.
        let r = large.as_secs_f64() / small.as_secs_f64().max(1e-4);
        (r, small, large)
    };
    // A loaded machine can slow one measurement; a quadratic step fails every attempt.
    let mut report = String::new();
    for _ in 0..3 {
        let (r, small, large) = ratio(&f);
        let (base, ..) = ratio(&linear);
        if r < 30.0 || r < 4.0 * base {
            return;
        }
        report += &format!(
            "\n{what}: {n} took {small:?}, {} took {large:?} (x{r:.1}; a linear pass: x{base:.1})",
            10 * n
        );
    }
    panic!("grows faster than linearly:{report}");
}

/// The inputs of sizes `n` and `10 n`.
fn sizes<T>(n: usize, setup: impl Fn(usize) -> T) -> (usize, T, T) {
    (n, setup(n), setup(10 * n))
}

/// A linear pass over a graph: each key cloned into a hash set and a vector.
fn clone_keys(g: &Graph) {
    let mut set = rustc_hash::FxHashSet::default();
    let mut out = Vec::new();
    for k in g.keys() {
        if set.insert(k.clone()) {
            out.push(k.clone());
        }
    }
    assert_eq!(out.len(), g.len());
}

/// A linear pass over a text: its bytes parsed as JSON into `serde_json`'s tree.
fn parse_json(t: &str) {
    let v: serde_json::Value = serde_json::from_str(t).unwrap();
    assert!(v.is_object());
}

/// `x` then `n` aliases, `a{i}` of `a{i-1}` (`a0` of `x`).
fn alias_chain(n: usize) -> Graph {
    let mut b = GraphBuilder::with_capacity(n + 1);
    b.literal("x", 1i64).unwrap();
    for i in 0..n {
        let target = if i == 0 {
            Key::from("x")
        } else {
            Key::from(format!("a{}", i - 1))
        };
        b.alias(format!("a{i}"), target).unwrap();
    }
    b.build()
}

/// `n` literals and one task that refers to all of them (and to each twice).
fn fan_in(n: usize) -> Graph {
    let mut b = GraphBuilder::with_capacity(n + 1);
    let mut args = Vec::with_capacity(2 * n);
    for i in 0..n {
        b.literal(format!("x{i}"), i as i64).unwrap();
        args.push(Arg::key(format!("x{i}")));
        args.push(Arg::key(format!("x{i}")));
    }
    let list = builtin("list").unwrap();
    b.node("sink", blockwork::Node::Task(Task::new(&list, args)))
        .unwrap();
    b.build()
}

#[test]
fn validating_and_planning_alias_chains_is_linear() {
    let chains = sizes(10_000, alias_chain);
    assert_linear(&chains, "validate", clone_keys, |g| {
        Plan::validate(g).unwrap()
    });
    assert_linear(&chains, "plan every alias", clone_keys, |g| {
        let keys: Vec<Key> = g.keys().cloned().collect();
        let plan = Plan::new(g, &keys).unwrap();
        assert_eq!(plan.len(), 1);
    });
}

#[test]
fn alias_chains_resolve_to_their_target() {
    // Reference: every alias of the chain gives the literal.
    let g = alias_chain(1000);
    let keys: Vec<Key> = g.keys().cloned().collect();
    let out = blockwork::Sequential::new().run(&Plan::new(&g, &keys).unwrap());
    for v in out.unwrap().values {
        assert_eq!(v, Value::Int(1));
    }
    // A cycle through a resolved chain is still found.
    let mut b = GraphBuilder::new();
    b.alias("p", "q").unwrap();
    b.alias("q", "r").unwrap();
    b.alias("r", "p").unwrap();
    let err = Plan::validate(&b.build()).unwrap_err();
    assert_eq!(err.kind(), blockwork::ErrorKind::Cycle);
}

#[test]
fn optimizations_on_alias_chains_are_linear() {
    let chains = sizes(10_000, |n| {
        (alias_chain(n), [Key::from(format!("a{}", n - 1))])
    });
    assert_linear(
        &chains,
        "cull",
        |(g, _)| clone_keys(g),
        |(g, last)| {
            assert_eq!(cull(g, last).unwrap().len(), g.len());
        },
    );
    assert_linear(
        &chains,
        "dealias",
        |(g, _)| clone_keys(g),
        |(g, last)| {
            dealias(g, last);
        },
    );
    assert_linear(
        &chains,
        "inline",
        |(g, _)| clone_keys(g),
        |(g, last)| {
            inline(g, last, true);
        },
    );
    assert_linear(
        &chains,
        "fuse",
        |(g, _)| clone_keys(g),
        |(g, last)| {
            fuse(g, last);
        },
    );
    assert_linear(
        &chains,
        "info",
        |(g, _)| clone_keys(g),
        |(g, _)| {
            GraphInfo::of(g).unwrap();
        },
    );
    let texts = sizes(10_000, |n| {
        Spec::new(alias_chain(n), Vec::<Key>::new())
            .to_json()
            .unwrap()
    });
    assert_linear(
        &texts,
        "read spec",
        |t| parse_json(t),
        |t| {
            Spec::from_json(t).unwrap();
        },
    );
}

#[test]
fn fan_ins_are_linear() {
    let fans = sizes(10_000, fan_in);
    assert_linear(&fans, "dependencies", clone_keys, |g| {
        let node = g.get(&Key::from("sink")).unwrap();
        assert_eq!(node.dependencies().len(), g.len() - 1);
    });
    assert_linear(&fans, "dependents", clone_keys, |g| {
        let d = g.dependents();
        assert_eq!(d[&Key::from("x0")], [Key::from("sink")]);
    });
    assert_linear(&fans, "dot", clone_keys, |g| {
        let dot = to_dot(g, &[]);
        assert_eq!(dot.matches(" -> ").count(), g.len() - 1);
    });
    assert_linear(&fans, "info", clone_keys, |g| {
        GraphInfo::of(g).unwrap();
    });
    assert_linear(&fans, "validate", clone_keys, |g| {
        Plan::validate(g).unwrap()
    });
    let texts = sizes(10_000, |n| {
        Spec::new(fan_in(n), ["sink"]).to_json().unwrap()
    });
    assert_linear(
        &texts,
        "read spec",
        |t| parse_json(t),
        |t| {
            Spec::from_json(t).unwrap();
        },
    );
}

#[test]
fn dependencies_keep_first_use_order_without_duplicates() {
    // Reference: a naive first-occurrence filter.
    let list = builtin("list").unwrap();
    let refs: Vec<usize> = (0..200).map(|i| (i * 7919) % 37).collect();
    let args: Vec<Arg> = refs.iter().map(|i| Arg::key(format!("k{i}"))).collect();
    let node = blockwork::Node::Task(Task::new(&list, args));
    let mut expected: Vec<Key> = Vec::new();
    for i in &refs {
        let k = Key::from(format!("k{i}"));
        if !expected.contains(&k) {
            expected.push(k);
        }
    }
    assert_eq!(node.dependencies(), expected);
}

/// The key of task `i` of `n` in one layout.
type KeyLayout = fn(usize, usize) -> Key;

/// Block keys laid out to defeat the dense index of keys: sparse, reversed, an L shape,
/// skewed, far apart, negative, string atoms and five atoms. `layout(i, n)` is the key of
/// task `i` of `n`.
fn key_layouts() -> Vec<(&'static str, KeyLayout)> {
    vec![
        ("dense", |i, _| Key::tuple("x", [i as i64])),
        ("reversed", |i, n| Key::tuple("x", [(n - i) as i64])),
        ("sparse", |i, _| Key::tuple("x", [i as i64 * 1_000_003])),
        ("L shape", |i, _| {
            if i % 2 == 0 {
                Key::tuple("x", [i as i64, 0])
            } else {
                Key::tuple("x", [0, i as i64])
            }
        }),
        ("diagonal", |i, _| Key::tuple("x", [i as i64, i as i64])),
        ("column first", |i, n| {
            let s = n.isqrt().max(1);
            Key::tuple("x", [(i % s) as i64, (i / s) as i64])
        }),
        ("negative", |i, _| Key::tuple("x", [-(i as i64)])),
        ("string atoms", |i, _| {
            Key::tuple("x", [blockwork::Atom::from("s"), blockwork::Atom::from(i)])
        }),
        ("five atoms", |i, _| Key::tuple("x", [i as i64, 1, 2, 3, 4])),
        ("many names", |i, _| Key::from(format!("k{i}"))),
    ]
}

/// A chain of `n` tasks whose keys follow `layout`.
fn chain_with(layout: fn(usize, usize) -> Key, n: usize) -> (Graph, Key) {
    let inc = blockwork::Op::typed("inc", |x: i64| x + 1);
    let mut b = GraphBuilder::with_capacity(n);
    b.literal(layout(0, n), 0i64).unwrap();
    for i in 1..n {
        b.task(layout(i, n), &inc, [Arg::Ref(layout(i - 1, n))])
            .unwrap();
    }
    (b.build(), layout(n - 1, n))
}

#[test]
fn building_and_planning_are_linear_for_any_key_layout() {
    for (name, layout) in key_layouts() {
        let inputs = sizes(5_000, |n| n);
        assert_linear(
            &inputs,
            &format!("build and plan, {name} keys"),
            |&n| {
                let keys: Vec<Key> = (0..n).map(|i| layout(i, n)).collect();
                let mut set = rustc_hash::FxHashSet::default();
                set.extend(keys.iter().cloned());
                assert_eq!(set.len(), n);
            },
            |&n| {
                let (g, last) = chain_with(layout, n);
                let plan = Plan::new(&g, &[last]).unwrap();
                assert_eq!(plan.len(), n);
            },
        );
        // And the answer: the last key of the chain counts its length.
        let (g, last) = chain_with(layout, 1000);
        assert_eq!(
            blockwork::Sequential::new().get(&g, last).unwrap(),
            Value::Int(999),
            "{name}"
        );
    }
}
