//! The scheduler-overhead shapes of the benchmarks, as graph generators.
//!
//! Each task does almost nothing ([`inc_u32`] or [`add_u32`], wrapping at 2^32), so running
//! a shape measures the engine's own cost per task. The shapes, their keys and their
//! results are those of the cross-engine harness (`perf/`): the same graph in dask, oneTBB or
//! rayon computes the same check value. Each generator returns the graph and its one output.
//!
//! ```
//! use blockwork::bench_shapes;
//! use blockwork::{Executor, Sequential, Value};
//! let (g, out) = bench_shapes::chain(1000);
//! assert_eq!(g.len(), 1000);
//! assert_eq!(Sequential::new().get(&g, out[0].clone())?, Value::Int(1000));
//! # Ok::<(), blockwork::Error>(())
//! ```

use crate::error::{ErrorKind, TaskError};
use crate::graph::{Arg, Graph, GraphBuilder, Op};
use crate::key::Key;
use crate::value::Value;
use std::sync::{Arc, OnceLock};

/// The five shapes, by the names `shape` and the `bench` command take.
pub const SHAPES: &[&str] = &["independent", "chain", "tree", "wavefront", "random_dag"];

/// Seed of the random DAG's generator (splitmix64), shared with the other engines' versions.
pub const RANDOM_DAG_SEED: u64 = 42;

/// Fan-in of the summing tree that joins many keys into one.
pub const JOIN_FAN_IN: usize = 8;

struct Ops {
    inc: Op,
    add: Op,
}

fn ops() -> Ops {
    Ops {
        inc: inc_u32(),
        add: add_u32(),
    }
}

fn u32_arg(v: &Value) -> Result<u64, TaskError> {
    v.as_int().map(|i| i as u64).ok_or_else(|| {
        TaskError::with_kind(
            ErrorKind::Type,
            format!("expected an int, got {}", v.type_name()),
        )
    })
}

/// The op `inc_u32` of every shape: its one argument plus 1, modulo 2^32.
///
/// It computes what the spec builtin of the same name computes, but it is a distinct op: to
/// write a shape to a spec file, register it (and [`add_u32`]) in a
/// [`Registry`](crate::spec::Registry) of its own. Every call returns the same op.
///
/// ```
/// use blockwork::Value;
/// let inc = blockwork::bench_shapes::inc_u32();
/// assert_eq!(inc.call(&[Value::Int(u32::MAX as i64)])?, Value::Int(0));
/// # Ok::<(), blockwork::TaskError>(())
/// ```
pub fn inc_u32() -> Op {
    static OP: OnceLock<Op> = OnceLock::new();
    OP.get_or_init(|| {
        Op::new("inc_u32", |args: &[Value]| {
            let [a] = args else {
                return Err(TaskError::with_kind(
                    ErrorKind::Type,
                    format!("inc_u32 takes 1 argument, got {}", args.len()),
                ));
            };
            Ok(Value::Int(
                (u32_arg(a)?.wrapping_add(1) & 0xFFFF_FFFF) as i64,
            ))
        })
    })
    .clone()
}

/// The op `add_u32` of the shapes' joins: the sum of its arguments modulo 2^32 (see
/// [`inc_u32`] on spec files). Every call returns the same op.
///
/// ```
/// use blockwork::Value;
/// let add = blockwork::bench_shapes::add_u32();
/// assert_eq!(add.call(&[Value::Int(u32::MAX as i64), Value::Int(2)])?, Value::Int(1));
/// # Ok::<(), blockwork::TaskError>(())
/// ```
pub fn add_u32() -> Op {
    static OP: OnceLock<Op> = OnceLock::new();
    OP.get_or_init(|| {
        Op::new("add_u32", |args: &[Value]| {
            let mut sum = 0u64;
            for v in args {
                sum = sum.wrapping_add(u32_arg(v)?);
            }
            Ok(Value::Int((sum & 0xFFFF_FFFF) as i64))
        })
    })
    .clone()
}

/// A graph and its outputs.
pub type Shape = (Graph, Vec<Key>);

