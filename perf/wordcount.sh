#!/usr/bin/env bash
# The bag word count of perf/BENCHMARKS.md §3: 200 MB in 16 files, lines -> words ->
# frequencies -> top 10, on 2 threads, median of 5 runs (warm page cache).
#
#   perf/wordcount.sh [DIR] [MB] [THREADS]
#
# The corpus is generated into DIR (default /tmp/blockwork-corpus) when DIR has no .txt file.
set -euo pipefail
dir=${1:-/tmp/blockwork-corpus}
mb=${2:-200}
threads=${3:-2}
cd "$(dirname "$0")/.."
cargo build --release --example wordcount
bin=${CARGO_TARGET_DIR:-target}/release/examples/wordcount
if ! ls "$dir"/*.txt >/dev/null 2>&1; then
  "$bin" --generate "$dir" --mb "$mb" --runs 1 >/dev/null
fi
cat "$dir"/*.txt >/dev/null   # warm the page cache
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" --threads "$threads" --runs 5 "$dir/*.txt"
