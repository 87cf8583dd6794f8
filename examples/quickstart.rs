//! The quick start: dask's `inc`/`add` example, then a million-leaf tree reduction on a
//! pinned two-thread pool, checked against the sequential executor, with run statistics.
//!
//! `cargo run --release --example quickstart`

use blockwork::{Arg, Executor, GraphBuilder, Key, Op, Plan, Pool, Sequential, Value};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> blockwork::Result<()> {
    // x = 1; y = inc(x); z = add(y, 10)
    let inc = Op::typed("inc", |x: i64| x + 1);
    let add = Op::typed("add", |a: i64, b: i64| a.wrapping_add(b));
    let mut g = GraphBuilder::new();
    g.literal("x", 1)?;
    g.task("y", &inc, [Arg::key("x")])?;
    g.task("z", &add, [Arg::key("y"), Arg::lit(10)])?;
    let pool = Pool::new(2)?;
    let z = pool.get(&g.build(), "z")?;
    println!("z = {z:?}");
    assert_eq!(z, Value::Int(12));

    // A binary tree reduction over 2^20 leaves: ('t', level, i).
    let leaves = 1usize << 20;
    let mut g = GraphBuilder::with_capacity(2 * leaves);
    for i in 0..leaves {
        g.literal(("t", 0, i), i as i64)?;
    }
    let (mut level, mut width) = (0, leaves);
    while width > 1 {
        for i in 0..width / 2 {
            let args = [
                Arg::key(("t", level, 2 * i)),
                Arg::key(("t", level, 2 * i + 1)),
            ];
            g.task(("t", level + 1, i), &add, args)?;
        }
        width /= 2;
        level += 1;
    }
    let graph = g.build();
    let plan = Plan::new(&graph, &[Key::from(("t", level, 0))])?;
    let out = pool.run(&plan)?;
    let reference = Sequential::new().run(&plan)?;
    assert_eq!(out.values, reference.values);
    let s = &out.stats;
    println!(
        "tree of {} tasks: sum = {:?}; {:.1} ns/task on {} threads, {} steals, peak {} live values",
        plan.len(),
        out.values[0],
        s.wall.as_nanos() as f64 / plan.len() as f64,
        s.threads,
        s.steals,
        s.peak_live_values,
    );
    Ok(())
}
