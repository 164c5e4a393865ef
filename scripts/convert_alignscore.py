#!/usr/bin/env python3
"""Converts an AlignScore checkpoint (the PyTorch Lightning `.ckpt` files the AlignScore
authors publish, e.g. AlignScore-large.ckpt) to the HF layout atgen loads
(`{type: alignscore, model: <out>}`):

  <out>/config.json            the base RoBERTa's config, architectures = ["AlignScoreModel"]
  <out>/model.safetensors      roberta.* (encoder + pooler), reg_layer.*, bin_layer.*, tri_layer.*
  <out>/tokenizer.json, tokenizer_config.json, ...   the base model's tokenizer

The checkpoint's state dict names the encoder `base_model.*` and the heads `reg_layer`,
`bin_layer`, `tri_layer`; its MLM head (`mlm_head.*`, training only) is dropped. The base model
(roberta-large for AlignScore-large, roberta-base for AlignScore-base) must be a local
directory in HF layout (`--base`): its config and tokenizer are copied, nothing is downloaded.

Usage: python3 scripts/convert_alignscore.py --ckpt AlignScore-large.ckpt --base roberta-large/ --out alignscore-large/
Needs torch, transformers and safetensors (pip install torch transformers safetensors).
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

HEADS = {"reg_layer": 1, "bin_layer": 2, "tri_layer": 3}


def convert(ckpt_path, base_dir, out_dir):
    import transformers

    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        sys.exit(f"{ckpt_path}: no state_dict in the checkpoint")
    hp = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    if "model" in hp and "roberta" not in str(hp["model"]):
        sys.exit(f"{ckpt_path}: base model {hp['model']!r} is not RoBERTa; atgen loads RoBERTa AlignScore models")
    cfg = transformers.AutoConfig.from_pretrained(base_dir)
    if cfg.model_type != "roberta":
        sys.exit(f"{base_dir}: model_type {cfg.model_type!r}, expected 'roberta'")
    out = {}
    for name, t in state.items():
        if name.startswith("mlm_head.") or name.endswith("position_ids") or name.endswith("token_type_ids"):
            continue
        if name.startswith("base_model."):
            out["roberta." + name[len("base_model."):]] = t.float().contiguous()
        elif name.split(".")[0] in HEADS:
            out[name] = t.float().contiguous()
        else:
            sys.exit(f"{ckpt_path}: unexpected tensor {name!r}")
    h = cfg.hidden_size
    for head, n in HEADS.items():
        for part, shape in (("weight", (n, h)), ("bias", (n,))):
            key = f"{head}.{part}"
            if key not in out:
                sys.exit(f"{ckpt_path}: missing {key}")
            if tuple(out[key].shape) != shape:
                sys.exit(f"{ckpt_path}: {key} has shape {tuple(out[key].shape)}, expected {shape}")
    for key in ("roberta.embeddings.word_embeddings.weight", "roberta.pooler.dense.weight"):
        if key not in out:
            sys.exit(f"{ckpt_path}: missing {key.replace('roberta.', 'base_model.', 1)}")
    os.makedirs(out_dir, exist_ok=True)
    save_file(out, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    cfg.architectures = ["AlignScoreModel"]
    cfg_dict = cfg.to_dict()
    cfg_dict["alignscore_heads"] = {"reg_layer": "regression", "bin_layer": ["not aligned", "aligned"],
                                    "tri_layer": ["aligned", "contradiction", "neutral"]}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg_dict, f, indent=2, sort_keys=True)
    tok = transformers.AutoTokenizer.from_pretrained(base_dir, use_fast=True)
    tok.save_pretrained(out_dir)
    for f in ("vocab.json", "merges.txt"):
        p = os.path.join(out_dir, f)
        if os.path.exists(p) and os.path.exists(os.path.join(out_dir, "tokenizer.json")):
            os.remove(p)
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="AlignScore Lightning checkpoint (.ckpt)")
    ap.add_argument("--base", required=True, help="local HF directory of the base RoBERTa (config + tokenizer)")
    ap.add_argument("--out", required=True, help="output directory")
    a = ap.parse_args()
    print("wrote", convert(a.ckpt, a.base, a.out))


if __name__ == "__main__":
    main()
