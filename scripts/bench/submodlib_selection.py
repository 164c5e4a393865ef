#!/usr/bin/env python3
"""Reference side of the submodlib selection comparison (`atgen bench --perf`).

Selects 1% of the pool `atgen bench --perf` wrote into POOL_DIR (`embeddings.f32`:
row-major little-endian float32, `n x dim`; `meta.json`: {"n", "dim"}) with
submodlib (PyPI `submodlib-py==0.0.3`, numpy 2.4.6, scikit-learn 1.9.1), lazy greedy
for facility location and naive greedy for graph cut (as atgen):

  facility_location dense   kernel from submodlib.helper.create_kernel(mode="dense",
                            method="sklearn") (float32 cosine; lighter and faster than
                            letting FacilityLocationFunction build it from data), then
                            FacilityLocationFunction(mode="dense", sijs=...)
  facility_location sparse  FacilityLocationFunction(mode="sparse", data=X,
                            num_neighbors=K): submodlib's exact k-NN kernel (C++)
  graph_cut dense           same dense kernel, GraphCutFunction(mode="dense", ggsijs=...)
  graph_cut sparse          GraphCutFunction(mode="sparse", data=X, num_neighbors=K)

Timed: kernel construction + maximize (reading the file is not). Prints one JSON line:
seconds, kernel_seconds, peak_rss_mib (this process's high-water mark), picks.

    python3 scripts/bench/submodlib_selection.py POOL_DIR facility_location|graph_cut dense|sparse [K]
"""
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from submodlib import FacilityLocationFunction, GraphCutFunction
from submodlib.helper import create_kernel

pool, function, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
knn = int(sys.argv[4]) if len(sys.argv) > 4 else 20
meta = json.loads((pool / "meta.json").read_text())
n, dim = meta["n"], meta["dim"]
X = np.fromfile(pool / "embeddings.f32", dtype="<f4").reshape(n, dim)
k = max(n // 100, 1)
LAMBDA = 0.5  # atgen's graph_cut default

t0 = time.time()
if mode == "dense":
    S = create_kernel(X, metric="cosine", mode="dense", method="sklearn")
    t_kernel = time.time() - t0
    if function == "facility_location":
        f = FacilityLocationFunction(n=n, mode="dense", sijs=S, separate_rep=False)
    else:
        f = GraphCutFunction(n=n, mode="dense", lambdaVal=LAMBDA, ggsijs=S)
elif mode == "sparse":
    if function == "facility_location":
        f = FacilityLocationFunction(n=n, mode="sparse", data=X, metric="cosine", num_neighbors=knn)
    else:
        f = GraphCutFunction(n=n, mode="sparse", lambdaVal=LAMBDA, data=X, metric="cosine",
                             num_neighbors=knn)
    t_kernel = time.time() - t0
else:
    sys.exit(f"unknown mode {mode!r} (dense or sparse)")
# Graph cut: naive greedy, as atgen's. With signed cosines the function is not submodular,
# so lazy greedy's stale bounds could pick another order than greedy.
optimizer = "NaiveGreedy" if function == "graph_cut" else "LazyGreedy"
picks = f.maximize(budget=k, optimizer=optimizer, stopIfZeroGain=False,
                   stopIfNegativeGain=False, show_progress=False)
seconds = time.time() - t0
print(json.dumps({
    "seconds": seconds,
    "kernel_seconds": t_kernel,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "picks": [int(i) for i, _ in picks],
}))
