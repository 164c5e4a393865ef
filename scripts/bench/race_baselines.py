#!/usr/bin/env python3
"""Trivial baselines for the offline RACE default (`scripts/demo`; docs/bench/README.md).

Exact match on the answer letter over the bundled test questions (all 100 are the default's
test set), for answers that read nothing or only the options:

* `majority`: always the pool's most frequent answer letter;
* `longest`: the longest option (a known RACE artefact);
* `overlap`: the option sharing the most words with the article (a crude reader).

    python3 scripts/bench/race_baselines.py [data/race]

Prints one `name accuracy` line per baseline, on the pool (train) and the test split.
"""
import collections
import json
import os
import re
import sys

data_dir = sys.argv[1] if len(sys.argv) > 1 else "data/race"
load = lambda split: [json.loads(l) for l in open(os.path.join(data_dir, f"{split}.jsonl"))]
train, test = load("train"), load("test")
letters = "ABCD"
majority = collections.Counter(r["answer"] for r in train).most_common(1)[0][0]
words = lambda s: set(re.findall(r"[a-z']+", s.lower()))


def overlap(r):
    article = words(r["article"])
    return letters[max(range(len(r["options"])), key=lambda i: len(words(r["options"][i]) & article))]


baselines = {
    f"majority '{majority}'": lambda r: majority,
    "longest option": lambda r: letters[max(range(len(r["options"])), key=lambda i: len(r["options"][i]))],
    "most article overlap": overlap,
}
print("name pool test")
for name, pick in baselines.items():
    acc = lambda rows: sum(pick(r) == r["answer"] for r in rows) / len(rows)
    print(f"{name:<22} {acc(train):.3f} {acc(test):.3f}")
