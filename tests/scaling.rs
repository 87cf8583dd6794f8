//! Graph algorithms scale linearly: on alias chains and wide fan-ins, ten times the size must
//! cost less than thirty times the time (or, where caches make even a hash-set pass grow
//! faster, less than three times its growth). Both sizes are measured in the same test (best
//! of three, one test at a time), so the ratio does not depend on the machine's speed; each
//! case runs in well under a second.

use blockwork::diagnostics::{GraphInfo, to_dot};
use blockwork::graph::optimize::{cull, dealias, fuse, inline};
use blockwork::spec::{Spec, builtin};
use blockwork::{Arg, Executor, Graph, GraphBuilder, Key, Plan, Task, Value};
use std::time::{Duration, Instant};

/// The scaling tests run one at a time, so that they do not disturb each other's timings.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The fastest of three runs of `f` on `input`.
fn best_of_3<T>(input: &T, f: &dyn Fn(&T)) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f(input);
            t.elapsed()
        })
        .min()
        .expect("three runs")
}

/// Asserts that `f` on the input of size `10 n` costs less than 30 times `f` on the one of size
/// `n`, or, where the machine's caches make even a linear pass grow faster than tenfold,
/// less than 3 times as much more as `linear` (a hash-set pass over the same graph) grows.
/// A quadratic step grows a hundredfold and fails either way.
fn assert_linear<T>(
    what: &str,
    (n, small_input, large_input): &(usize, T, T),
    linear: impl Fn(&T),
    f: impl Fn(&T),
) {
    let n = *n;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    f(small_input); // warm up
    let ratio = |g: &dyn Fn(&T)| {
        let small = best_of_3(small_input, g);
        let large = best_of_3(large_input, g);
        // A floor keeps a tiny `small` (timer noise) from failing a linear algorithm.
        let r = large.as_secs_f64() / small.as_secs_f64().max(1e-4);
        (r, small, large)
    };
    let (r, small, large) = ratio(&f);
    let (base, ..) = ratio(&linear);
    assert!(
        r < 30.0 || r < 3.0 * base,
        "{what}: {n} took {small:?}, {} took {large:?} (x{r:.1}; a linear pass: x{base:.1})",
        10 * n
    );
}

/// The inputs of sizes `n` and `10 n`.
fn sizes<T>(n: usize, setup: impl Fn(usize) -> T) -> (usize, T, T) {
    (n, setup(n), setup(10 * n))
}

/// A linear pass over a graph: its keys into a hash set.
fn hash_keys(g: &Graph) {
    let set: std::collections::HashSet<&Key> = g.keys().collect();
    assert_eq!(set.len(), g.len());
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
    assert_linear("validate", &chains, hash_keys, |g| g.validate().unwrap());
    assert_linear("plan every alias", &chains, hash_keys, |g| {
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
    let err = b.build().validate().unwrap_err();
    assert_eq!(err.kind(), blockwork::ErrorKind::Cycle);
}

#[test]
fn optimizations_on_alias_chains_are_linear() {
    let chains = sizes(10_000, |n| {
        (alias_chain(n), [Key::from(format!("a{}", n - 1))])
    });
    assert_linear(
        "cull",
        &chains,
        |(g, _)| hash_keys(g),
        |(g, last)| {
            assert_eq!(cull(g, last).unwrap().len(), g.len());
        },
    );
    assert_linear(
        "dealias",
        &chains,
        |(g, _)| hash_keys(g),
        |(g, last)| {
            dealias(g, last);
        },
    );
    assert_linear(
        "inline",
        &chains,
        |(g, _)| hash_keys(g),
        |(g, last)| {
            inline(g, last, true);
        },
    );
    assert_linear(
        "fuse",
        &chains,
        |(g, _)| hash_keys(g),
        |(g, last)| {
            fuse(g, last);
        },
    );
    assert_linear(
        "info",
        &chains,
        |(g, _)| hash_keys(g),
        |(g, _)| {
            GraphInfo::of(g).unwrap();
        },
    );
    let texts = sizes(10_000, |n| {
        Spec::new(alias_chain(n), Vec::<Key>::new())
            .to_json()
            .unwrap()
    });
    let scan = |t: &String| assert!(t.bytes().filter(|&b| b == b'{').count() > 0);
    assert_linear("read spec", &texts, scan, |t| {
        Spec::from_json(t).unwrap();
    });
}

#[test]
fn fan_ins_are_linear() {
    let fans = sizes(10_000, fan_in);
    assert_linear("dependencies", &fans, hash_keys, |g| {
        let node = g.get(&Key::from("sink")).unwrap();
        assert_eq!(node.dependencies().len(), g.len() - 1);
    });
    assert_linear("dependents", &fans, hash_keys, |g| {
        let d = g.dependents();
        assert_eq!(d[&Key::from("x0")], [Key::from("sink")]);
    });
    assert_linear("dot", &fans, hash_keys, |g| {
        let dot = to_dot(g, &[]);
        assert_eq!(dot.matches(" -> ").count(), g.len() - 1);
    });
    assert_linear("info", &fans, hash_keys, |g| {
        GraphInfo::of(g).unwrap();
    });
    assert_linear("validate", &fans, hash_keys, |g| g.validate().unwrap());
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