/// The shape called `name` with `n` tasks (see [`SHAPES`]); `latency10` ignores `n`.
pub fn shape(name: &str, n: usize) -> Option<Shape> {
    Some(match name {
        "independent" => independent(n),
        "chain" => chain(n),
        "tree" => tree(n),
        "wavefront" => wavefront(n),
        "random_dag" => random_dag(n),
        "latency10" => latency10(),
        _ => return None,
    })
}

/// The nominal task count a shape's time is divided by: `n`, `2n - 1` for `tree`, the
/// square of `isqrt(n)` for `wavefront` (the join tasks of `independent` and `random_dag`
/// are not counted, as in the other engines' figures).
pub fn shape_tasks(name: &str, n: usize) -> usize {
    match name {
        "tree" => (2 * n).saturating_sub(1),
        "wavefront" => n.isqrt() * n.isqrt(),
        "latency10" => 10,
        _ => n,
    }
}

/// Sums `keys` with a tree of `add_u32` tasks of fan-in [`JOIN_FAN_IN`] under
/// `(name, level, j)`; returns the root key.
fn join_tree(b: &mut GraphBuilder, add: &Op, name: &str, mut keys: Vec<Key>) -> Key {
    let name: Arc<str> = name.into();
    let mut level = 0;
    while keys.len() > 1 {
        let mut next = Vec::with_capacity(keys.len().div_ceil(JOIN_FAN_IN));
        for (j, group) in keys.chunks(JOIN_FAN_IN).enumerate() {
            let key = Key::block(&name, &[level, j]);
            let args = group.iter().map(|k| Arg::Ref(k.clone()));
            b.task(key.clone(), add, args).expect("fresh key");
            next.push(key);
        }
        keys = next;
        level += 1;
    }
    keys.pop().expect("at least one key")
}

/// `n` independent `inc_u32(i)` tasks, then a fan-in-8 tree of sums joining them.
pub fn independent(n: usize) -> Shape {
    let ops = ops();
    let mut b = GraphBuilder::with_capacity(n + n / 7 + 1);
    let x: Arc<str> = "x".into();
    let leaves: Vec<Key> = (0..n)
        .map(|i| {
            let k = Key::block(&x, &[i]);
            b.task(k.clone(), &ops.inc, [Arg::lit(i as i64)])
                .expect("fresh key");
            k
        })
        .collect();
    if leaves.is_empty() {
        return (b.build(), Vec::new());
    }
    let root = join_tree(&mut b, &ops.add, "join", leaves);
    (b.build(), vec![root])
}

/// `x_0 = inc_u32(0)`, `x_i = inc_u32(x_{i-1})`.
pub fn chain(n: usize) -> Shape {
    let ops = ops();
    let mut b = GraphBuilder::with_capacity(n);
    let x: Arc<str> = "x".into();
    for i in 0..n {
        let arg = if i == 0 {
            Arg::lit(0)
        } else {
            Arg::Ref(Key::block(&x, &[i - 1]))
        };
        b.task(Key::block(&x, &[i]), &ops.inc, [arg])
            .expect("fresh key");
    }
    let out = n.checked_sub(1).map(|last| Key::block(&x, &[last]));
    (b.build(), out.into_iter().collect())
}

/// A binary tree sum of `n` leaves `inc_u32(i)`: `2n - 1` tasks; an odd node out moves up a
/// level unchanged.
pub fn tree(n: usize) -> Shape {
    let ops = ops();
    let mut b = GraphBuilder::with_capacity(2 * n);
    let (leaf, node): (Arc<str>, Arc<str>) = ("leaf".into(), "node".into());
    let mut keys: Vec<Key> = (0..n)
        .map(|i| {
            let k = Key::block(&leaf, &[i]);
            b.task(k.clone(), &ops.inc, [Arg::lit(i as i64)])
                .expect("fresh key");
            k
        })
        .collect();
    let mut level = 0;
    while keys.len() > 1 {
        let mut next = Vec::with_capacity(keys.len().div_ceil(2));
        for (j, pair) in keys.chunks(2).enumerate() {
            if let [l, r] = pair {
                let k = Key::block(&node, &[level, j]);
                b.task(
                    k.clone(),
                    &ops.add,
                    [Arg::Ref(l.clone()), Arg::Ref(r.clone())],
                )
                .expect("fresh key");
                next.push(k);
            } else {
                next.push(pair[0].clone());
            }
        }
        keys = next;
        level += 1;
    }
    (b.build(), keys)
}

