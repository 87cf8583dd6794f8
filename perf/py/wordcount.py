"""Word count of perf/BENCHMARKS.md §3: read lines, split into words, frequencies, top 10.

Engines: `counter` (collections.Counter, one process), `dask-threads` and `dask-processes`
(dask.bag, one partition per file). One measurement per invocation; `n` is the corpus size in
bytes and `check` the sum of the top-10 counts, equal across engines.

    python wordcount.py --engine counter --data data/corpus-200MB
"""

import argparse
import collections
import glob
import operator
import os
import time

from common import emit

ENGINES = {"counter": "python-counter", "dask-threads": "dask-bag-threads",
           "dask-processes": "dask-bag-processes"}


def count_counter(files):
    counts = collections.Counter()
    for path in files:
        with open(path, encoding="ascii") as f:
            for line in f:
                counts.update(line.split())
    return counts.most_common(10)


def count_dask(files, scheduler, threads):
    import dask.bag as db

    bag = db.read_text(files)  # one partition per file
    top = bag.str.split().flatten().frequencies().topk(10, key=operator.itemgetter(1))
    return top.compute(scheduler=scheduler, num_workers=threads)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=sorted(ENGINES), required=True)
    ap.add_argument("--data", required=True, help="directory of part-*.txt files")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(args.data, "part-*.txt")))
    if not files:
        raise SystemExit(f"no part-*.txt files in {args.data}")
    size = sum(os.path.getsize(p) for p in files)

    t0 = time.perf_counter()
    if args.engine == "counter":
        top = count_counter(files)
    else:
        top = count_dask(files, args.engine.removeprefix("dask-"), args.threads)
    seconds = time.perf_counter() - t0
    emit(ENGINES[args.engine], "wordcount", size, seconds, check=sum(c for _, c in top),
         top=top[:3], mb_per_s=size / seconds / 1e6, threads=args.threads)


if __name__ == "__main__":
    main()
