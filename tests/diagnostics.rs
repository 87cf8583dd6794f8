//! Benchmark shapes against plain loops, and the diagnostics (graph info, DOT, progress,
//! profile) against what the graphs and runs must give.

use blockwork::bench_shapes::{self, SHAPES, shape_tasks};
use blockwork::diagnostics::{GraphInfo, Observers, Profile, Progress, to_dot};
use blockwork::{Executor, Plan, Pool, RunOptions, Sequential, Value};
use std::sync::Arc;

/// The shapes' results computed with loops over plain integers, as the serial baseline of
/// the benchmarks does.
fn reference(shape: &str, n: usize) -> u32 {
    match shape {
        "independent" | "tree" => (0..n as u32).fold(0u32, |a, i| a.wrapping_add(i + 1)),
        "chain" => n as u32,
        "wavefront" => {
            let s = n.isqrt();
            let mut w = vec![0u32; s * s];
            for i in 0..s {
                for j in 0..s {
                    let up = if i > 0 { w[(i - 1) * s + j] } else { 0 };
                    let left = if j > 0 { w[i * s + j - 1] } else { 0 };
                    w[i * s + j] = if i == 0 && j == 0 {
                        1
                    } else {
                        up.wrapping_add(left)
                    };
                }
            }
            w[s * s - 1]
        }
        "random_dag" => {
            let mut state = 42u64;
            let mut next = || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            };
            let (mut vals, mut used) = (Vec::new(), vec![false; n]);
            for i in 0..n {
                let mut deps = Vec::new();
                if i > 0 {
                    let k = 1 + next() % 4;
                    deps = (0..k).map(|_| (next() % i as u64) as usize).collect();
                    deps.sort_unstable();
                    deps.dedup();
                }
                deps.iter().for_each(|&d| used[d] = true);
                vals.push(deps.iter().fold(1u32, |a, &d| a.wrapping_add(vals[d])));
            }
            (0..n)
                .filter(|&i| !used[i])
                .fold(0u32, |a, i| a.wrapping_add(vals[i]))
        }
        _ => unreachable!(),
    }
}

#[test]
fn shapes_compute_what_plain_loops_compute() {
    let pool = Pool::new(2).unwrap();
    for &name in SHAPES {
        for n in [1, 2, 3, 17, 1000, 4099] {
            let (g, out) = bench_shapes::shape(name, n).unwrap();
            let plan = Plan::new(&g, &out).unwrap();
            let want = Value::Int(i64::from(reference(name, n)));
            assert_eq!(
                Sequential::new().run(&plan).unwrap().values,
                vec![want.clone()],
                "{name} {n}"
            );
            let par = pool.run(&plan).unwrap();
            assert_eq!(par.values, vec![want], "{name} {n}");
            assert_eq!(par.stats.leaked_values, 0);
            let counted = g.len()
                - match name {
                    "independent" | "random_dag" => g.keys().filter(|k| k.name() == "join").count(),
                    _ => 0,
                };
            assert_eq!(counted, shape_tasks(name, n), "{name} {n}");
        }
    }
}

#[test]
fn info_matches_definitions() {
    // A binary tree of 2^k leaves: k + 1 levels, the leaves the widest, a critical path of
    // one task per level.
    let (g, _) = bench_shapes::tree(1 << 6);
    let info = GraphInfo::of(&g).unwrap();
    assert_eq!(
        (info.nodes, info.tasks, info.edges),
        ((1 << 7) - 1, (1 << 7) - 1, (1 << 7) - 2)
    );
    assert_eq!(
        (info.depth, info.width, info.critical_path.len(), info.sinks),
        (7, 1 << 6, 7, 1)
    );
    assert_eq!(info.ops.get("add_u32"), Some(&((1 << 6) - 1)));
    // The critical path is a chain of dependencies ending at the root.
    for pair in info.critical_path.windows(2) {
        let node = g.get(&pair[1]).unwrap();
        assert!(node.dependencies().contains(&pair[0]), "{pair:?}");
    }
    // Independent tasks: one level of n, joined by a fan-in-8 tree.
    let (g, _) = bench_shapes::independent(64);
    let info = GraphInfo::of(&g).unwrap();
    assert_eq!((info.width, info.depth), (64, 3));
    // A long chain: computed without recursion.
    let (g, _) = bench_shapes::chain(200_000);
    let info = GraphInfo::of(&g).unwrap();
    assert_eq!(
        (info.depth, info.width, info.critical_path.len()),
        (200_000, 1, 200_000)
    );
}

#[test]
fn dot_escapes_and_cuts_labels() {
    let mut b = blockwork::GraphBuilder::new();
    b.literal("quote\"back\\slash\nline", "v").unwrap();
    b.literal("long", Value::from("x".repeat(500))).unwrap();
    let dot = to_dot(&b.build(), &[]);
    assert!(dot.contains(r#"quote\"back\\slash\nline"#), "{dot}");
    assert!(dot.lines().all(|l| l.chars().count() < 200), "{dot}");
}

#[test]
fn progress_and_profile_see_every_task_once() {
    let (g, out) = bench_shapes::random_dag(5000);
    let plan = Plan::new(&g, &out).unwrap();
    let pool = Pool::builder().threads(3).pin(false).build().unwrap();
    let (progress, profile) = (Arc::new(Progress::hidden()), Arc::new(Profile::new()));
    let both = Arc::new(Observers(vec![progress.clone(), profile.clone()]));
    pool.run_with(&plan, &RunOptions::with_observer(both))
        .unwrap();
    assert_eq!(
        (progress.finished(), progress.total()),
        (plan.len() as u64, plan.len() as u64)
    );
    let spans = profile.spans();
    let mut seen = vec![false; plan.len()];
    for s in &spans {
        assert!(
            !std::mem::replace(&mut seen[s.task.index()], true),
            "{s:?} twice"
        );
        assert!(s.start <= s.end && s.worker < 3);
    }
    assert!(seen.iter().all(|&s| s));
    // On one worker, tasks run one after another.
    for w in 0..3 {
        let mine: Vec<_> = spans.iter().filter(|s| s.worker == w).collect();
        for pair in mine.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{pair:?}");
        }
    }
    // Every dependency finished before its user started.
    let by_task: Vec<_> = {
        let mut v = spans.clone();
        v.sort_by_key(|s| s.task);
        v
    };
    for t in plan.tasks() {
        for d in plan.deps(t) {
            assert!(by_task[d.index()].end <= by_task[t.index()].start);
        }
    }
}

#[test]
fn progress_bar_with_a_short_delay_draws_and_stops() {
    let (g, out) = bench_shapes::independent(8);
    let spin = blockwork::spec::builtin("spin").unwrap();
    let mut b = blockwork::GraphBuilder::new();
    b.task("slow", &spin, [blockwork::Arg::lit(300_000_000i64)])
        .unwrap();
    let mut g = g;
    g.merge(&b.build()).unwrap();
    let mut keys = out;
    keys.push("slow".into());
    let plan = Plan::new(&g, &keys).unwrap();
    let progress = Arc::new(Progress::with_delay(std::time::Duration::from_millis(50)));
    Pool::new(2)
        .unwrap()
        .run_with(&plan, &RunOptions::with_observer(progress.clone()))
        .unwrap();
    assert_eq!(progress.finished(), plan.len() as u64);
}
