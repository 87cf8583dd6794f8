"""Cross-engine benchmark harness: Blockwork against dask, NumPy, oneTBB, rayon and plain loops.

Runs every workload of perf/BENCHMARKS.md on every engine that can express it, each run a
fresh child process, engines alternating run by run; reports medians, min/max and the ratio
Blockwork / other engine for each pair, the machine's bounds (STREAM triad, DGEMM peak), and
writes perf/RESULTS-harness.md and perf/ratios.png. Normally started by perf/run, which builds
everything first. See perf/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

PERF = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(PERF)
sys.path.insert(0, os.path.join(PERF, "py"))

from common import UNSUPPORTED, shape_tasks  # noqa: E402

PY = sys.executable
SHAPES = ("independent", "chain", "tree", "wavefront", "random_dag")
ARRAY_CASES = ("a", "b", "c", "d", "e", "f", "g", "sort", "unique", "histogram")
# Cases an engine cannot express (a 12.8 GB array for NumPy; a full sort for dask.array).
ARRAY_NOT_RUN = {"numpy": ("g",), "dask-array": ("sort",)}
# Array cases whose 1 -> N thread scaling is a goal: Blockwork also runs them on 1 thread
# (engine "blockwork-1t") in the same run, alternating with the others.
SCALING_CASES = ("b", "c", "d", "f", "g")
# NumPy runs without these (they may be set on this machine and slow OpenBLAS down).
NUMPY_ENV_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

SIZES = {
    "quick": dict(runs=3, shapes={"dask": 10_000, "native": 10_000},
                  arrays=dict(a=2000, b=4000, c=2000, d=1024, e=2000, f=2000, g=8000,
                              sort=2_000_000, unique=2_000_000, histogram=4_000_000),
                  # group "linalg": n x 100 matrices in 20 row blocks, n the row count
                  linalg=dict(tsqr=100_000, svd=100_000),
                  corpus=20_000_000, stream_n=16_000_000, dgemm_n=2048, timeout=240),
    "full": dict(runs=5, shapes={"dask": 100_000, "native": 1_000_000},
                 arrays=dict(a=10000, b=20000, c=10000, d=4096, e=10000, f=10000, g=40000,
                             sort=100_000_000, unique=100_000_000, histogram=200_000_000),
                 linalg=dict(tsqr=2_000_000, svd=2_000_000),
                 corpus=200_000_000, stream_n=1 << 25, dgemm_n=4096, timeout=900),
}

# Blockwork targets from perf/BENCHMARKS.md, judged only at the full sizes above.
# (metric, limit, "max" or "min"); metric "ns" = ns per task, "s" = seconds, "us" = microseconds.
TARGETS = {
    ("independent", 1_000_000): ("ns", 20), ("chain", 1_000_000): ("ns", 15),
    ("tree", 1_000_000): ("ns", 30), ("wavefront", 1_000_000): ("ns", 40),
    ("random_dag", 1_000_000): ("ns", 150), ("latency10", 10): ("us", 5),
    ("array_a", 10000): ("s", 0.08), ("array_b", 20000): ("s", 0.25),
    ("array_c", 10000): ("s", 0.06), ("array_e", 10000): ("s", 0.015),
    ("array_f", 10000): ("s", 0.04), ("array_g", 40000): ("s", 1.0),
    ("wordcount", 200_000_000): ("s", 0.4),
}
RSS_TARGETS = {("array_b", 20000): 100e6, ("array_g", 40000): 150e6}


# ---------------------------------------------------------------------------------------------
# What to run

@dataclass
class Case:
    """One workload at one size, and the engines that run it."""
    group: str  # shapes | latency | arrays | linalg | wordcount
    workload: str
    n: int
    engines: dict  # engine name -> argv, or None when the engine is missing (n/a)
    unset_env: dict = field(default_factory=dict)  # engine name -> variables to unset


def tool(*parts):
    return os.path.join(PERF, *parts)


def blockwork_argv(binary, workload, n, threads, data=None):
    if not binary:
        return None
    argv = [binary, "bench", "--workload", workload]
    if workload != "latency10":
        argv += ["--n", str(n)]
    argv += ["--threads", str(threads)]
    if data:
        argv += ["--data", data]
    return argv + ["--json"]


def plan_cases(cfg, threads, blockwork, corpus_dir, groups):
    tbb, rayon = tool("tbb", "flowgraph"), tool("rayon-baseline", "target", "release", "rayon-baseline")
    t = str(threads)
    cases = []

    def dask_sched(scheduler, w, n):
        return [PY, tool("py", "dask_sched.py"), "--workload", w, "--n", str(n),
                "--scheduler", scheduler, "--threads", t]

    def native(w, n):
        """oneTBB, rayon and serial-loop variants that can express shape w."""
        engines = {"tbb-continue": [tbb, "--workload", w, "--n", str(n), "--threads", t]}
        variants = {"independent": ["par_iter", "scope"], "tree": ["join"], "wavefront": ["diagonals"]}
        if w in ("independent", "chain"):
            engines["tbb-function"] = engines["tbb-continue"] + ["--variant", "function"]
        for v in variants.get(w, []):
            engines[f"rayon-{v}"] = [rayon, "--workload", w, "--variant", v, "--n", str(n), "--threads", t]
        engines["serial"] = [rayon, "--workload", w, "--variant", "serial", "--n", str(n)]
        return engines

    if "shapes" in groups:
        n_dask, n_native = cfg["shapes"]["dask"], cfg["shapes"]["native"]
        for w in SHAPES:
            sizes = sorted({n_dask, n_native})
            for n in sizes:
                engines = {"blockwork": blockwork_argv(blockwork, w, n, threads)}
                if n == n_dask:
                    engines["dask-threaded"] = dask_sched("threaded", w, n)
                    engines["dask-sync"] = dask_sched("sync", w, n)
                if n == n_native:
                    engines.update(native(w, n))
                cases.append(Case("shapes", w, n, engines))

    if "latency" in groups:
        cases.append(Case("latency", "latency10", 10, {
            "blockwork": blockwork_argv(blockwork, "latency10", 10, threads),
            "dask-threaded": dask_sched("threaded", "latency10", 10) + ["--reps", "300"],
            "dask-sync": dask_sched("sync", "latency10", 10) + ["--reps", "300"],
            "tbb-continue": [tbb, "--workload", "latency10", "--threads", t],
            "rayon-scope": [rayon, "--workload", "latency10", "--variant", "scope", "--threads", t],
        }))

    if "arrays" in groups:
        for c in ARRAY_CASES:
            n = cfg["arrays"][c]
            w = f"array_{c}"
            engines = {"blockwork": blockwork_argv(blockwork, w, n, threads)}
            if c in SCALING_CASES and threads > 1:
                engines["blockwork-1t"] = blockwork_argv(blockwork, w, n, 1)
            for engine, arg in (("numpy", "numpy"), ("dask-array", "dask")):
                if c not in ARRAY_NOT_RUN[engine]:
                    engines[engine] = [PY, tool("py", "arrays.py"), "--engine", arg, "--case", c,
                                       "--n", str(n), "--threads", t]
            cases.append(Case("arrays", w, n, engines, unset_env={"numpy": NUMPY_ENV_UNSET}))

    def array_scripts(c, n):
        """NumPy and dask.array running array case c of py/arrays.py at n."""
        return {engine: [PY, tool("py", "arrays.py"), "--engine", arg, "--case", c, "--n", str(n),
                         "--threads", t] for engine, arg in (("numpy", "numpy"), ("dask-array", "dask"))}

    if "linalg" in groups:
        for c, n in cfg["linalg"].items():
            w = f"array_{c}"
            engines = {"blockwork": blockwork_argv(blockwork, w, n, threads), **array_scripts(c, n)}
            cases.append(Case("linalg", w, n, engines, unset_env={"numpy": NUMPY_ENV_UNSET}))

    if "wordcount" in groups:
        wc = [PY, tool("py", "wordcount.py"), "--data", corpus_dir, "--threads", t, "--engine"]
        cases.append(Case("wordcount", "wordcount", cfg["corpus"], {
            "blockwork": blockwork_argv(blockwork, "wordcount", cfg["corpus"], threads, corpus_dir),
            "python-counter": wc + ["counter"],
            "dask-bag-threads": wc + ["dask-threads"],
            "dask-bag-processes": wc + ["dask-processes"],
        }))
    return cases


# ---------------------------------------------------------------------------------------------
# Distributed: Blockwork over MPI ranks (examples/distributed_bench) against dask.distributed
# (a LocalCluster of worker processes), each at ranks x threads = the cores used
# (perf/run --only distributed).

DIST_CONFIGS = ((1, 2), (2, 1), (4, 1))  # (ranks or worker processes, threads each)
DIST_SHAPES_N = {"quick": 10_000, "full": 100_000}
DIST_ARRAYS = ("b", "c", "d", "g")
DIST_REPS = 3  # timed runs inside each child (after one untimed run)
# Settings of Open MPI for one machine, possibly a container: shared memory and loopback.
MPI_ENV = ("OMPI_MCA_btl=self,vader,tcp", "OMPI_MCA_btl_tcp_if_include=lo",
           "OMPI_MCA_oob_tcp_if_include=lo", "OMPI_MCA_rmaps_base_oversubscribe=1",
           "OMPI_MCA_btl_vader_single_copy_mechanism=none")


def distributed_bench_binary(blockwork):
    """examples/distributed_bench beside the blockwork binary (perf/run builds it)."""
    if not blockwork:
        return None
    path = os.path.join(os.path.dirname(blockwork), "examples", "distributed_bench")
    return path if os.access(path, os.X_OK) and shutil.which("mpirun") else None


def dist_label(ranks, threads):
    cores = os.cpu_count() or 1
    over = " oversubscribed" if ranks * threads > cores else ""
    return f"{ranks}x{threads}{over}"


def plan_distributed_cases(mode, cfg, blockwork, corpus_dir, shapes_n=None):
    bench = distributed_bench_binary(blockwork)

    def mpi(ranks, threads, workload, n):
        if not bench:
            return None
        # Open MPI binds each rank to one core when there are two ranks or fewer: a rank's
        # threads would then share one core. The OS places the threads, as for dask.
        return (["env", *MPI_ENV, "mpirun", "--allow-run-as-root", "--oversubscribe",
                 "--bind-to", "none", "-np", str(ranks), bench, "--json", "--reps", str(DIST_REPS), workload, str(n),
                 str(threads), corpus_dir])

    def dask_dist(ranks, threads, workload, n):
        return [PY, tool("py", "dask_distributed.py"), "--workload", workload, "--n", str(n),
                "--workers", str(ranks), "--threads", str(threads),
                "--reps", str(1 if workload in SHAPES else DIST_REPS), "--data", corpus_dir]

    cases = []
    # The cost of a cross-rank edge, against one rank's pool alone (Blockwork only).
    n_shapes = shapes_n or DIST_SHAPES_N[mode]
    cases.append(Case("distributed", "xchain 2x1", 20_000, {"blockwork": mpi(2, 1, "xchain", 20_000)}))
    cases.append(Case("distributed", "xdag 2x1", 100_000, {"blockwork": mpi(2, 1, "xdag", 100_000)}))
    work = [(w, n_shapes) for w in SHAPES]
    work += [(f"array_{c}", cfg["arrays"][c]) for c in DIST_ARRAYS]
    work += [("wordcount", cfg["corpus"])]
    for w, n in work:
        for ranks, threads in DIST_CONFIGS:
            label = f"{w} {dist_label(ranks, threads)}"
            cases.append(Case("distributed", label, n, {
                "blockwork": mpi(ranks, threads, w, n),
                "dask-distributed": dask_dist(ranks, threads, w, n),
            }))
    return cases


def distributed_targets(results):
    """The targets of the distributed comparison, as report lines."""
    def median_of(label, engine="blockwork"):
        s = next((s for s in results if s.case.group == "distributed"
                  and s.case.workload == label and s.engine == engine and s.status == "ok"), None)
        return s.median() if s else None

    def record(label):
        s = next((s for s in results if s.case.group == "distributed"
                  and s.case.workload == label and s.engine == "blockwork" and s.status == "ok"), None)
        return s.records[0] if s else None

    lines = ["| target | measured | met |", "|---|---|---|"]
    x = record("xchain 2x1")
    if x:
        edges = [r["per_edge_us"] for s in results if s.case.workload == "xchain 2x1"
                 for r in s.records]
        us = statistics.median(edges)
        lines.append(f"| cross-rank edge (chain alternating 2 ranks) <= 5 us | {us:.2f} us | "
                     f"{'yes' if us <= 5 else 'no'} |")
    d = record("xdag 2x1")
    if d and d.get("local_seconds"):
        lines.append(f"| random DAG 1e5 over 2 ranks (one rank's pool alone: "
                     f"{d['local_seconds']:.3f} s) | {median_of('xdag 2x1'):.3f} s | - |")
    one, two = median_of(f"array_g {dist_label(1, 2)}"), median_of(f"array_g {dist_label(2, 1)}")
    if one and two:
        lines.append(f"| array g: 2 ranks x 1 thread within 1.1x of 1 x 2 | {two / one:.2f}x | "
                     f"{'yes' if two <= 1.1 * one else 'no'} |")
    one, two = median_of(f"wordcount {dist_label(1, 2)}"), median_of(f"wordcount {dist_label(2, 1)}")
    if one and two:
        lines.append(f"| word count: 2 ranks >= 0.9x one process (speed) | {one / two:.2f}x | "
                     f"{'yes' if one / two >= 0.9 else 'no'} |")
    for w in SHAPES:
        for ranks, threads in DIST_CONFIGS:
            label = f"{w} {dist_label(ranks, threads)}"
            bw, dd = median_of(label), median_of(label, "dask-distributed")
            if bw and dd:
                lines.append(f"| {label}: >= 50x faster than dask.distributed | {dd / bw:.0f}x | "
                             f"{'yes' if dd / bw >= 50 else 'no'} |")
    return lines if len(lines) > 2 else ["No distributed results."]


# ---------------------------------------------------------------------------------------------
# Running one child

@dataclass
class Outcome:
    status: str  # ok | n/a | error
    record: dict = None
    peak_rss: int = None
    message: str = ""


TIME = "/usr/bin/time"


def run_child(argv, unset=(), timeout=None):
    """Run argv in a fresh process. Peak RSS comes from GNU time (%M: the child and what it
    reaped), else from the child's own report. Variables in `unset` are removed with
    `env -u` for this command only."""
    if unset:
        argv = ["env"] + [a for name in unset for a in ("-u", name)] + argv
    rss_file = None
    if os.access(TIME, os.X_OK):
        fd, rss_file = tempfile.mkstemp(prefix="perf-rss-")
        os.close(fd)
        argv = [TIME, "-f", "%M", "-o", rss_file] + argv
    proc = subprocess.Popen(argv, cwd=PERF, text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: time, env and the engine
        out, err = proc.communicate()
        timed_out = True
    except BaseException:  # Ctrl-C or SIGTERM: take the child down with us
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        peak = None
        if rss_file:
            kib = re.findall(r"^(\d+)$", read(rss_file), re.M)
            peak = int(kib[-1]) * 1024 if kib else None
            os.unlink(rss_file)
    rc, err = proc.returncode, err.strip()
    if timed_out:
        return Outcome("error", message=f"timed out after {timeout} s")
    if rc == UNSUPPORTED:
        return Outcome("n/a", message=err.splitlines()[-1] if err else "unsupported workload")
    if rc != 0:
        return Outcome("error", message=f"exit code {rc}: {err[-400:]}")
    for line in reversed(out.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and {"engine", "workload", "n", "seconds"} <= record.keys():
            return Outcome("ok", record, peak or record.get("peak_rss_bytes"))
    got = " ".join(out.split())[:100]
    return Outcome("error", message=f"no JSON result line on stdout (it printed {got!r})")


# ---------------------------------------------------------------------------------------------
# Results

@dataclass
class Series:
    """All runs of one engine on one case."""
    case: Case
    engine: str
    outcomes: list = field(default_factory=list)

    @property
    def records(self):
        return [o.record for o in self.outcomes if o.status == "ok"]

    @property
    def status(self):
        if self.records:
            return "ok"
        return self.outcomes[0].status if self.outcomes else "n/a"

    @property
    def message(self):
        bad = [o.message for o in self.outcomes if o.status != "ok"]
        return bad[0] if bad else ""

    def seconds(self):
        return [r["seconds"] for r in self.records]

    def median(self):
        return statistics.median(self.seconds())

    def peak_rss(self):
        return max(o.peak_rss or 0 for o in self.outcomes if o.status == "ok")

    def checks(self):
        return {json.dumps(r["check"]) for r in self.records if "check" in r}


def run_cases(cases, runs, timeout, log):
    results = []
    total = sum(len(c.engines) for c in cases) * runs
    done = 0
    for case in cases:
        series = {e: Series(case, e) for e in case.engines}
        names = list(case.engines)
        for run in range(runs):
            shift = run % len(names)
            for engine in names[shift:] + names[:shift]:  # alternate the order run by run
                done += 1
                s, argv = series[engine], case.engines[engine]
                if argv is None or not shutil.which(argv[0]):
                    s.outcomes = [Outcome("n/a", message="program not built")]
                    continue
                if s.outcomes and s.outcomes[0].status != "ok":
                    continue  # n/a or failing: no point in repeating it
                o = run_child(argv, case.unset_env.get(engine, ()), timeout)
                s.outcomes.append(o)
                shown = f"{o.record['seconds']:.6g} s" if o.status == "ok" else f"{o.status} {o.message[:120]}"
                log(f"[{done}/{total}] {case.workload} n={case.n} {engine} run {run + 1}/{runs}: {shown}")
        results.extend(series.values())
    return results


# ---------------------------------------------------------------------------------------------
# Machine, versions, bounds

def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def command_output(argv, unset=()):
    if unset:
        argv = ["env"] + [a for name in unset for a in ("-u", name)] + argv
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=600,
                              cwd=PERF).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info():
    cpuinfo = read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.M)
    flags = set(flags.group(1).split()) if flags else set()
    mem = re.search(r"^MemTotal:\s*(\d+) kB", read("/proc/meminfo"), re.M)
    os_name = re.search(r'^PRETTY_NAME="?(.*?)"?$', read("/etc/os-release"), re.M)
    simd = [f for f in ("avx2", "fma", "avx512f") if f in flags]
    return {
        "cpu": model.group(1) if model else platform.processor(),
        "cores": os.cpu_count(),
        "simd": ", ".join(simd) or "none of avx2/fma/avx512f",
        "memory": f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "?",
        "os": f"{os_name.group(1) if os_name else platform.system()}, kernel {platform.release()}",
    }


def json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def measure_bounds(cfg, threads, log):
    log("measuring bounds: STREAM triad, DGEMM peak, RNG fill")
    bounds = {"stream": {}, "dgemm": {}, "rng_fill": None, "blas": None}
    stream = tool("bounds", "stream")
    if os.access(stream, os.X_OK):
        for r in json_lines(command_output([stream, "--n", str(cfg["stream_n"]), "--threads", str(threads)])):
            bounds["stream"][r["threads"]] = r["gb_per_s"]
    out = command_output([PY, tool("py", "blas_peak.py"), "--n", str(cfg["dgemm_n"]),
                          "--threads", str(threads)], NUMPY_ENV_UNSET)
    for r in json_lines(out):
        if r["bound"] == "dgemm":
            bounds["dgemm"][r["threads"]] = r["gflops"]
        elif r["bound"] == "rng_fill":
            bounds["rng_fill"] = r["gb_per_s"]
        elif r["bound"] == "blas_info":
            bounds["blas"] = r["blas"]
    default = json_lines(command_output([PY, tool("py", "blas_peak.py"), "--info"]))
    bounds["blas_default_env"] = default[0]["blas"] if default else None
    return bounds


def versions(blockwork, results):
    v = {"python": platform.python_version()}
    for mod in ("dask", "numpy", "matplotlib"):
        try:
            v[mod] = __import__(mod).__version__
        except ImportError:
            v[mod] = "not installed"
    tbb = [r.get("version") for s in results if s.engine.startswith("tbb") for r in s.records]
    gxx = command_output(["g++", "--version"]).splitlines()
    v["oneTBB"] = f"{tbb[0] if tbb else '?'} ({gxx[0] if gxx else 'g++ ?'})"
    lock = read(tool("rayon-baseline", "Cargo.lock"))
    rayon = re.search(r'name = "rayon"\nversion = "([^"]+)"', lock)
    v["rayon"] = f"{rayon.group(1) if rayon else '?'} ({command_output(['rustc', '--version'])})"
    if blockwork:
        own = command_output([blockwork, "--version"]) or "?"
        rev = command_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]) or "no commit"
        dirty = " + uncommitted changes" if command_output(["git", "-C", ROOT, "status", "--porcelain"]) else ""
        v["blockwork"] = f"{own} (git {rev}{dirty})"
    else:
        v["blockwork"] = "binary not built"
    return v


# ---------------------------------------------------------------------------------------------
# Report

def fmt_bytes(b):
    if not b:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b} B"


def fmt_num(x):
    """3 significant digits, without exponents: 0.362, 46.3, 104, 51,700."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def fmt_time(s):
    if s >= 1:
        return f"{fmt_num(s)} s"
    if s >= 1e-3:
        return f"{fmt_num(s * 1e3)} ms"
    return f"{fmt_num(s * 1e6)} us"


