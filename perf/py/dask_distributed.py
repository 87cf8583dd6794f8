"""dask.distributed (a LocalCluster of worker processes) on the distributed comparison of perf/run
--only distributed: the scheduler shapes, array cases b, c, d, g and the word count.

    python dask_distributed.py --workload chain --n 1e5 --workers 2 --threads 1
    python dask_distributed.py --workload array_g --n 8000 --workers 2 --threads 1
    python dask_distributed.py --workload wordcount --data DIR --workers 2 --threads 1

The same graphs as dask_sched.py, arrays.py and wordcount.py, computed on a LocalCluster of
`--workers` processes with `--threads` threads each (workers x threads = the cores used). The
cluster is started and warmed up before the timing (one untimed run; for a shape, of a
100-task graph of that shape), then the median of `--reps` timed runs.
"""

import argparse
import glob
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import emit, int_arg, shape_tasks, unsupported  # noqa: E402

SHAPES = ("independent", "chain", "tree", "wavefront", "random_dag")
ARRAYS = ("array_b", "array_c", "array_d", "array_g")


def runner(workload, n, data):
    """A function computing the workload once on the current client, and a size for n."""
    if workload in SHAPES:
        from dask_sched import build

        dsk, out = build(workload, n)
        small, small_out = build(workload, min(n, 100))

        def run_shape(client, warm=False):
            if warm:  # the warm-up runs a small graph of the same shape
                return client.get(small, small_out)
            return client.get(dsk, out)

        return run_shape, n
    if workload in ARRAYS:
        from arrays import dask_case

        run = dask_case(workload.removeprefix("array_"), n)
        return (lambda client, warm=False: run()), n
    if workload == "wordcount":
        files = sorted(glob.glob(os.path.join(data, "part-*.txt")))
        if not files:
            raise SystemExit(f"no part-*.txt files in {data}")
        size = sum(os.path.getsize(p) for p in files)

        def run_words(client, warm=False):
            import dask.bag as db
            import operator

            bag = db.read_text(files)
            top = bag.str.split().flatten().frequencies().topk(10, key=operator.itemgetter(1))
            return top.compute()

        return run_words, size
    return None, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--n", type=int_arg, default=100_000)
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--data", help="the word count's corpus directory")
    args = ap.parse_args()
    engine = f"dask-distributed-{args.workers}x{args.threads}"
    if args.workload not in SHAPES + ARRAYS + ("wordcount",):
        unsupported(engine, args.workload)

    import dask
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                           processes=True, dashboard_address=None)
    client = Client(cluster)
    dask.config.set(scheduler=client.get)
    try:
        run, size = runner(args.workload, args.n, args.data)
        if run is None:
            unsupported(engine, args.workload)
        client.submit(lambda: 1).result()  # workers up before anything is timed
        check = run(client, warm=True)  # untimed: imports and warms the workers
        times = []
        for _ in range(max(1, args.reps)):
            t0 = time.perf_counter()
            check = run(client)
            times.append(time.perf_counter() - t0)
        extra = dict(workers=args.workers, threads=args.threads, reps=len(times))
        if args.workload in SHAPES:
            extra.update(tasks=shape_tasks(args.workload, args.n), check=check)
        elif args.workload == "wordcount":
            extra.update(check=sum(c for _, c in check), top=check[:3])
        emit(engine, args.workload, size, statistics.median(times), **extra)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
