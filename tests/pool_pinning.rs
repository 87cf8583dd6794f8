//! Pinning claims cores process-wide: a second pool does not pin onto the first pool's
//! cores, cores come back when a pool is dropped, and chosen cores are used as given.
//!
//! One test in this binary on purpose: other tests building pools at the same time would
//! claim cores too.

use blockwork::Pool;
use std::collections::HashSet;

#[test]
fn pools_pin_to_distinct_free_cores() {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = Pool::builder().threads(available).build().unwrap();
    let first_cores: HashSet<usize> = first.cores().iter().flatten().copied().collect();
    if first_cores.is_empty() {
        // This platform cannot list cores: nothing is pinned, which is allowed.
        assert!(!first.pinned());
        return;
    }
    assert_eq!(
        first_cores.len(),
        first.cores().iter().flatten().count(),
        "one core each"
    );
    // Every core of the machine is taken: a second pool runs unpinned.
    let second = Pool::builder().threads(2).build().unwrap();
    let second_cores: HashSet<usize> = second.cores().iter().flatten().copied().collect();
    assert!(
        second_cores.is_disjoint(&first_cores),
        "{second_cores:?} overlaps {first_cores:?}"
    );
    drop(second);
    drop(first);
    // The cores are free again.
    let third = Pool::builder().threads(1).build().unwrap();
    assert!(third.pinned());
    // Chosen cores are used as given, even when claimed.
    let core = third.cores()[0].unwrap();
    let chosen = Pool::builder().threads(2).cores(&[core]).build().unwrap();
    assert_eq!(chosen.cores(), &[Some(core), None]);
    // Unpinned on request.
    let unpinned = Pool::builder().threads(2).pin(false).build().unwrap();
    assert!(!unpinned.pinned());
}
