#!/usr/bin/env python3
"""Baselines for the offline default, grapheme-to-phoneme on CMUdict (README.md, docs/bench/README.md).

Scores, on the test words of a run (the ids in its `iter_*/generations.jsonl`), what simple
methods reach with the labels the run bought (every `iter_*/labeled.jsonl`), with the run's
metrics: exact match against any listed pronunciation, and the phoneme error rate (jiwer's
corpus WER over the space-separated phonemes, each word scored against its closest
pronunciation, as atgen's `wer` does):

* `constant`: the labels' six most frequent phonemes, the same for every word;
* `nearest labeled word`: the pronunciation of the labeled word closest in spelling
  (Levenshtein distance over letters; the first on ties);
* `letter rule`: each letter replaced by the phoneme it most often stands for in the labeled
  words whose spelling and pronunciation have the same length (a hand-made alignment);
* each round of the run itself (its `generations.jsonl`), for comparison.

    pip install jiwer==4.0.0
    python3 scripts/bench/cmudict_baselines.py RUN_DIR [data/cmudict]

Prints one `name exact_match per` line per baseline and per round.
"""
import collections
import glob
import json
import os
import sys

import jiwer

run_dir = sys.argv[1]
data_dir = sys.argv[2] if len(sys.argv) > 2 else "data/cmudict"


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


rows = {r["id"]: r for split in ("train", "test") for r in read(os.path.join(data_dir, f"{split}.jsonl"))}
rounds = sorted(glob.glob(os.path.join(run_dir, "iter_*")))
test = [rows[g["id"]] for g in read(os.path.join(rounds[0], "generations.jsonl"))]
labeled = [rows[r["id"]] for d in rounds for r in read(os.path.join(d, "labeled.jsonl"))]


def levenshtein(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diag, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (x != y))
    return row[-1]


def score(name, predictions):
    exact = sum(p in t["pronunciations"] for p, t in zip(predictions, test)) / len(test)
    edits = words = 0
    for p, t in zip(predictions, test):
        best = min(t["pronunciations"], key=lambda r: jiwer.wer(r, p) if p.strip() else 1.0)
        out = jiwer.process_words(best, p)
        edits += out.substitutions + out.deletions + out.insertions
        words += len(best.split())
    print(f"{name:32s} exact_match {exact:.4f}  per {edits / words:.4f}")


print(f"{len(test)} test words, {len(labeled)} labeled words")
counts = collections.Counter(p for r in labeled for p in r["phonemes"].split())
constant = " ".join(p for p, _ in counts.most_common(6))
score(f"constant `{constant}`", [constant] * len(test))
score(
    "nearest labeled word",
    [min(labeled, key=lambda r: levenshtein(r["word"], t["word"]))["phonemes"] for t in test],
)
pairs = collections.defaultdict(collections.Counter)
for r in labeled:
    phones = r["phonemes"].split()
    if len(phones) == len(r["word"]):
        for letter, phone in zip(r["word"], phones):
            pairs[letter][phone] += 1
rule = {letter: c.most_common(1)[0][0] for letter, c in pairs.items()}
score("letter rule", [" ".join(rule.get(ch, "AH0") for ch in t["word"]) for t in test])
for d in rounds:
    by_id = {g["id"]: g["prediction"] for g in read(os.path.join(d, "generations.jsonl"))}
    score(f"run {os.path.basename(d)}", [by_id[t["id"]] for t in test])
