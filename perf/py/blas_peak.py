"""Machine bounds measured through NumPy: OpenBLAS DGEMM peak and a random-number fill rate.

Prints JSON lines: {"bound": "dgemm", "threads": t, "n": n, "gflops": ...} for t = 1..T, and
{"bound": "rng_fill", ...} (NumPy's PCG64 filling a cache-sized buffer on one thread, a
reference for the RNG-bound array cases b and g, not a hard bound). `--info` prints only the
BLAS library, kernel and thread count this process would use (to compare environments).
"""

import argparse
import json
import time

import numpy as np

from arrays import blas_info
from common import int_arg


def best_of(reps, fn):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int_arg, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--info", action="store_true")
    args = ap.parse_args()
    info = blas_info()
    print(json.dumps({"bound": "blas_info", "blas": info}), flush=True)
    if args.info:
        return

    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x, y = rng.random((args.n, args.n)), rng.random((args.n, args.n))
    out = np.empty_like(x)
    for t in range(1, args.threads + 1):
        with threadpool_limits(limits=t, user_api="blas"):
            np.matmul(x, y, out=out)  # warm-up
            s = best_of(args.reps, lambda: np.matmul(x, y, out=out))
        print(json.dumps({"bound": "dgemm", "threads": t, "n": args.n, "seconds": s,
                          "gflops": 2 * args.n ** 3 / s / 1e9}), flush=True)

    buf = np.empty(1 << 16)  # 512 KiB: stays in cache
    rounds = 2000
    s = best_of(args.reps, lambda: [rng.random(out=buf) for _ in range(rounds)])
    print(json.dumps({"bound": "rng_fill", "threads": 1, "seconds": s,
                      "gb_per_s": rounds * buf.nbytes / s / 1e9}), flush=True)


if __name__ == "__main__":
    main()
