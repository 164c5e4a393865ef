#!/usr/bin/env python3
"""Python side of the metrics benchmark (see docs/PERFORMANCE.md, ## Metrics).

Same work as `cargo run --release -p atgen-metrics --example bench_metrics`:
ROUGE 1/2/L/Lsum with the Porter stemmer per pair (rouge-score 0.1.2), corpus
BLEU and sentence BLEU per pair (sacrebleu 2.4.3), on the first N AESLC train
rows: prediction = first 15 words of email_body, reference = subject_line.

    python3 scripts/bench/metrics_python.py [AESLC_TRAIN_JSONL] [N] [REPEATS]
"""
import json
import sys
import time

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/aeslc/train.jsonl"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3

preds, refs = [], []
with open(path, encoding="utf-8") as f:
    for line in f:
        if len(preds) == n:
            break
        row = json.loads(line)
        preds.append(" ".join(row["email_body"].split()[:15]))
        refs.append([row["subject_line"]])


def best_of(fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def rouge():
    # A fresh scorer per run: rouge-score keeps no cache, so this costs nothing extra.
    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    return [sc.score_multi(r, p) for p, r in zip(preds, refs)]


def corpus():
    return BLEU().corpus_score(preds, [[r[0] for r in refs]])


def sentence():
    # sacrebleu's tokenizer has an lru_cache; a fresh BLEU object per run keeps repeats honest.
    b = BLEU(effective_order=True)
    return [b.sentence_score(p, r).score for p, r in zip(preds, refs)]


print(f"pairs: {len(preds)}  repeats: {repeats} (best time shown)")
t_rouge, rs = best_of(rouge)
t_corpus, cb = best_of(corpus)
t_sent, sb = best_of(sentence)
mean = lambda k: sum(s[k].fmeasure for s in rs) / len(rs)  # noqa: E731
print("rouge1/2/L/Lsum F (mean): " + " ".join(f"{mean(k):.6f}" for k in ["rouge1", "rouge2", "rougeL", "rougeLsum"]))
print(f"corpus BLEU: {cb.score:.6f}  mean sentence BLEU: {sum(sb) / len(sb):.6f}")
print(f"time rouge (stemmer, 4 types)   : {t_rouge:8.4f} s")
print(f"time corpus BLEU                : {t_corpus:8.4f} s")
print(f"time sentence BLEU (all pairs)  : {t_sent:8.4f} s")
print(f"time total (rouge+corpus+sent)  : {t_rouge + t_corpus + t_sent:8.4f} s")
