#!/usr/bin/env bash
# Runs the array benchmark cases (perf/BENCHMARKS.md §2) one process each, with 1 and 2 worker
# threads, printing the median time and the peak RSS of each process.
#   perf/array_bench.sh [CASES] [REPEATS]      e.g. perf/array_bench.sh "a b c d e f g" 5
set -eu
cases=${1:-"a b c d e f g"}
reps=${2:-5}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --example array_bench >/dev/null 2>&1
for c in $cases; do
  for t in 1 2; do
    out=$( { /usr/bin/time -f "rss_kb %M" "$target/release/examples/array_bench" "$c" "$t" "$reps"; } 2>&1 )
    line=$(echo "$out" | grep "^case")
    rss=$(echo "$out" | awk '/^rss_kb/ {printf "%.0f", $2/1024}')
    echo "$line | peak RSS ${rss} MB | load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
