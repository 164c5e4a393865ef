#!/usr/bin/env python3
"""Does a (pre-trained, not yet fine-tuned) local model copy from its input? (docs/bench/README.md)

Greedy continuations with `atgen generate` on bundled AESLC test emails (short openings, so
prompts fit a 96-token context), in the AESLC data config's prompt:

* `next-word`: the prompt ends with `Subject line:` and two words of the email taken from a
  random position; counts continuations whose first word is the email's next word (strict: a
  word split differently by the tokenizer counts as a miss);
* `span`: the prompt ends with `Subject line:`; counts answers that are a span of the email;
* `repeat`: plain text, the email's opening then its first words again on a new line; counts
  continuations whose first word is the next word of the opening (the repeat objective).

    python3 scripts/bench/copy_probe.py MODEL_DIR [target/release/atgen]
"""
import json
import random
import subprocess
import sys
import tempfile

TEMPLATE = (
    "Write a subject line for the following email. Reply with the subject line only."
    "\n\nEmail:\n{text}\n\nSubject line:"
)
model = sys.argv[1]
atgen = sys.argv[2] if len(sys.argv) > 2 else "target/release/atgen"
rows = [json.loads(line) for line in open("data/aeslc/test.jsonl")]


def opening(body, chars):
    words = body.split()
    while len(" ".join(words)) > chars:
        words = words[:-1]
    # Upper-case runs tokenize letter by letter and overflow a tiny context.
    return words if len(words) >= 6 and sum(c.isupper() for c in " ".join(words)) <= 8 else None


def generate(prompts):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.writelines(json.dumps({"prompt": p}) + "\n" for p in prompts)
    cmd = [atgen, "generate", "--model", model, "--input", f.name, "--max-new-tokens", "8"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["text"] for line in out.splitlines()]


rng = random.Random(0)
openings = [w for w in (opening(r["email_body"], 70) for r in rows[:60]) if w]
starts = [rng.randrange(0, len(w) - 4) for w in openings]
prompts = [TEMPLATE.format(text=" ".join(w)) + " " + " ".join(w[i : i + 2]) for w, i in zip(openings, starts)]
hits = sum(g.split()[:1] == [w[i + 2]] for g, w, i in zip(generate(prompts), openings, starts))
print(f"next-word {hits}/{len(prompts)}")

spans = [w for w in (opening(r["email_body"], 100) for r in rows) if w][:40]
gens = generate([TEMPLATE.format(text=" ".join(w)) for w in spans])
hits = sum(g.strip() != "" and g.strip() in " ".join(w) for g, w in zip(gens, spans))
print(f"span {hits}/{len(spans)}")

rng = random.Random(1)
texts = [w for w in (opening(r["email_body"], 90) for r in rows[:80]) if w]
cuts = [rng.randrange(1, len(w) - 3) for w in texts]
gens = generate([" ".join(w) + "\n" + " ".join(w[:i]) for w, i in zip(texts, cuts)])
hits = sum(g.split()[:1] == [w[i]] for g, w, i in zip(gens, texts, cuts))
print(f"repeat {hits}/{len(texts)}")
