# NumPy reference for array case d: x @ y at 4096^2, median of N runs (default 5).
import time, sys
import numpy as np
n = 4096
rng = np.random.default_rng(1)
x = rng.random((n, n)); y = rng.random((n, n))
x @ y
ts = []
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
    t = time.perf_counter(); z = x @ y; ts.append(time.perf_counter() - t)
ts.sort(); med = ts[len(ts)//2]
print(f"numpy matmul 4096: median {med:.4f} s, min {ts[0]:.4f} s, {2*n**3/med/1e9:.1f} GFLOP/s")
