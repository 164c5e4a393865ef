#!/usr/bin/env python3
"""Select the small, seeded subsets of the paper's four datasets bundled in `data/`.

Usage: python3 scripts/make_bundled_data.py [--src ../shared/data] [--out data]

Reads the offline copies described in the shared data README (real data, unchanged rows) and
writes `data/<name>/{train,test}.jsonl` plus `data/README.md` (sources, licences, checksums).
Rows are copied byte-for-byte as JSON values (re-serialised with `ensure_ascii=False`), only the
row selection is ours: `random.Random(SEED).sample` over row indices, then sorted back into file
order. Python standard library only; tested with Python 3.11.
"""

import argparse
import hashlib
import json
import os
import random

SEED = 20250629

# name -> (train source, test source, n_train, n_test, note)
# TriviaQA: both splits come from `test_answer_value_subset.jsonl` (disjoint samples), because it is
# the only TriviaQA file with the canonical answer (`answer`) beside the aliases (`answers`); the
# canonical answer is the training target, the aliases the evaluation references.
PLAN = {
    "gsm8k": ("gsm8k/train.jsonl", "gsm8k/test.jsonl", 2000, 200),
    "aeslc": ("aeslc/train.jsonl", "aeslc/test.jsonl", 1200, 200),
    "triviaqa": (
        "triviaqa/test_answer_value_subset.jsonl",
        "triviaqa/test_answer_value_subset.jsonl",
        2000,
        200,
    ),
    "race": ("race/train_subset.jsonl", "race/test.jsonl", 900, 100),
}

SOURCES = {
    "gsm8k": "https://github.com/openai/grade-school-math @ `3101c7d5072418e28b9008a6636bde82a006892c`, "
    "`grade_school_math/data/{train,test}.jsonl`. License: MIT (© 2021 OpenAI).",
    "aeslc": "https://github.com/ryanzhumich/AESLC @ `7afc087a1cc234d07121f0d4a2d87102ddceabc2`, "
    "`enron_subject_line/`, converted to JSONL (rules in the shared `aeslc/README.md`). "
    "License: CC BY-NC-SA 4.0. Fields: `id`, `email_body`, `subject_line`, `subject_lines` "
    "(test: original subject + 3 annotations), test also `annotated_subject_lines`.",
    "triviaqa": "TriviaQA (unfiltered validation set) questions with canonical answers from "
    "https://github.com/mosaicml/llm-foundry (Apache-2.0) "
    "`scripts/eval/local_data/world_knowledge/triviaqa_sm_sub.jsonl`, aliases from the DPR "
    "open-domain files (CC-BY-NC 4.0) via https://github.com/castorini/anserini "
    "@ `81a39cce71ee027f927be9b56f7c827eb4c2d096` (Apache-2.0). The licence of the underlying "
    "TriviaQA data is not stated in these repos. Both bundled splits are disjoint samples of "
    "`test_answer_value_subset.jsonl` (2,926 rows). Fields: `id`, `question`, `answer`, `answers`.",
    "race": "RACE (Lai et al. 2017) from https://github.com/Liangtaiwan/self-training-mcqa "
    "@ `04b17044c6cd9cee238a911cb123d63160ba3788`, `data/RACE/`, one row per question. "
    "License: none stated in the source repo; RACE is distributed by CMU for non-commercial "
    "research use. Fields: `id`, `article_id`, `level`, `article`, `question`, `options`, `answer`.",
}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "data"))
    args = ap.parse_args()

    table = []
    for name, (train_src, test_src, n_train, n_test) in PLAN.items():
        rng = random.Random(f"{SEED}-{name}")
        train_rows = read_jsonl(os.path.join(args.src, train_src))
        if train_src == test_src:
            idx = rng.sample(range(len(train_rows)), n_train + n_test)
            train_idx, test_idx = sorted(idx[:n_train]), sorted(idx[n_train:])
            test_rows = train_rows
        else:
            test_rows = read_jsonl(os.path.join(args.src, test_src))
            train_idx = sorted(rng.sample(range(len(train_rows)), n_train))
            test_idx = sorted(rng.sample(range(len(test_rows)), n_test))
        for split, rows, idx, src in (
            ("train", train_rows, train_idx, train_src),
            ("test", test_rows, test_idx, test_src),
        ):
            out = os.path.join(args.out, name, f"{split}.jsonl")
            write_jsonl(out, [rows[i] for i in idx])
            table.append(
                (f"{name}/{split}.jsonl", len(idx), src, sha256(os.path.join(args.src, src)),
                 sha256(out), os.path.getsize(out))
            )

    total = sum(t[5] for t in table)
    lines = [
        "# Bundled dataset subsets",
        "",
        "Small seeded subsets of the four datasets the ATGen paper benchmarks on, so tests, demos and",
        "a fresh clone work offline. Every row is real and unchanged; only the selection is ours.",
        "Generated by `python3 scripts/make_bundled_data.py` (seed "
        f"`{SEED}`, `random.Random(f\"{{SEED}}-{{name}}\").sample` over row indices, kept in file order)",
        "from the offline copies described in the project's shared data README. Do not edit by hand.",
        "",
        "Configs refer to them as `bundled:<name>` (see `configs/data/*.yaml`); the `atgen-data`",
        "crate embeds this folder in the binary, so an installed `atgen` finds them without the repo.",
        "",
        "**Licences: several are non-commercial (AESLC, TriviaQA via DPR, RACE). Research use only.**",
        "",
        "## Sources and licences",
        "",
    ]
    for name, text in SOURCES.items():
        lines.append(f"* **{name}**: {text}")
    lines += [
        "",
        "## Files",
        "",
        "| file | rows | taken from | source sha256 | file sha256 | bytes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f, n, src, src_sha, sha, size in table:
        lines.append(f"| {f} | {n} | `{src}` | `{src_sha}` | `{sha}` | {size} |")
    lines += ["", f"Total: {total} bytes.", ""]
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"wrote {len(table)} files, {total} bytes")


if __name__ == "__main__":
    main()
