#!/usr/bin/env python3
"""Reference side of the HUDS / TE-delfy selection benchmark (`atgen bench --perf`).

Times the original ATGen's (atgen==0.1.0) `huds` and `te_delfy` selecting 1% of the pool
that `atgen bench --perf` writes (the `bench_strategies` pool: `embeddings.f32`, n x 384
little-endian float32, and `pool.json` with `inputs`, per-token `logprobs` and `entropies`).

ATGen cannot be imported whole (vllm, unsloth, ...), so, as in
scripts/fixtures/strategies_golden.py, its strategy modules are parsed with `ast` and
their pure functions executed verbatim; only the model-facing helpers are replaced, and
they return what ATGen computes from a model's output for the given numbers:
`normalized_negative_log_likelihoods` -> -mean(log-probs) per text, and
`token_entropy_ranks` -> argsort(argsort(-mean(entropies))). Their work (a numpy mean
over the pool) is inside the timed part, as ours computes the same from the generations.
NSP is left out: with the model stubbed it is a single argsort.

    pip download atgen==0.1.0 --no-deps -d /tmp/atgen && unzip -o /tmp/atgen/*.whl -d /tmp/atgen_src
    pip install numpy torch nltk
    ATGEN_SRC=/tmp/atgen_src python3 scripts/bench/atgen_original_strategies.py POOL_DIR

Prints `<strategy> <n> <seconds>` per strategy.
"""
import ast
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from nltk.stem.porter import PorterStemmer
from nltk.tokenize import RegexpTokenizer

ATGEN = Path(os.environ.get("ATGEN_SRC", "/tmp/atgen_src")) / "atgen/strategies"


def load_functions(module_file, names, namespace):
    """Executes the named top-level functions of an ATGen module in `namespace`."""
    path = ATGEN / module_file
    if not path.is_file():
        sys.exit(f"{path} not found: set ATGEN_SRC to the unpacked atgen==0.1.0 wheel")
    tree = ast.parse(path.read_text())
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = set(names) - {n.name for n in body}
    if missing:
        sys.exit(f"{path}: functions {sorted(missing)} not found")
    flags = __import__("__future__").annotations.compiler_flag
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec", flags=flags), namespace)
    return namespace


class Pool(dict):
    """The slice of `datasets.Dataset` that ATGen's functions use: columns and len."""

    def __len__(self):
        return len(self["id"])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pool_dir = Path(sys.argv[1])
    meta = json.loads((pool_dir / "pool.json").read_text())
    inputs, dim = meta["inputs"], meta["dim"]
    n = len(inputs)
    emb = np.fromfile(pool_dir / "embeddings.f32", dtype="<f4").reshape(n, dim)
    logprobs = np.array(meta["logprobs"], dtype=np.float32)
    entropies = np.array(meta["entropies"], dtype=np.float32)
    k = max(n // 100, 1)
    torch.set_num_threads(int(os.environ.get("RAYON_NUM_THREADS", torch.get_num_threads())))

    huds = load_functions("huds.py", ["huds", "stratify", "get_strata_centroid_distances"],
                          {"np": np, "torch": torch, "MESSAGES_COLUMN_NAME": "messages"})
    huds["normalized_negative_log_likelihoods"] = lambda model, tok, texts, **kw: -logprobs.mean(axis=1)
    pool = Pool(id=list(range(n)), messages=inputs, input=inputs)
    t = time.time()
    picked = huds["huds"](None, None, pool, emb, k)
    print("huds", n, time.time() - t)
    assert len(picked) == k

    te = load_functions(
        "te_delfy.py",
        ["te_delfy", "preprocess_delfy", "delfy_C", "lf_score", "delfy_score", "delfy_ranks"],
        {"np": np, "Counter": Counter, "RegexpTokenizer": RegexpTokenizer,
         "PorterStemmer": PorterStemmer, "MESSAGES_COLUMN_NAME": "messages"})
    te["token_entropy_ranks"] = lambda model, tok, texts, config, **kw: np.argsort(
        np.argsort(-entropies.mean(axis=1)))
    t = time.time()
    picked = te["te_delfy"](None, None, pool, Pool(id=[], input=[]), "input", k, config=None)
    print("te_delfy", n, time.time() - t)
    assert len(picked) == k


if __name__ == "__main__":
    main()
