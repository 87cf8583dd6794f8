"""Array cases a-g of perf/BENCHMARKS.md §2, and the 1-d cases sort, unique and histogram,
with NumPy and dask.array.

Cases a-g: float64, n the side of the square array, chunks n/10 per axis (d: n/4). The 1-d
cases: n elements in chunks of n/100 (FLAT_BLOCKS); sort: uniform float64, persisted before
timing (NumPy only: dask.array has no sort along a chunked axis); unique: int64 drawn from
0..10000, persisted before timing, distinct values returned; histogram: n uniform values
generated inside the timed run, 100 bins over [0, 1]. The tall cases tsqr and svd: an n x 100
uniform float64 matrix in 20 row blocks (TALL_BLOCKS, one column chunk), persisted before
timing; NumPy factorizes the whole matrix (np.linalg.qr, reduced; np.linalg.svd,
full_matrices=False), dask.array by da.linalg.tsqr / da.linalg.svd with every factor
persisted in one call (dask.persist), as Blockwork persists them.

Inputs are built before timing; each case runs once untimed, then once timed in the same
process (warm). One measurement per invocation.

    python arrays.py --engine dask --case a --n 10000 --threads 2
    python arrays.py --engine numpy --case sort --n 1e8
    python arrays.py --engine dask --case tsqr --n 2e6
"""

import argparse
import time

import numpy as np

from common import emit, int_arg, unsupported

CASES = ("a", "b", "c", "d", "e", "f", "g", "sort", "unique", "histogram", "tsqr", "svd")
FLAT_CASES = ("sort", "unique", "histogram")
TALL_CASES = ("tsqr", "svd")
# The tall cases: columns of the n x TALL_COLS matrix, and its row blocks.
TALL_COLS = 100
TALL_BLOCKS = 20
SEED = 1
# The 1-d cases: blocks per array, the integers' range, histogram bins.
FLAT_BLOCKS = 100
UNIQUE_DISTINCT = 10_000
HISTOGRAM_BINS = 100


def blas_info():
    """The BLAS library, kernel and thread count NumPy uses in this process."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            return {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                            "threading_layer")}
    return None


def numpy_case(case, n):
    rng = np.random.default_rng(SEED)
    if case == "sort":
        x = rng.random(n)
        return lambda: np.sort(x)
    if case == "unique":
        x = rng.integers(0, UNIQUE_DISTINCT, n, dtype=np.int64)
        return lambda: np.unique(x)
    if case == "histogram":
        return lambda: np.histogram(np.random.default_rng(SEED).random(n), bins=HISTOGRAM_BINS,
                                    range=(0.0, 1.0))[0]
    if case in TALL_CASES:
        x = rng.random((n, TALL_COLS))
        if case == "tsqr":
            return lambda: np.linalg.qr(x)
        return lambda: np.linalg.svd(x, full_matrices=False)
    if case == "b":
        return lambda: np.random.default_rng(SEED).random((n, n)).sum()
    if case == "g":
        return None  # 40000^2 float64 is 12.8 GB: the point of the case is that NumPy cannot
    x = rng.random((n, n))
    if case == "a":
        y = rng.random((n, n))
        return lambda: (x + 1) * 2 - y
    if case == "c":
        return lambda: (x + x.T).sum(axis=0)
    if case == "d":
        y = rng.random((n, n))
        return lambda: x @ y
    if case == "e":
        return lambda: x[::2, 100:-100].mean()
    if case == "f":
        return lambda: x.std()
    raise ValueError(case)


def dask_case(case, n):
    import dask.array as da

    chunk = n // 4 if case == "d" else max(1, n // 10)
    if case in FLAT_CASES:
        chunk = max(1, n // FLAT_BLOCKS)
    rng = da.random.default_rng(SEED)
    if case == "sort":
        return None  # no sort along a chunked axis in dask.array
    if case in TALL_CASES:
        import dask
        x = rng.random((n, TALL_COLS), chunks=(max(1, n // TALL_BLOCKS), TALL_COLS)).persist()
        factor = da.linalg.tsqr if case == "tsqr" else da.linalg.svd
        return lambda: dask.persist(*factor(x))
    if case == "unique":
        x = rng.integers(0, UNIQUE_DISTINCT, n, chunks=chunk, dtype=np.int64).persist()
        return lambda: da.unique(x).compute()
    if case == "histogram":
        return lambda: da.histogram(da.random.default_rng(SEED).random(n, chunks=chunk),
                                    bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0].compute()
    if case == "b":
        return lambda: da.random.default_rng(SEED).random((n, n), chunks=chunk).sum().compute()
    if case == "g":
        return lambda: da.random.default_rng(SEED).random((n, n), chunks=chunk).mean().compute()
    x = rng.random((n, n), chunks=chunk).persist()
    if case == "a":
        y = rng.random((n, n), chunks=chunk).persist()
        return lambda: ((x + 1) * 2 - y).compute()
    if case == "c":
        return lambda: (x + x.T).sum(axis=0).compute()
    if case == "d":
        y = rng.random((n, n), chunks=chunk).persist()
        return lambda: (x @ y).compute()
    if case == "e":
        return lambda: x[::2, 100:-100].mean().compute()
    if case == "f":
        return lambda: x.std().compute()
    raise ValueError(case)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("numpy", "dask"), required=True)
    ap.add_argument("--case", required=True,
                    help="a..g, sort, unique, histogram, tsqr, svd (or with the array_ prefix)")
    ap.add_argument("--n", type=int_arg, required=True,
                    help="side of the square array (the 1-d cases: element count; the tall "
                         "cases: row count)")
    ap.add_argument("--threads", type=int, default=2, help="dask workers (NumPy: BLAS default)")
    args = ap.parse_args()
    case = args.case.removeprefix("array_")
    engine = "numpy" if args.engine == "numpy" else "dask-array"
    workload = f"array_{case}"
    if case not in CASES:
        unsupported(engine, workload)

    if args.engine == "dask":
        import dask
        dask.config.set(scheduler="threads", num_workers=args.threads)
        run = dask_case(case, args.n)
    else:
        run = numpy_case(case, args.n)
    if run is None:
        unsupported(engine, workload)

    run()  # warm-up: the timed run reuses the memory and the threads of this one
    t0 = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - t0
    del result
    extra = {"threads": args.threads}
    if case == "d":
        extra["gflops"] = 2 * args.n ** 3 / seconds / 1e9
    if args.engine == "numpy":
        extra["blas"] = blas_info()
    emit(engine, workload, args.n, seconds, **extra)


if __name__ == "__main__":
    main()
