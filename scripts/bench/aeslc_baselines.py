#!/usr/bin/env python3
"""Trivial baselines for the offline AESLC demo (docs/bench/README.md, README.md).

Scores, on exactly the test emails of a run (the ids in its `iter_*/generations.jsonl`), what a
model that learned nothing about the emails could write, with the metric the run uses
(rouge-score 0.1.2, ROUGE F-measure with the Porter stemmer, best of the references):

* `lead-k`: the email's first k words (k = 1..10), the classic summarisation baseline;
* `constant`: the same subject for every email: the most frequent subject words of the pool's
  labels, and the single pool subject that scores best on the test emails (an upper bound for
  any constant, chosen with the test set);
* each round of the run itself (its `generations.jsonl`), for comparison.

    pip install rouge-score==0.1.2
    python3 scripts/bench/aeslc_baselines.py RUN_DIR [data/aeslc]

Prints one `name rouge1 rouge2 rougeL` line per baseline and per round.
"""
import collections
import glob
import json
import os
import sys

from rouge_score import rouge_scorer

run_dir = sys.argv[1]
data_dir = sys.argv[2] if len(sys.argv) > 2 else "data/aeslc"
scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def best(pred, refs):
    scores = [scorer.score(r, pred) for r in refs]
    return [max(s[k].fmeasure for s in scores) for k in ("rouge1", "rouge2", "rougeL")]


def mean_scores(preds, refs):
    rows = [best(p, r) for p, r in zip(preds, refs)]
    return [sum(c) / len(rows) for c in zip(*rows)]


def show(name, preds, refs):
    r1, r2, rl = mean_scores(preds, refs)
    print(f"{name:<40} {r1:.4f} {r2:.4f} {rl:.4f}")


rounds = sorted(glob.glob(os.path.join(run_dir, "iter_*", "generations.jsonl")))
if not rounds:
    sys.exit(f"{run_dir}: no iter_*/generations.jsonl")
first = [json.loads(line) for line in open(rounds[0])]
ids = [g["id"] for g in first]
refs = [g["references"] for g in first]
test = {}
for line in open(os.path.join(data_dir, "test.jsonl")):
    row = json.loads(line)
    test[row["id"]] = row
emails = [test[i]["email_body"] for i in ids]
pool = [json.loads(line)["subject_line"] for line in open(os.path.join(data_dir, "train.jsonl"))]

print(f"{len(ids)} test emails; name rouge1 rouge2 rougeL")
for k in range(1, 11):
    show(f"lead-{k}", [" ".join(e.split()[:k]) for e in emails], refs)
words = collections.Counter(w.lower() for s in pool for w in s.split() if w.isalpha())
for n in (1, 2, 3, 4):
    const = " ".join(w for w, _ in words.most_common(n))
    show(f"constant '{const}'", [const] * len(ids), refs)
distinct = sorted(set(pool))
best_const = max(distinct, key=lambda s: mean_scores([s] * len(ids), refs)[0])
show(f"best constant (test-chosen) '{best_const}'", [best_const] * len(ids), refs)
for path in rounds:
    gens = {g["id"]: g["prediction"] for g in map(json.loads, open(path))}
    show(os.path.basename(os.path.dirname(path)), [gens[i] for i in ids], refs)