/// An `s x s` grid with `s = isqrt(n)`: `w(0,0) = inc_u32(0)`, and each other cell the
/// `add_u32` of the cells above and to the left of it (one of them on the borders).
pub fn wavefront(n: usize) -> Shape {
    let ops = ops();
    let s = n.isqrt();
    let mut b = GraphBuilder::with_capacity(s * s);
    let w: Arc<str> = "w".into();
    // The previous row's keys, replaced cell by cell with this row's.
    let mut row: Vec<Key> = Vec::with_capacity(s);
    for i in 0..s {
        for j in 0..s {
            let key = Key::block(&w, &[i, j]);
            if i == 0 && j == 0 {
                b.task(key.clone(), &ops.inc, [Arg::lit(0)])
                    .expect("fresh key");
                row.push(key);
                continue;
            }
            let mut args = Vec::with_capacity(2);
            if i > 0 {
                args.push(Arg::Ref(row[j].clone())); // (i - 1, j)
            }
            if j > 0 {
                args.push(Arg::Ref(row[j - 1].clone())); // (i, j - 1), already this row's
            }
            b.task(key.clone(), &ops.add, args).expect("fresh key");
            if i == 0 {
                row.push(key);
            } else {
                row[j] = key;
            }
        }
    }
    (b.build(), row.pop().into_iter().collect())
}

/// The splitmix64 generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `n` tasks `r_i = add_u32(1, r_j...)`: task `i > 0` draws `k = 1 + next % 4`, then `k`
/// indices `next % i`, deduplicated and sorted (splitmix64 from [`RANDOM_DAG_SEED`]). The
/// tasks nobody uses are joined by a fan-in-8 tree of sums.
pub fn random_dag(n: usize) -> Shape {
    let ops = ops();
    let mut rng = SplitMix64(RANDOM_DAG_SEED);
    let mut b = GraphBuilder::with_capacity(n + n / 4);
    let r: Arc<str> = "r".into();
    let mut used = vec![false; n];
    let mut deps = Vec::with_capacity(4);
    for i in 0..n {
        deps.clear();
        if i > 0 {
            let k = 1 + rng.next() % 4;
            deps.extend((0..k).map(|_| (rng.next() % i as u64) as usize));
            deps.sort_unstable();
            deps.dedup();
        }
        let mut args = Vec::with_capacity(deps.len() + 1);
        args.push(Arg::lit(1));
        for &d in &deps {
            used[d] = true;
            args.push(Arg::Ref(Key::block(&r, &[d])));
        }
        b.task(Key::block(&r, &[i]), &ops.add, args)
            .expect("fresh key");
    }
    let sinks: Vec<Key> = (0..n)
        .filter(|&i| !used[i])
        .map(|i| Key::block(&r, &[i]))
        .collect();
    if sinks.is_empty() {
        return (b.build(), Vec::new());
    }
    let root = join_tree(&mut b, &ops.add, "join", sinks);
    (b.build(), vec![root])
}

/// Ten tasks: `root = inc_u32(0)`, eight `("mid", i) = add_u32(root, i)`, and
/// `join = add_u32(mids...)`: the round-trip latency graph.
pub fn latency10() -> Shape {
    let ops = ops();
    let mut b = GraphBuilder::with_capacity(10);
    b.task("root", &ops.inc, [Arg::lit(0)]).expect("fresh key");
    let mids: Vec<Arg> = (0..8i64)
        .map(|i| {
            let k = Key::from(("mid", i));
            b.task(k.clone(), &ops.add, [Arg::key("root"), Arg::lit(i)])
                .expect("fresh key");
            Arg::Ref(k)
        })
        .collect();
    b.task("join", &ops.add, mids).expect("fresh key");
    (b.build(), vec![Key::from("join")])
}
