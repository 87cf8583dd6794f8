#!/usr/bin/env bash
# Larger than memory, through files: the disk's sequential bandwidth measured with dd, then
# examples/out_of_core.rs (write a random .npy, read it back, sqrt(2x + 1) and its mean, write
# that elementwise result to a second .npy, read the result's mean) at each size, with its
# peak RSS from /usr/bin/time -v. Every file it makes is removed, also on failure or ^C.
#
#   perf/out_of_core.sh [--dir DIR] [--sizes "8 32"] [--dd-gb 8] [--threads N] [--format npy]
#                       [--keep-cache]
#
# The files are streamed (ArrayContext::with_streaming_files): every phase reads from the
# disk, not the page cache, also at sizes under the machine's memory; --keep-cache runs the
# example with the system's default caching instead. For each size the disk's bound of the
# read-and-write phase is printed: the seconds dd needs to read the input (GB / dd read) plus
# those to write the output (output GB / dd write), one after the other on the one disk, and
# the phase's share of it.
#
# DIR (default perf/data/ooc) must be on the disk to measure, and hold nothing else: the
# temporary files of an unfinished write there (.blockwork-*.part) are removed too. Before each size the free space
# of DIR is checked: the run needs input + output (2 x GB) plus a 4 GB margin; where only an
# f32 output fits (1.5 x GB + 4) the result is written as f32 (said in the output), else the
# size is skipped. Sizes run one after the other, the files of one removed before the next.
# The machine's memory is printed beside the figures: with --keep-cache a size under it is
# read back partly from the page cache, so only the sizes over it show the disk.
set -euo pipefail

PERF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$PERF")"
DIR="$PERF/data/ooc"
SIZES="8 32"
DD_GB=8
THREADS=$(nproc)
FORMAT=npy
MARGIN_GB=4
KEEP_CACHE=

while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --dd-gb) DD_GB=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --format) FORMAT=$2; shift 2 ;;
        --keep-cache) KEEP_CACHE=--keep-cache; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

mkdir -p "$DIR"
DD_FILE="$DIR/dd-test.bin"
LOG=$(mktemp)
# The example's files, and the temporary files of a write it did not finish (killed).
cleanup() { rm -rf "$DD_FILE" "$LOG" "$LOG.out" "$DIR"/blockwork-ooc-* "$DIR"/.blockwork-*.part; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_gb() { df -P -BG "$DIR" | awk 'NR == 2 { sub("G", "", $4); print $4 }'; }

echo "== machine"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 2^20 }' /proc/meminfo)"
echo "disk: $(df -P -h "$DIR" | awk 'NR == 2 { print $1 ", " $4 " free" }')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== cargo build --release --example out_of_core"
(cd "$ROOT" && cargo build --release --example out_of_core --quiet)
BIN=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/out_of_core

# dd GB/s (1e9 bytes) of a "N bytes (...) copied, S s, R GB/s" line: bytes / seconds.
dd_rate() { awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); printf "%.3f", $1 / s / 1e9 }'; }

echo "== dd, ${DD_GB} GiB, O_DIRECT"
if [ "$(free_gb)" -lt $((DD_GB + MARGIN_GB)) ]; then
    echo "not enough space in $DIR for the dd test" >&2; exit 1
fi
w=$(dd if=/dev/zero of="$DD_FILE" bs=1M count=$((DD_GB * 1024)) oflag=direct conv=fsync 2>&1 | dd_rate)
r=$(dd if="$DD_FILE" of=/dev/null bs=1M iflag=direct 2>&1 | dd_rate)
rm -f "$DD_FILE"
echo "dd write: $w GB/s"
echo "dd read:  $r GB/s"

for gb in $SIZES; do
    free=$(free_gb)
    out=f64
    if [ "$free" -lt $((2 * gb + MARGIN_GB)) ]; then
        if [ $((free * 2)) -lt $((3 * gb + 2 * MARGIN_GB)) ]; then
            echo "== ${gb} GB: skipped, ${free} GB free in $DIR"
            continue
        fi
        out=f32
    fi
    echo "== ${gb} GB ($FORMAT, output $out, $THREADS threads; ${free} GB free; load $(cut -d' ' -f1-3 /proc/loadavg))"
    /usr/bin/time -v -o "$LOG" "$BIN" --gb "$gb" --format "$FORMAT" --dir "$DIR" \
        --threads "$THREADS" --out-dtype "$out" $KEEP_CACHE | tee "$LOG.out" \
        || { cat "$LOG" >&2; rm -f "$LOG.out"; exit 1; }
    grep -E 'Maximum resident set size|Elapsed \(wall clock\)' "$LOG" | sed 's/^\s*/  time -v: /'
    # The bound of the read-and-write phase: dd reading the input, then writing the output.
    outsz=$([ "$out" = f32 ] && echo 0.5 || echo 1)
    phase=$(awk '/read, sqrt\(2x \+ 1\), write/ { print $(NF - 10) }' "$LOG.out" | head -1)
    awk -v gb="$gb" -v o="$outsz" -v r="$r" -v w="$w" -v s="$phase" 'BEGIN {
        b = gb / r + gb * o / w
        if (s == "") exit
        printf "  disk bound of read, sqrt(2x + 1), write: %.2f s (%s GB at %s GB/s read + %s GB at %s GB/s write); the phase took %s s, %.0f %% of the bound\n", b, gb, r, gb * o, w, s, 100 * b / s
    }'
    rm -f "$LOG.out"
    cleanup
done
