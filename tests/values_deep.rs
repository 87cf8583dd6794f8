//! Values nested a million deep drop, compare and print without recursion, and lists compare
//! as their elements do.

use blockwork::Value;

const DEEP: usize = 1_000_000;

/// `[[[...[leaf]...]]]`, `depth` lists around `leaf`.
fn nested(depth: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..depth {
        v = Value::list([v]);
    }
    v
}

/// Runs `f` on a thread with a 256 KiB stack: recursion a million deep would overflow it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}

#[test]
fn deep_list_drops_on_a_small_stack() {
    let dropped = on_small_stack(|| {
        let v = nested(DEEP, Value::Int(7));
        drop(v);
        true
    });
    assert!(dropped);
}

#[test]
fn deep_list_shared_then_dropped_last_frees_it_all() {
    on_small_stack(|| {
        let v = nested(DEEP, Value::Int(7));
        let w = v.clone();
        drop(v); // shared: only a count goes down
        drop(w); // the last holder frees the whole chain
    });
}

#[test]
fn deep_lists_compare_on_a_small_stack() {
    let (same, differ, by_value) = on_small_stack(|| {
        let a = nested(DEEP, Value::Int(1));
        let b = nested(DEEP, Value::Int(1));
        let c = nested(DEEP, Value::Int(2));
        let d = nested(DEEP, Value::Float(1.0));
        (a == b, a == c, a.eq_by_value(&d, usize::MAX))
    });
    assert!(same);
    assert!(!differ);
    assert_eq!(by_value, Some(true));
}

#[test]
fn deep_list_formats_on_a_small_stack() {
    let text = on_small_stack(|| format!("{:?}", nested(DEEP, Value::Int(3))));
    // Compare with the text built by a loop.
    let expected = format!("{}3{}", "[".repeat(DEEP), "]".repeat(DEEP));
    assert_eq!(text, expected);
}

#[test]
fn debug_text_matches_the_usual_form() {
    let v = Value::list([
        Value::Int(1),
        Value::list([Value::from("a"), Value::Float(2.5)]),
        Value::list(Vec::<Value>::new()),
        Value::Unit,
        Value::Bool(true),
    ]);
    assert_eq!(format!("{v:?}"), r#"[1, ["a", 2.5], [], (), true]"#);
}

#[test]
fn lists_compare_by_value_as_their_elements_do() {
    let nan = Value::Float(f64::NAN);
    // Scalars: the reference the lists must agree with.
    assert_eq!(nan.eq_by_value(&nan, 10), Some(false));
    assert_eq!(
        Value::Int(1).eq_by_value(&Value::Float(1.0), 10),
        Some(true)
    );
    let l_nan = Value::list([nan.clone()]);
    assert_eq!(l_nan.eq_by_value(&l_nan.clone(), 10), Some(false));
    assert_eq!(
        Value::list([1i64]).eq_by_value(&Value::list([1.0]), 10),
        Some(true)
    );
    assert_eq!(
        Value::list([Value::list([1i64, 2])])
            .eq_by_value(&Value::list([Value::list([1.0, 2.5])]), 10),
        Some(false)
    );
    // Structural equality (for comparing results) keeps NaN == NaN and int != float.
    assert_eq!(l_nan, l_nan.clone());
    assert_ne!(Value::list([1i64]), Value::list([1.0]));
}

/// `levels` lists, each holding the one below `width` times: `width^levels` leaves.
fn shared(levels: usize, width: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..levels {
        v = Value::list(vec![v; width]);
    }
    v
}

#[test]
fn shared_lists_compare_in_time_linear_in_their_parts() {
    // 2^59 leaves on each side, built separately, so identity cannot short-cut the top.
    let a = shared(59, 2, Value::Int(1));
    let b = shared(59, 2, Value::Float(1.0));
    assert_eq!(a.eq_by_value(&b, 10_000), Some(true));
    assert!(a == a.clone());
    let c = shared(59, 2, Value::Int(1));
    assert!(a == c);
    // A NaN inside makes them unequal by value however shared.
    let n = shared(59, 2, Value::Float(f64::NAN));
    assert_eq!(n.eq_by_value(&n.clone(), 10_000), Some(false));
}

#[test]
fn comparison_past_the_element_budget_is_reported() {
    // Equal pairs are remembered, so a budget only bites on many distinct elements.
    let a = Value::list((0..1000i64).collect::<Vec<_>>());
    let b = Value::list((0..1000i64).collect::<Vec<_>>());
    assert_eq!(a.eq_by_value(&b, 999), None);
    assert_eq!(a.eq_by_value(&b, 1000), Some(true));
}

#[test]
fn deep_size_counts_shared_sublists_each_time_and_stops_at_the_limit() {
    let slot = std::mem::size_of::<Value>();
    let v = shared(3, 10, Value::from("ab"));
    // Reference by formula: 1 + 10 + 100 + 1000 slots, 1000 strings of 2 bytes.
    let expected = slot * (1 + 10 + 100 + 1000) + 2 * 1000;
    assert_eq!(v.deep_size(usize::MAX), Some(expected));
    assert_eq!(v.deep_size(expected), Some(expected));
    assert_eq!(v.deep_size(expected - 1), None);
    // 1000^4 leaves: refused quickly.
    assert_eq!(shared(4, 1000, Value::Int(0)).deep_size(1 << 30), None);
}
