#!/usr/bin/env python3
"""PyTorch + PEFT side of the model-engine benchmark (docs/PERFORMANCE.md, ## Model engine).

Does the same work as `atgen model bench` (crates/atgen-cli/src/commands/bench.rs) on the
same model directory, so the two can be compared number for number:

* the same synthetic texts (`text_of` below is a copy of the Rust one), tokenized with the
  model's tokenizer.json exactly as atgen does: prompt with special tokens, target without,
  plus the first EOS id; rows left-padded, positions counted from the first real token;
* training: LoRA r=16, alpha=16, dropout 0 on the 7 projections, AdamW (lr 3e-5, wd 0.01,
  betas 0.9/0.999, eps 1e-8), linear warmup/decay, clip 1.0, batch 16; the loss is the
  mean NLL of the target tokens, computed (as atgen does) from the logits of the target
  positions only; one warm-up step, then STEPS timed steps;
* generation: adapters merged, EOS disabled, greedy, batch 16, NEW_TOKENS new tokens, with
  the per-token log-prob and entropy of the raw distribution computed for every row (what
  atgen returns); one warm-up call (1 prompt, 2 tokens), then one timed call.

Throughputs: train tokens/s counts every real (non-pad) token of the timed batches, and
target tokens/s the target tokens (the same definitions as atgen's JSON report).

    python3 scripts/bench/torch_model_bench.py /tmp/bench-model [--threads 2] [--steps 5] [--device cuda]

With `--device cuda` both sides run on the GPU (compare with `atgen model bench --device cuda`
from a `--features cuda` build, docs/GPU.md); every timed phase ends by reading results back
to the host, so the times include the GPU's work.

Versions used for docs/PERFORMANCE.md: torch 2.5.1 (CPU), transformers 4.51.3, peft 0.15.2.
"""
import argparse
import json
import math
import resource
import time

import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, get_linear_schedule_with_warmup

WORDS = ["the", "model", "learns", "a", "label", "for", "each", "text", "query", "pool", "of", "data"]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def text_of(n, offset):
    return " ".join(WORDS[(i * 7 + offset) % len(WORDS)] for i in range(n))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def left_pad(rows, pad, dev):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        p = width - len(r)
        ids[i, p:] = torch.tensor(r)
        pos[i, p:] = torch.arange(len(r))
        mask[i, p:] = 1
    return ids.to(dev), pos.to(dev), mask.to(dev)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--target-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--r", type=int, default=16)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    tok = Tokenizer.from_file(f"{args.model}/tokenizer.json")
    with open(f"{args.model}/config.json") as f:
        cfg = json.load(f)
    eos = cfg["eos_token_id"]
    eos = eos[0] if isinstance(eos, list) else eos
    pad = cfg.get("pad_token_id") or 0
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).to(dev)
    lora = LoraConfig(r=args.r, lora_alpha=args.r, lora_dropout=0.0, target_modules=TARGETS)
    model = get_peft_model(model, lora)
    model.train()
    inner = model.base_model.model  # Qwen3ForCausalLM with LoRA layers injected

    b = args.batch_size
    examples = [
        (text_of(args.prompt_tokens, i), text_of(args.target_tokens, i + 3))
        for i in range(b * (args.steps + 1))
    ]
    seqs = []
    for prompt, target in examples:
        p = tok.encode(prompt, add_special_tokens=True).ids
        t = tok.encode(target, add_special_tokens=False).ids + [eos]
        seqs.append((p + t, len(t)))

    def batch_loss(batch):
        ids, pos, mask = left_pad([s for s, _ in batch], pad, dev)
        tmax = max(n for _, n in batch)
        width = ids.shape[1]
        hidden = inner.model(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
        h = hidden[:, width - 1 - tmax : width - 1]
        logp = torch.log_softmax(inner.lm_head(h).float(), dim=-1)
        labels = torch.zeros((len(batch), tmax), dtype=torch.long)
        weights = torch.zeros((len(batch), tmax))
        for i, (s, n) in enumerate(batch):
            labels[i, tmax - n :] = torch.tensor(s[len(s) - n :])
            weights[i, tmax - n :] = 1.0
        labels, weights = labels.to(dev), weights.to(dev)
        picked = logp.gather(2, labels.unsqueeze(2)).squeeze(2)
        count = sum(n for _, n in batch)
        return -(picked * weights).sum() / count

    def fit(part):
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=3e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        steps = math.ceil(len(part) / b)
        sched = get_linear_schedule_with_warmup(opt, math.ceil(0.03 * steps), steps)
        for k in range(steps):
            loss = batch_loss(part[k * b : (k + 1) * b])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            loss.item()

    fit(seqs[:b])  # warm-up
    timed = seqs[b:]
    all_tokens = sum(len(s) for s, _ in timed)
    target_tokens = sum(n for _, n in timed)
    t0 = time.perf_counter()
    fit(timed)
    train_s = time.perf_counter() - t0
    train_rss = peak_rss_mib()

    model = model.merge_and_unload()
    model.eval()
    prompts = [tok.encode(text_of(args.prompt_tokens, i), add_special_tokens=True).ids for i in range(b)]

    def generate(rows, new_tokens):
        ids, pos, mask = left_pad(rows, pad, dev)
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                eos_token_id=None,
                pad_token_id=pad,
                output_logits=True,
                return_dict_in_generate=True,
            )
            # Per-token log-prob and entropy of the raw distribution, as atgen reports.
            logp = torch.log_softmax(torch.stack(out.logits, 1).float(), -1)
            chosen = out.sequences[:, ids.shape[1] :]
            _lp = logp.gather(2, chosen.unsqueeze(2)).squeeze(2).tolist()
            _ent = (-(logp.exp() * logp).sum(-1)).tolist()
        return chosen.numel()

    generate(prompts[:1], 2)  # warm-up
    t0 = time.perf_counter()
    generated = generate(prompts, args.new_tokens)
    gen_s = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "device": str(dev),
                "threads": torch.get_num_threads(),
                "batch_size": b,
                "train_steps": args.steps,
                "train_seconds": train_s,
                "train_tokens_per_s": all_tokens / train_s,
                "train_target_tokens_per_s": target_tokens / train_s,
                "train_peak_rss_mib": train_rss,
                "generate_seconds": gen_s,
                "generate_tokens_per_s": generated / gen_s,
                "generated_tokens": generated,
                "peak_rss_mib": peak_rss_mib(),
                "peak_gpu_mib": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
