"""dask's local schedulers (threaded and sync) on the scheduler shapes of perf/BENCHMARKS.md §1.

Graphs are raw dask graphs: dicts of key -> tuple task. Ops are trivial, wrapping at 2**32 so
every engine computes the same `check` value. One measurement per invocation.

    python dask_sched.py --workload chain --n 1e5 --scheduler threaded --threads 2
"""

import argparse
import statistics
import time

import dask
import dask.local
import dask.threaded

from common import MASK32, emit, int_arg, random_dag, shape_tasks, unsupported, wavefront_side

WORKLOADS = ("independent", "chain", "tree", "wavefront", "random_dag", "latency10")


def inc(x):
    return (x + 1) & MASK32


def add(*args):
    return sum(args) & MASK32


def add1(*args):
    return (1 + sum(args)) & MASK32


def join_tree(dsk, name, keys, fan_in=8):
    """Sum `keys` with a fan-in-8 tree of tasks (dask copes badly with one huge task)."""
    level = 0
    while len(keys) > 1:
        nxt = []
        for j in range(0, len(keys), fan_in):
            key = (name, level, j // fan_in)
            dsk[key] = (add, *keys[j:j + fan_in])
            nxt.append(key)
        keys, level = nxt, level + 1
    return keys[0]


def build(workload, n):
    """Return (graph, output key)."""
    dsk = {}
    if workload == "independent":
        for i in range(n):
            dsk[("x", i)] = (inc, i)
        return dsk, join_tree(dsk, "join", [("x", i) for i in range(n)])
    if workload == "chain":
        dsk[("x", 0)] = (inc, 0)
        for i in range(1, n):
            dsk[("x", i)] = (inc, ("x", i - 1))
        return dsk, ("x", n - 1)
    if workload == "tree":
        keys = []
        for i in range(n):
            dsk[("leaf", i)] = (inc, i)
            keys.append(("leaf", i))
        level = 0
        while len(keys) > 1:
            nxt = []
            for j in range(0, len(keys) - 1, 2):
                key = ("node", level, j // 2)
                dsk[key] = (add, keys[j], keys[j + 1])
                nxt.append(key)
            if len(keys) % 2:
                nxt.append(keys[-1])  # odd one out moves up unchanged: 2n-1 tasks in all
            keys, level = nxt, level + 1
        return dsk, keys[0]
    if workload == "wavefront":
        s = wavefront_side(n)
        for i in range(s):
            for j in range(s):
                if i == 0 and j == 0:
                    dsk[("w", 0, 0)] = (inc, 0)
                elif i == 0:
                    dsk[("w", 0, j)] = (add, ("w", 0, j - 1))
                elif j == 0:
                    dsk[("w", i, 0)] = (add, ("w", i - 1, 0))
                else:
                    dsk[("w", i, j)] = (add, ("w", i - 1, j), ("w", i, j - 1))
        return dsk, ("w", s - 1, s - 1)
    if workload == "random_dag":
        deps, sinks = random_dag(n)
        for i, d in enumerate(deps):
            dsk[("r", i)] = (add1, *[("r", j) for j in d])
        return dsk, join_tree(dsk, "join", [("r", i) for i in sinks])
    if workload == "latency10":
        dsk["root"] = (inc, 0)
        for i in range(8):
            dsk[("mid", i)] = (add, "root", i)
        dsk["join"] = (add, *[("mid", i) for i in range(8)])
        return dsk, "join"
    raise ValueError(workload)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--n", type=int_arg, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scheduler", choices=("threaded", "sync"), default="threaded")
    ap.add_argument("--reps", type=int, default=300, help="round trips for latency10")
    args = ap.parse_args()
    engine = f"dask-{args.scheduler}"
    if args.workload not in WORKLOADS:
        unsupported(engine, args.workload)

    if args.scheduler == "threaded":
        def get(dsk, key):
            return dask.threaded.get(dsk, key, num_workers=args.threads)
    else:
        def get(dsk, key):
            return dask.local.get_sync(dsk, key)

    get({"warm": (inc, 1)}, "warm")  # start the thread pool outside the timing

    if args.workload == "latency10":
        dsk, out = build("latency10", 10)
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            check = get(dsk, out)
            times.append(time.perf_counter() - t0)
        emit(engine, "latency10", 10, statistics.median(times), tasks=10, check=check,
             threads=args.threads, reps=args.reps)
        return

    t0 = time.perf_counter()
    dsk, out = build(args.workload, args.n)
    build_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    check = get(dsk, out)
    seconds = time.perf_counter() - t0
    emit(engine, args.workload, args.n, seconds, tasks=shape_tasks(args.workload, args.n),
         build_seconds=build_seconds, check=check, threads=args.threads)


if __name__ == "__main__":
    main()