def metric(series, seconds):
    """The figure a case is compared on, as (value, text)."""
    case = series.case
    if case.group == "shapes":
        ns = seconds / shape_tasks(case.workload, case.n) * 1e9
        return ns, f"{fmt_num(ns)} ns"
    if case.group == "latency":
        return seconds * 1e6, f"{fmt_num(seconds * 1e6)} us"
    return seconds, fmt_time(seconds)


def ratio_text(bw, other):
    if bw is None or bw.status != "ok" or other.status != "ok" or other is bw:
        return "n/a"
    r = bw.median() / other.median()
    return f"{r:.3g}" if r >= 0.01 else f"1/{fmt_num(1 / r)}"


def array_bound(series, bounds, threads):
    """Seconds the hardware bound allows for this array case (None if unknown), and its name."""
    n, c = series.case.n, series.case.workload.removeprefix("array_")
    triad = bounds["stream"].get(threads)
    moved = {"a": 3 * 8 * n * n, "c": 8 * n * n, "e": 8 * n * n / 2, "f": 8 * n * n}
    if c in moved and triad:
        return moved[c] / (triad * 1e9), f"{moved[c] / 1e9:.3g} GB at {triad:.0f} GB/s triad"
    if c == "d" and bounds["dgemm"].get(threads):
        peak = bounds["dgemm"][threads]
        return 2 * n ** 3 / (peak * 1e9), f"DGEMM peak {peak:.0f} GFLOP/s"
    if c in ("b", "g") and bounds["rng_fill"]:
        rate = bounds["rng_fill"] * threads
        return 8 * n * n / (rate * 1e9), f"RNG fill {rate:.1f} GB/s (reference)"
    return None, ""


