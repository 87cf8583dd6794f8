use super::*;
use crate::ErrorKind;
use crate::graph::{Arg, GraphBuilder, Op};

fn id_op() -> Op {
    Op::typed("id", |x: i64| x)
}

#[test]
fn ids_are_post_order_and_csr_is_consistent() {
    let add = Op::typed("add", |a: i64, b: i64| a + b);
    let mut b = GraphBuilder::new();
    b.literal("a", 1).unwrap();
    b.literal("b", 2).unwrap();
    b.task("c", &add, [Arg::key("a"), Arg::key("b")]).unwrap();
    b.task("d", &add, [Arg::key("c"), Arg::key("c")]).unwrap();
    let plan = Plan::new(&b.build(), &[Key::from("d")]).unwrap();
    assert_eq!(plan.len(), 4);
    for t in plan.tasks() {
        for d in plan.deps(t) {
            assert!(d < &t);
            assert!(plan.users(*d).contains(&t));
        }
        assert_eq!(plan.n_deps()[t.index()] as usize, plan.deps(t).len());
    }
    let d = plan.outputs()[0];
    assert_eq!(plan.key(d), &Key::from("d"));
    assert_eq!(plan.deps(d).len(), 1, "repeated argument is one dependency");
    assert_eq!(plan.n_users()[d.index()], 1, "output hold");
    assert_eq!(plan.roots().len(), 2);
}

#[test]
fn aliases_are_followed_and_culled() {
    let mut b = GraphBuilder::new();
    b.literal("x", 1).unwrap();
    b.alias("y", "x").unwrap();
    b.task("z", &id_op(), [Arg::key("y")]).unwrap();
    b.task("w", &id_op(), [Arg::key("q")]).unwrap();
    let plan = Plan::new(&b.build(), &[Key::from("z")]).unwrap();
    assert_eq!(plan.len(), 2);
}

#[test]
fn alias_cycle_is_an_error() {
    let mut b = GraphBuilder::new();
    b.alias("a", "b").unwrap();
    b.alias("b", "a").unwrap();
    let err = Plan::new(&b.build(), &[Key::from("a")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cycle);
}

#[test]
fn too_deep_nesting_is_an_error() {
    let mut arg = Arg::lit(1);
    for _ in 0..(MAX_NESTING + 5) {
        arg = Arg::list([arg]);
    }
    let mut b = GraphBuilder::new();
    b.task("x", &Op::new("f", |_| Ok(crate::Value::Unit)), [arg])
        .unwrap();
    let err = Plan::new(&b.build(), &[Key::from("x")]).unwrap_err();
    // Evaluation recurses over argument trees, so deep literal-only nesting is rejected too.
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

#[test]
fn derived_state_is_taken_only_when_it_fits_and_freed_with_the_plan() {
    let plan = Plan::new(&Graph::new(), &[]).unwrap();
    assert!(plan.take_derived::<u32>(|_| true).is_none());
    let alive = std::sync::Arc::new(());
    plan.put_derived(Box::new((7u32, alive.clone())));
    // Another type, or a state that does not fit: left in place.
    assert!(plan.take_derived::<u32>(|_| true).is_none());
    assert!(
        plan.take_derived::<(u32, std::sync::Arc<()>)>(|s| s.0 == 8)
            .is_none()
    );
    let taken = plan.take_derived::<(u32, std::sync::Arc<()>)>(|s| s.0 == 7);
    assert_eq!(taken.as_ref().map(|s| s.0), Some(7));
    // Taken out: a second taker finds nothing until it is put back.
    assert!(
        plan.take_derived::<(u32, std::sync::Arc<()>)>(|_| true)
            .is_none()
    );
    plan.put_derived(taken.unwrap());
    assert_eq!(std::sync::Arc::strong_count(&alive), 2);
    drop(plan);
    assert_eq!(
        std::sync::Arc::strong_count(&alive),
        1,
        "freed with the plan"
    );
}
