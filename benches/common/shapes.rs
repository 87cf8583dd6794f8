//! Generators of the five scheduler-overhead shapes of BENCHMARKS.md §1, shared by the
//! criterion benches and the profiling example.

use blockwork::{Arg, Graph, GraphBuilder, Key, Op, Value};

pub(crate) fn inc() -> Op {
    Op::typed("inc", |x: i64| x.wrapping_add(1))
}
pub(crate) fn add() -> Op {
    Op::typed("add", |a: i64, b: i64| a.wrapping_add(b))
}
pub(crate) fn sum() -> Op {
    Op::new("sum", |args: &[Value]| {
        Ok(Value::Int(
            args.iter()
                .filter_map(Value::as_int)
                .fold(0i64, i64::wrapping_add),
        ))
    })
}

pub(crate) fn independent(n: usize) -> (Graph, Key) {
    let (inc, sum) = (inc(), sum());
    let mut b = GraphBuilder::with_capacity(n + 1);
    for i in 0..n {
        b.task(("x", i), &inc, [Arg::lit(i as i64)]).unwrap();
    }
    b.task("join", &sum, (0..n).map(|i| Arg::key(("x", i))))
        .unwrap();
    (b.build(), Key::from("join"))
}

pub(crate) fn chain(n: usize) -> (Graph, Key) {
    let inc = inc();
    let mut b = GraphBuilder::with_capacity(n);
    b.literal(("x", 0), 0).unwrap();
    for i in 1..n {
        b.task(("x", i), &inc, [Arg::key(("x", i - 1))]).unwrap();
    }
    (b.build(), Key::from(("x", n - 1)))
}

pub(crate) fn tree(leaves: usize) -> (Graph, Key) {
    let add = add();
    let mut b = GraphBuilder::with_capacity(2 * leaves);
    for i in 0..leaves {
        b.literal(("t", 0, i), i as i64).unwrap();
    }
    let (mut level, mut width) = (0usize, leaves);
    while width > 1 {
        for i in 0..width / 2 {
            let args = [
                Arg::key(("t", level, 2 * i)),
                Arg::key(("t", level, 2 * i + 1)),
            ];
            b.task(("t", level + 1, i), &add, args).unwrap();
        }
        if width % 2 == 1 {
            b.alias(("t", level + 1, width / 2), ("t", level, width - 1))
                .unwrap();
        }
        width = width.div_ceil(2);
        level += 1;
    }
    (b.build(), Key::from(("t", level, 0)))
}

pub(crate) fn wavefront(n: usize) -> (Graph, Key) {
    let side = (n as f64).sqrt() as usize;
    let (inc, add) = (inc(), add());
    let mut b = GraphBuilder::with_capacity(side * side);
    for i in 0..side {
        for j in 0..side {
            let k = ("w", i, j);
            match (i, j) {
                (0, 0) => b.literal(k, 1).unwrap(),
                (0, _) => b.task(k, &inc, [Arg::key(("w", 0, j - 1))]).unwrap(),
                (_, 0) => b.task(k, &inc, [Arg::key(("w", i - 1, 0))]).unwrap(),
                _ => b
                    .task(
                        k,
                        &add,
                        [Arg::key(("w", i - 1, j)), Arg::key(("w", i, j - 1))],
                    )
                    .unwrap(),
            };
        }
    }
    (b.build(), Key::from(("w", side - 1, side - 1)))
}

pub(crate) fn random_dag(n: usize) -> (Graph, Key) {
    let sum = sum();
    let mut rng = 0x5EED_u64;
    let mut next = move || {
        rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut has_user = vec![false; n];
    let mut b = GraphBuilder::with_capacity(n + 1);
    for i in 0..n {
        let k = if i == 0 { 0 } else { (next() % 5) as usize };
        let mut args = Vec::with_capacity(k.max(1));
        for _ in 0..k {
            let d = (next() % i as u64) as usize;
            has_user[d] = true;
            args.push(Arg::key(("r", d)));
        }
        if args.is_empty() {
            args.push(Arg::lit(i as i64));
        }
        b.task(("r", i), &sum, args).unwrap();
    }
    let sinks = (0..n).filter(|&i| !has_user[i]).map(|i| Arg::key(("r", i)));
    b.task("sinks", &sum, sinks.collect::<Vec<_>>()).unwrap();
    (b.build(), Key::from("sinks"))
}

pub(crate) type Shape = fn(usize) -> (Graph, Key);
pub(crate) const SHAPES: [(&str, Shape); 5] = [
    ("independent", independent),
    ("chain", chain),
    ("tree", tree),
    ("wavefront", wavefront),
    ("random_dag", random_dag),
];