def case_table(group_series, bounds, threads, with_bound=False):
    head = "| workload | n | engine | median | min - max | "
    head += "build/task | " if group_series[0].case.group == "shapes" else ""
    head += "fraction of bound | " if with_bound else ""
    head += "peak RSS | Blockwork / engine |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    by_case = {}
    for s in group_series:
        by_case.setdefault(id(s.case), []).append(s)
    for members in by_case.values():
        bw = next((s for s in members if s.engine == "blockwork"), None)
        for s in members:
            cells = [s.case.workload, f"{s.case.n:,}", s.engine]
            if s.status != "ok":
                cells += [s.status] + ["-"] * (head.count("|") - 5)
                lines.append("| " + " | ".join(cells) + " |")
                continue
            times = s.seconds()
            cells += [metric(s, s.median())[1],
                      f"{metric(s, min(times))[1]} - {metric(s, max(times))[1]}"]
            if s.case.group == "shapes":
                builds = [r["build_seconds"] for r in s.records if "build_seconds" in r]
                per = statistics.median(builds) / shape_tasks(s.case.workload, s.case.n) * 1e9 if builds else None
                cells.append(f"{fmt_num(per)} ns" if per else "-")
            if with_bound:
                bound, _ = array_bound(s, bounds, 1 if s.engine == "blockwork-1t" else threads)
                cells.append(f"{bound / s.median():.2f}" if bound else "-")
            if s.case.workload == "array_d":
                cells[3] += f" ({2 * s.case.n ** 3 / s.median() / 1e9:.0f} GFLOP/s)"
            if s.case.workload == "wordcount":
                cells[3] += f" ({s.case.n / s.median() / 1e6:.0f} MB/s)"
            cells += [fmt_bytes(s.peak_rss()), ratio_text(bw, s) if s is not bw else "-"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def check_mismatches(results):
    """Engines whose `check` values disagree on the same case (a correctness alarm)."""
    out = []
    by_case = {}
    for s in results:
        if s.checks():
            by_case.setdefault(id(s.case), []).append(s)
    for members in by_case.values():
        seen = {s.engine: s.checks() for s in members}
        if len({c for cs in seen.values() for c in cs}) > 1:
            out.append(f"- {members[0].case.workload} n={members[0].case.n:,}: " +
                       ", ".join(f"{e} {sorted(c)}" for e, c in seen.items()))
    return out


def targets_section(results):
    lines = ["| workload | n | target | Blockwork | met |", "|---|---|---|---|---|"]
    numpy_d = next((s for s in results if s.case.workload == "array_d" and s.engine == "numpy"
                    and s.status == "ok"), None)
    for s in results:
        if s.engine != "blockwork" or s.status != "ok":
            continue
        key = (s.case.workload, s.case.n)
        if key == ("array_d", 4096) and numpy_d:
            got, need = numpy_d.median() / s.median(), 0.9
            lines.append(f"| array_d | 4,096 | >= 0.9x NumPy GFLOP/s | {got:.2f}x | {'yes' if got >= need else 'no'} |")
            continue
        if key not in TARGETS:
            continue
        unit, limit = TARGETS[key]
        value = metric(s, s.median())[0]
        ok = value <= limit
        text = f"<= {limit} {unit}"
        if key in RSS_TARGETS:
            ok = ok and s.peak_rss() <= RSS_TARGETS[key]
            text += f", peak <= {fmt_bytes(RSS_TARGETS[key])}"
        got = f"{value:.3g} {unit}" + (f", peak {fmt_bytes(s.peak_rss())}" if key in RSS_TARGETS else "")
        lines.append(f"| {key[0]} | {key[1]:,} | {text} | {got} | {'yes' if ok else 'no'} |")
    return lines if len(lines) > 2 else ["No Blockwork results at the full sizes."]


# The goals of the array cases and the word count as same-run ratios (perf/BENCHMARKS.md,
# "Same-run ratios and the machine's bound"): Blockwork's time / NumPy's and / dask's at most
# these (None: no such goal; a plain "faster" is < 1), the fraction of the bound at least
# `bound`, the 1 -> N thread speed-up at least `scaling`.
GOALS = {
    "a": dict(numpy=1.0, dask=1.0, bound=0.85),
    "b": dict(numpy=1.0, dask=1.0, scaling=1.85),
    "c": dict(numpy=1.0, dask=0.5, bound=0.60, scaling=1.85),
    "d": dict(numpy=1.0, dask=1.0, scaling=1.85),  # d: >= 1.0x NumPy's GFLOP/s
    "e": dict(numpy=0.7, dask=1.0, bound=0.60),
    "f": dict(numpy=1.0, dask=1.0, bound=0.70, scaling=1.85),
    "g": dict(dask=1.0, scaling=1.85),
}
WORDCOUNT_GOALS = dict(mb_per_s=800, vs_dask_processes=20)


def goals_section(results, bounds, threads):
    """One row per array case a-g and the word count: Blockwork's median, its ratio to NumPy
    and to dask, the fraction of the bound and the 1 -> `threads` speed-up, all from this run,
    and which goals are met."""
    lines = [f"| case | n | Blockwork | / NumPy | / dask | fraction of bound | 1 -> {threads} threads "
             "| goals | met |", "|---|---|---|---|---|---|---|---|---|"]
    by_case = {}
    for s in results:
        by_case.setdefault(id(s.case), {})[s.engine] = s

    def ok(s):
        return s is not None and s.status == "ok"

    def verdict(got, need, op):
        if got is None:
            return "n/a"
        return "yes" if (got < need if op == "<" else got <= need if op == "<=" else got >= need) else "**no**"

    for members in by_case.values():
        bw = members.get("blockwork")
        case = (bw or next(iter(members.values()))).case
        if case.group == "wordcount" and ok(bw):
            mbs = case.n / bw.median() / 1e6
            dp = members.get("dask-bag-processes")
            vs = dp.median() / bw.median() if ok(dp) else None
            g = WORDCOUNT_GOALS
            need = [f">= {g['mb_per_s']} MB/s: {verdict(mbs, g['mb_per_s'], '>=')}",
                    f">= {g['vs_dask_processes']}x dask.bag (processes): {verdict(vs, g['vs_dask_processes'], '>=')}"]
            met = all(n.endswith("yes") for n in need)
            lines.append(f"| wordcount | {case.n:,} | {fmt_time(bw.median())} ({mbs:.0f} MB/s) | - | "
                         f"{f'1/{vs:.1f} (processes)' if vs else 'n/a'} | - | - | {'; '.join(need)} | "
                         f"{'yes' if met else '**no**'} |")
            continue
        c = case.workload.removeprefix("array_")
        if case.group != "arrays" or c not in GOALS or not ok(bw):
            continue
        goal, need, cells = GOALS[c], [], [c, f"{case.n:,}", fmt_time(bw.median())]
        for engine, key in (("numpy", "numpy"), ("dask-array", "dask")):
            other = members.get(engine)
            r = bw.median() / other.median() if ok(other) else None
            cells.append(f"{r:.3g}" if r is not None else "n/a")
            if goal.get(key) is not None:
                op = "<" if goal[key] == 1.0 and c != "d" else "<="
                need.append(f"/ {key} {op} {goal[key]}: {verdict(r, goal[key], op)}")
        bound, _ = array_bound(bw, bounds, threads)
        frac = bound / bw.median() if bound else None
        cells.append(f"{frac:.2f}" if frac is not None else "n/a")
        if "bound" in goal:
            need.append(f"bound >= {goal['bound']}: {verdict(frac, goal['bound'], '>=')}")
        one = members.get("blockwork-1t")
        speed = one.median() / bw.median() if ok(one) else None
        cells.append(f"{speed:.2f}x" if speed is not None else "n/a")
        if "scaling" in goal:
            need.append(f"1 -> {threads} >= {goal['scaling']}x: {verdict(speed, goal['scaling'], '>=')}")
        met = all(n.endswith("yes") for n in need)
        cells += ["; ".join(need), "yes" if met else "**no**"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines if len(lines) > 2 else []


def write_report(path, results, bounds, info, vers, args, cfg, elapsed, chart):
    threads = args.threads
    L = ["# Blockwork cross-engine benchmarks (generated by perf/harness.py)", "",
         f"Generated {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by `perf/run"
         f"{' --quick' if args.quick else ''}` in {elapsed / 60:.1f} min. Mode **{args.mode}**: "
         f"{cfg['runs']} runs per engine and case, each a fresh process, engines alternating run "
         f"by run; {threads} threads. Medians, with min - max. *Blockwork / engine* < 1 means "
         "Blockwork is faster. Written by the harness; perf/RESULTS.md is the hand-written one.", "",
         "## Machine", ""]
    L += [f"- {k}: {v}" for k, v in info.items()]
    L += ["", "## Versions", "", "| engine | version |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in vers.items()]
    blas, default = bounds.get("blas") or {}, bounds.get("blas_default_env") or {}
    L += ["", f"NumPy runs with `env -u {' -u '.join(NUMPY_ENV_UNSET)}`; its BLAS then: "
          f"{blas.get('internal_api', '?')} {blas.get('version', '')}, kernel "
          f"**{blas.get('architecture', '?')}**, {blas.get('num_threads', '?')} threads "
          f"(in the default environment: kernel {default.get('architecture', '?')}, "
          f"{default.get('num_threads', '?')} threads)."]
    L += ["", "## Machine bounds", ""]
    for t, gbs in sorted(bounds["stream"].items()):
        L.append(f"- STREAM triad (perf/bounds/stream.c, OpenMP), {t} thread(s): {gbs:.1f} GB/s")
    for t, gf in sorted(bounds["dgemm"].items()):
        L.append(f"- OpenBLAS DGEMM n={cfg['dgemm_n']} via NumPy, {t} thread(s): {gf:.1f} GFLOP/s")
    if bounds["rng_fill"]:
        L.append(f"- NumPy PCG64 fill, 1 thread, in cache: {bounds['rng_fill']:.2f} GB/s "
                 "(a reference for the RNG-bound cases b and g, not a hard bound)")

    sections = [("shapes", "1. Scheduler overhead (ns per task of execution, graph built)", False),
                ("latency", "Latency: a 10-task graph round trip on a warm pool", False),
                ("arrays", "2. Arrays (float64, warm)", True),
                ("linalg", "2b. Tall-and-skinny linear algebra (n x 100 float64, 20 row blocks, warm)",
                 False),
                ("wordcount", "3. Word count", False),
                ("distributed", "4. Across processes: MPI ranks x threads against dask.distributed", False)]
    for group, title, with_bound in sections:
        members = [s for s in results if s.case.group == group]
        if not members:
            continue
        L += ["", f"## {title}", ""]
        L += case_table(members, bounds, threads, with_bound)
        if group == "arrays" and bounds["stream"]:
            L += ["", "*fraction of bound*: the bound's time over the engine's median (1.0 = at the "
                  "bound). Bounds: " + "; ".join(
                      f"{s.case.workload}: {array_bound(s, bounds, threads)[1]}"
                      for s in members if s.engine == "dask-array")]
    goals = goals_section(results, bounds, threads)
    if goals:
        L += ["", "## Goals: same-run ratios, fraction of the bound, scaling", "",
              "Blockwork / NumPy and / dask: ratios of medians (< 1: Blockwork faster); fraction "
              "of bound as in the arrays table; 1 -> N threads: the median of `blockwork-1t` "
              "over Blockwork's."] + goals
        print("\n".join(goals))
    if args.mode == "full":
        L += ["", "## Blockwork against the targets of perf/BENCHMARKS.md", ""] + targets_section(results)
    if any(s.case.group == "distributed" for s in results):
        L += ["", "## Distributed targets (issue 14)", ""] + distributed_targets(results)
    bad = check_mismatches(results)
    if bad:
        L += ["", "## Check mismatches (engines computed different answers)", ""] + bad
    missing = {}  # (engine, why) -> cases
    for s in results:
        if s.status == "n/a":
            why = "n/a (program not built)" if s.message == "program not built" else "n/a (exit 3: unsupported)"
            missing.setdefault((s.engine, why), []).append(f"{s.case.workload} n={s.case.n:,}")
        elif s.status == "error":
            missing.setdefault((s.engine, f"error ({s.message})"), []).append(f"{s.case.workload} n={s.case.n:,}")
    if missing:
        L += ["", "## Not run", ""]
        L += [f"- {engine}, {why}: {', '.join(cases)}" for (engine, why), cases in missing.items()]
    if chart:
        L += ["", "## Chart", "", f"![ratios]({os.path.basename(chart)})"]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


FAMILY_COLORS = {"blockwork": "tab:orange", "dask": "tab:blue", "numpy": "tab:green",
                 "python": "tab:olive", "tbb": "tab:purple", "rayon": "tab:red", "serial": "tab:gray"}


def write_chart(path, results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    by_case = {}
    for s in results:
        if s.status == "ok":
            by_case.setdefault(id(s.case), []).append(s)
    ratios, slowdowns = [], []
    for members in by_case.values():
        case = members[0].case
        label = f"{case.workload} n={case.n:,}"
        bw = next((s for s in members if s.engine == "blockwork"), None)
        best = min(s.median() for s in members)
        for s in members:
            slowdowns.append((f"{label} {s.engine}", s.median() / best, s.engine.split("-")[0]))
            if bw and s is not bw:
                ratios.append((f"{label} vs {s.engine}", bw.median() / s.median()))

    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(11, 2.5 + 0.2 * (max(len(ratios), 3) + len(slowdowns))),
        height_ratios=[max(len(ratios), 3), max(len(slowdowns), 3)])
    if ratios:
        labels, values = zip(*reversed(ratios))
        bars = ax1.barh(labels, values, color=["tab:green" if v <= 1 else "tab:red" for v in values])
        ax1.bar_label(bars, fmt="%.3g", fontsize=6, padding=2)
        ax1.set_xscale("log")
        ax1.axvline(1, color="black", lw=0.8)
    else:
        ax1.text(0.5, 0.5, "no Blockwork results (binary missing, or every workload n/a or failing)",
                 ha="center", va="center", transform=ax1.transAxes)
        ax1.set_xticks([])
        ax1.set_yticks([])
    ax1.set_title("Blockwork time / other engine's time (median; < 1: Blockwork faster)")
    if slowdowns:
        labels, values, families = zip(*reversed(slowdowns))
        bars = ax2.barh(labels, values, color=[FAMILY_COLORS.get(f, "black") for f in families])
        ax2.bar_label(bars, fmt="%.3g", fontsize=6, padding=2)
        ax2.set_xscale("log")
        ax2.set_xlim(left=0.5)
        ax2.legend(handles=[Patch(color=c, label=f) for f, c in FAMILY_COLORS.items() if f in families],
                   loc="lower right", fontsize=7)
    ax2.set_title("each engine's time / fastest engine's time on that workload (1 = fastest)")
    for ax in (ax1, ax2):
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------

def default_blockwork():
    if os.environ.get("BLOCKWORK_BIN"):  # set by perf/run from `cargo metadata`
        return os.environ["BLOCKWORK_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "blockwork")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds, killing the running child
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs (a few minutes)")
    ap.add_argument("--runs", type=int, help="runs per engine and case (default 5, quick 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="shapes,latency,arrays,wordcount",
                    help="comma-separated groups: shapes, latency, arrays, linalg, wordcount, "
                    "distributed")
    ap.add_argument("--engines", help="comma-separated engine names to keep (default: all)")
    ap.add_argument("--workloads", help="comma-separated workloads to keep, e.g. "
                    "array_sort,array_tsqr (default: all of the groups)")
    ap.add_argument("--blockwork", default=default_blockwork(), help="path of the blockwork binary")
    ap.add_argument("--out", default=os.path.join(PERF, "RESULTS-harness.md"))
    ap.add_argument("--chart", default=os.path.join(PERF, "ratios.png"))
    ap.add_argument("--no-bounds", action="store_true", help="skip STREAM and DGEMM")
    ap.add_argument("--dist-shapes-n", type=int,
                    help="tasks per shape in the distributed group (default 1e4 quick, 1e5 full)")
    args = ap.parse_args()
    args.mode = "quick" if args.quick else "full"
    cfg = dict(SIZES[args.mode])
    if args.runs:
        cfg["runs"] = args.runs
    start = datetime.datetime.now()

    def log(msg):
        print(f"{(datetime.datetime.now() - start).total_seconds():7.1f}s  {msg}", file=sys.stderr, flush=True)

    blockwork = args.blockwork if os.access(args.blockwork, os.X_OK) else None
    if not blockwork:
        log(f"no Blockwork binary at {args.blockwork}: its rows are n/a")
    groups = set(args.only.split(","))
    corpus = os.path.join(PERF, "data", f"corpus-{cfg['corpus'] // 1_000_000}MB")
    if "wordcount" in groups or "distributed" in groups:
        log(f"corpus {corpus} ({cfg['corpus'] / 1e6:.0f} MB)")
        subprocess.run([PY, tool("py", "gen_corpus.py"), "--out", corpus, "--bytes", str(cfg["corpus"])],
                       check=True)
        stamp = json.loads(read(os.path.join(corpus, "corpus.json")))
        cfg["corpus"] = stamp["actual_bytes"]

    cases = plan_cases(cfg, args.threads, blockwork, corpus, groups)
    if "distributed" in groups:
        cases += plan_distributed_cases(args.mode, cfg, blockwork, corpus, args.dist_shapes_n)
    if args.engines:
        keep = set(args.engines.split(","))
        for c in cases:
            c.engines = {e: a for e, a in c.engines.items() if e in keep}
        cases = [c for c in cases if c.engines]
    if args.workloads:
        keep = set(args.workloads.split(","))
        cases = [c for c in cases if c.workload in keep]
    bounds = {"stream": {}, "dgemm": {}, "rng_fill": None}
    if not args.no_bounds:
        bounds = measure_bounds(cfg, args.threads, log)
    results = run_cases(cases, cfg["runs"], cfg["timeout"], log)

    elapsed = (datetime.datetime.now() - start).total_seconds()
    chart = None
    try:
        write_chart(args.chart, results)
        chart = args.chart
    except Exception as e:  # a report without a chart is still a report
        log(f"chart failed: {e!r}")
    write_report(args.out, results, bounds, machine_info(), versions(blockwork, results),
                 args, cfg, elapsed, chart)
    log(f"wrote {args.out}" + (f" and {chart}" if chart else ""))


if __name__ == "__main__":
    main()
