//! Scheduler benchmarks (placeholder until written).
fn main() {}
