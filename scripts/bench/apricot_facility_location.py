#!/usr/bin/env python3
"""Reference side of the selection benchmark (`atgen bench --perf`, docs/PERFORMANCE.md).

Exact facility location with lazy greedy (apricot-select 0.6.1, numpy 1.26.4) selecting 1% of
N seeded non-negative unit vectors of dimension 384; the cosine similarity matrix is computed
inside the timed part. numba compiles on first use (per argument types, and the small warm-up
did not cover everything), so the same selection runs once untimed first. Prints `<n> <seconds>`.

    python3 scripts/bench/apricot_facility_location.py [N]
"""
import sys
import time

import numpy as np
from apricot import FacilityLocationSelection

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
rng = np.random.default_rng(0)
w = np.abs(rng.standard_normal((50, 8))).astype(np.float32)
w /= np.linalg.norm(w, axis=1, keepdims=True)
FacilityLocationSelection(5, metric="precomputed", optimizer="lazy").fit(w @ w.T)  # JIT warm-up
X = np.abs(rng.standard_normal((n, 384))).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
k = max(n // 100, 1)
FacilityLocationSelection(k, metric="precomputed", optimizer="lazy").fit(X @ X.T)  # JIT, untimed
t = time.time()
S = X @ X.T
FacilityLocationSelection(k, metric="precomputed", optimizer="lazy").fit(S)
print(n, time.time() - t)
