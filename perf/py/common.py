"""Helpers shared by the Python benchmark scripts: JSON output, peak RSS, shared graph shapes.

Every script prints one JSON object per measurement on stdout:
    {"engine": ..., "workload": ..., "n": ..., "seconds": ..., "peak_rss_bytes": ...}
plus optional fields (tasks, build_seconds, check, threads, ...). See perf/README.md.
"""

import json
import math
import resource
import sys

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

# Exit code meaning "this engine cannot express that workload" (same as the blockwork CLI).
UNSUPPORTED = 3


def peak_rss_bytes():
    """Peak resident set size of this process so far: VmHWM, which unlike getrusage does not
    count the memory of whoever forked and exec'ed us."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def emit(engine, workload, n, seconds, **extra):
    record = {"engine": engine, "workload": workload, "n": n, "seconds": seconds,
              "peak_rss_bytes": peak_rss_bytes()}
    record.update(extra)
    print(json.dumps(record), flush=True)


def unsupported(engine, workload):
    print(f"{engine}: unsupported workload {workload!r}", file=sys.stderr)
    sys.exit(UNSUPPORTED)


def int_arg(text):
    """Accept 100000, 1e5, 1_000_000."""
    return int(float(text.replace("_", "")))


# ---------------------------------------------------------------------------------------------
# Shared definitions of the scheduler shapes (identical in tbb/flowgraph.cpp and rayon-baseline)

def wavefront_side(n):
    return math.isqrt(n)


def shape_tasks(workload, n):
    """Nominal task count used for ns/task (the final join of independent/random_dag excluded)."""
    if workload == "tree":
        return 2 * n - 1
    if workload == "wavefront":
        return wavefront_side(n) ** 2
    return n


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


RANDOM_DAG_SEED = 42


def random_dag(n, seed=RANDOM_DAG_SEED):
    """deps[i] for i in 0..n: task 0 has none; task i>0 draws k = 1 + r % 4, then k values
    r % i, deduplicated and sorted. Returns (deps, sinks)."""
    rng = SplitMix64(seed)
    deps = [()]
    has_user = bytearray(n)
    for i in range(1, n):
        k = 1 + rng.next() % 4
        d = sorted({rng.next() % i for _ in range(k)})
        for j in d:
            has_user[j] = 1
        deps.append(tuple(d))
    sinks = [i for i in range(n) if not has_user[i]]
    return deps, sinks
