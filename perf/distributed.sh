#!/usr/bin/env bash
# Costs of the distributed executor (examples/distributed_bench.rs): a chain alternating
# between two ranks at every task (the cost of a cross-rank edge) and a random DAG of 1e5
# nodes over 2 ranks, each against one rank's pool alone. Needs Open MPI (see
# docs/distributed.md). Measure on an otherwise idle machine. The comparison with
# dask.distributed on the scheduler shapes, arrays and the word count is
# `perf/run --only distributed`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features distributed --example distributed_bench
run() { mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$1" target/release/examples/distributed_bench "${@:2}"; }
run 2 xchain 20000
run 2 xdag 100000
run 2 xdag 100000 2
