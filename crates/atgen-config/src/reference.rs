//! The Markdown configuration reference (`docs/CONFIG.md` is generated from it).

use crate::schema::Config;
use crate::source::ConfigSources;
use serde_norway::Value;

/// Keys whose children are free-form (not part of the schema).
const OPEN: &[&str] = &[
    "al.strategy",
    "al.required_performance",
    "labeller.parameters",
];

/// Every schema key and its meaning; a unit test keeps this in step with the structs.
const DOCS: &[(&str, &str)] = &[
    ("name", "Run name; runs are written to `<output_dir>/<name>/<timestamp>/`."),
    ("seed", "Global seed (sampling, strategies); `data.subset_seed` defaults to it in `configs/config.yaml`."),
    ("output_dir", "Root folder of run directories."),
    ("data", "Dataset, columns, prompt, subsets."),
    ("data.dataset", "**Required.** `bundled:<name>` (subsets shipped in the binary: aeslc, cmudict, gsm8k, race, triviaqa), a local directory of `<split>.{jsonl,json,csv,parquet}` files, a local file (JSONL/JSON/CSV/Parquet; a JSON `{split: [...]}` object holds several splits), or a Hugging Face dataset id (`org/name`, or `hf:org/name`): downloaded into the HF cache (the splits used; script datasets through the hub's `refs/convert/parquet` conversion) unless `HF_HUB_OFFLINE` is set, then read from it."),
    ("data.revision", "Hub revision (branch, tag or commit) for a hub dataset."),
    ("data.hub_config", "Hub dataset configuration (subset) name, e.g. `main` for `openai/gsm8k`."),
    ("data.test_file", "A file with the test split, instead of the one found through `data.dataset`."),
    ("data.train_split", "Split used as the unlabeled pool."),
    ("data.test_split", "Test split; when `null` or absent, `data.held_out_fraction` of the train split is held out (seeded)."),
    ("data.held_out_fraction", "Fraction of train held out as test data when there is no test split, in (0, 1)."),
    ("data.input_column", "Column with the input text (`{text}` in the template)."),
    ("data.output_column", "Column with the training target; it becomes the first reference."),
    ("data.references_column", "Column with further accepted references: a string or a list (e.g. TriviaQA aliases)."),
    ("data.id_column", "Column with a stable id; `null` uses `<split>-<row index>`."),
    ("data.prompt_template", "Prompt template: `{text}` is the input, `{column}` any column, `{column:lettered}` a list as `A. ...` lines, `{column:lines}` a list one per line, `{{` / `}}` literal braces."),
    ("data.system_prompt", "System prompt for chat models (`null`: none)."),
    ("data.few_shot", "Few-shot demonstrations put before each prompt."),
    ("data.few_shot.count", "Demonstrations drawn (seeded) from the train split and removed from the pool."),
    ("data.few_shot.examples", "Demonstrations given inline: a list of `{input: ..., output: ...}`."),
    ("data.few_shot.separator", "Text between demonstrations in plain-text prompts."),
    ("data.train_subset_size", "Pool subset size: an integer count or a fraction in (0, 1]; `null` keeps all."),
    ("data.test_subset_size", "Test subset size: an integer count or a fraction in (0, 1]; `null` keeps all."),
    ("data.subset_seed", "Seed of subsets, held-out splits and few-shot sampling."),
    ("data.skip_bad_rows", "Skip malformed, empty or non-UTF-8 rows (counted in the load report) instead of failing."),
    ("data.metrics", "The task's natural metrics; `evaluation.metrics` defaults to them."),
    ("al", "The active-learning loop."),
    ("al.strategy", "Query strategy: a name (`random`, `huds`, ...) or `{type: name, ...params}`, handed as is to the strategies crate. Usually set by picking `al=<strategy>`."),
    ("al.init_query_size", "Texts labeled before the first training: a count (integer) or a fraction of the pool (e.g. `0.01`); 0 for none."),
    ("al.query_size", "Texts queried per iteration: a count or a fraction of the pool."),
    ("al.num_iterations", "Query iterations after the initial labeling."),
    ("al.subsample_size", "Score only a random pool subsample of this size (count or fraction); `null` scores the whole pool."),
    ("al.budget", "Stop when this much money has been spent on labels; `null`: no limit."),
    ("al.max_labeled", "Stop when this many texts are labeled; `null`: no limit."),
    ("al.required_performance", "Stop when test metrics reach these values, e.g. `{rougeL: 0.4}`: at or above them, or at or below them for error rates (`wer`, `cer`)."),
    ("al.required_performance_mode", "`all`: every required metric must be reached; `any`: one is enough."),
    ("al.train_from_scratch", "Train from the base model each iteration (`true`) or continue the previous adapter."),
    ("al.embedder", "Sentence-transformers model directory used by strategies that need embeddings (IDDS, facility location, ...); `null`: the acquisition model's mean-pooled hidden states."),
    ("al.scorers", "External scorers of HADAS and LD-CAL by role: `entailment`, `discourse`, `verifiability` take `{type: nli, model: <BERT, RoBERTa or DeBERTa-v2/v3 sequence-classifier dir>, label: entailment}`, `{type: bertscore, model: <encoder dir>, num_layers: N}`, `{type: alignscore, model: <converted dir>}` or `{type: llm_judge, criterion: faithfulness, parameters: {...}, price: {...}}` (score rescaled to [0, 1]); `difficulty` takes `{type: model_judge}` (the base model rates 1-10, expected value from its token probabilities) or `{type: llm_judge, criterion: difficulty, max_score: 10, parameters: {...}}`."),
    ("labeller", "Who labels queried texts."),
    ("labeller.type", "`golden` (dataset references), `human` (web app), `api_llm`, or `local_llm`."),
    ("labeller.parameters", "Labeller settings, free-form: `model`, `max_tokens`, `temperature`, `provider`, `base_url`, ... (`model` is required for `api_llm`; `local_llm` takes `checkpoint` and `device`, which defaults to `model.device`)."),
    ("labeller.price", "Token prices of the labeller."),
    ("labeller.price.input_per_1m", "Price per 1M input tokens."),
    ("labeller.price.output_per_1m", "Price per 1M output tokens."),
    ("labeller.api_key", "API key; redacted (`***`) wherever the config is printed or saved. `null`: the provider's own variable (`OPENAI_API_KEY` or `ANTHROPIC_API_KEY`)."),
    ("labeller.dry_run", "Only print the estimated labelling cost of the configuration (as `atgen run --estimate-cost`) and exit; nothing is sent."),
    ("model", "The acquisition model."),
    ("model.checkpoint", "**Required.** Local directory in Hugging Face layout, or a hub model id."),
    ("model.revision", "Hub revision of the checkpoint."),
    ("model.dtype", "`auto`, `f32`, `f16` or `bf16`."),
    ("model.device", "`auto` (the first CUDA GPU in a build with `--features cuda` that finds one, else the CPU), `cpu`, `cuda` or `cuda:N`; the run's other local models (embedder, scorers, local labeller) follow it."),
    ("model.max_length", "Truncate prompt + target to this many tokens; `null`: the model's limit."),
    ("model.use_chat_template", "Apply the tokenizer's chat template (with `data.system_prompt`)."),
    ("model.peft", "Parameter-efficient fine-tuning."),
    ("model.peft.kind", "`lora`, `dora`, `qlora`, or `none` (full fine-tuning)."),
    ("model.peft.r", "Adapter rank (> 0)."),
    ("model.peft.alpha", "`lora_alpha`; updates are scaled by `alpha / r`."),
    ("model.peft.dropout", "Dropout on the adapter input, in [0, 1)."),
    ("model.peft.target_modules", "Linear layers that get adapters."),
    ("model.init", "Create a random model at `model.checkpoint` when it does not exist: `{arch, hidden_size, intermediate_size, layers, heads, kv_heads, max_position_embeddings, vocab_size, added_tokens, seed, pretrain_epochs, pretrain_texts, pretrain_lr, pretrain_max_tokens, pretrain_span_copy, pretrain_span_copies, pretrain_span_words, pretrain_repeat}`; the BPE tokenizer is trained on the pool's input texts (`added_tokens`, a list, are then added to it whole: a task's symbol set such as ARPAbet phonemes, one token each; a token may start with a space to carry the separator before it), and `pretrain_epochs` of language modelling on those unlabeled texts (plus, with `pretrain_span_copy`, a self-supervised task: the prompt of each pool text answered with a random span of 1 to `pretrain_span_words` (6) of its own words, `pretrain_span_copies` (1) prompts per text; with `pretrain_repeat`, each text is language-modelled written twice, so the second copy teaches copying from the context) precede active learning; `null`: the checkpoint must exist."),
    ("training", "Fine-tuning hyper-parameters."),
    ("training.num_epochs", "Epochs over the labeled set per iteration."),
    ("training.batch_size", "Examples per micro-batch."),
    ("training.gradient_accumulation_steps", "Micro-batches per optimizer step."),
    ("training.lr", "Peak learning rate (AdamW)."),
    ("training.warmup_ratio", "Fraction of steps with linear warm-up, in [0, 1]."),
    ("training.weight_decay", "AdamW weight decay."),
    ("training.max_grad_norm", "Gradient clipping norm; `null`: no clipping."),
    ("training.early_stopping_patience", "Stop after this many epochs without dev-loss improvement; `null`: never."),
    ("inference", "Generation settings."),
    ("inference.framework", "`local` (candle, in process) or `openai_compatible` (a vLLM/SGLang/... server; LoRA adapters are loaded with `/v1/load_lora_adapter`, DoRA and full fine-tuning are merged and swapped in with `/update_weights_from_disk`)."),
    ("inference.base_url", "Server URL for `openai_compatible`, e.g. `http://localhost:8000/v1`."),
    ("inference.model", "Model name to request from the server; `null`: `model.checkpoint`."),
    ("inference.api_key", "API key of the server, if any (redacted)."),
    ("inference.max_new_tokens", "Maximum new tokens per generation."),
    ("inference.batch_size", "Prompts per generation batch."),
    ("inference.temperature", "Sampling temperature; 0 is greedy."),
    ("inference.top_p", "Nucleus sampling mass in (0, 1]."),
    ("evaluation", "Metrics on the test split after each iteration."),
    ("evaluation.metrics", "Metric names or `{type: name, ...params}`, e.g. `[rouge, {type: exact_match, extractor: gsm8k}]`; `configs/evaluation/default.yaml` sets `${data.metrics}`."),
    ("evaluation.additional_metrics", "Expensive model-based metrics (BERTScore, AlignScore, LLM judge), same format."),
];

fn doc(key: &str) -> Option<&'static str> {
    DOCS.iter().find(|(k, _)| *k == key).map(|(_, d)| *d)
}

/// Every schema key with its built-in default, in declaration order.
fn schema_keys() -> Vec<(String, Value)> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
        if let Value::Mapping(m) = v {
            for (k, child) in m {
                let k = k.as_str().unwrap_or_default();
                let key = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push((key.clone(), child.clone()));
                if !OPEN.contains(&key.as_str()) {
                    walk(child, &key, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &serde_norway::to_value(Config::default()).unwrap_or(Value::Null),
        "",
        &mut out,
    );
    out
}

fn flow(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().any(char::is_control) || s.is_empty() => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Sequence(s) => format!("[{}]", s.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Mapping(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", flow(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(t) => flow(&t.value),
    }
}

/// The configuration reference as Markdown: how configs compose, the override syntax, every
/// key with its default and meaning, and the options of each embedded config group.
pub fn config_reference() -> String {
    let mut out = String::from(
        "# atgen configuration reference\n\n\
         <!-- Generated by `atgen_config::config_reference()`; do not edit by hand. \
         Regenerate with `ATGEN_UPDATE_DOCS=1 cargo test -p atgen-config --test it`. -->\n\n\
         A run's configuration is composed as in Hydra. `configs/config.yaml` lists `defaults` \
         (one option per group, then `_self_`); each group is a folder of YAML files \
         (`configs/<group>/<option>.yaml`) merged under the group's key. The repository's \
         `configs/` is embedded in the binary; `--config-dir DIR` adds a directory whose files \
         win, and `--config-name NAME` (or `ATGEN_CONFIG_NAME`) picks another primary config.\n\n\
         ## Overrides\n\n\
         | syntax | effect |\n| --- | --- |\n\
         | `group=option` | pick another option of a config group, e.g. `data=gsm8k`, `al=huds` |\n\
         | `a.b.c=value` | set an existing key |\n\
         | `+a.b=value` | add a key that does not exist (`+group=option` adds a group) |\n\
         | `++a.b=value` | set a key, adding it if absent |\n\
         | `~a.b` | delete a key (`~group` drops a group from the defaults) |\n\n\
         Values: `null`, `true`/`false`, integers, floats (`1e-5`), `'quoted'` or `\"quoted\"` \
         strings, lists `[a,b]`, dicts `{a: 1}`; anything else is a string. A size such as \
         `al.query_size` is a count when written as an integer (`10`) and a fraction of the pool \
         when written with a decimal point (`0.01`). Values may interpolate other keys, `${a.b}` \
         (or `${.sibling}`), and environment variables, `${oc.env:VAR,default}`; `???` marks a \
         required value. Unknown keys and wrong types are errors naming the dotted key and the \
         closest valid one. Secrets (`api_key`, `*_token`, `password`, `secret`) print as `***`.\n\n",
    );
    const HEADER: &str = "| key | default | meaning |\n| --- | --- | --- |\n";
    let keys = schema_keys();
    let row = |key: &str, default: &Value| {
        let default = if default.is_mapping() && !OPEN.contains(&key) {
            String::new()
        } else {
            format!("`{}`", flow(default).replace('|', "\\|"))
        };
        format!("| `{key}` | {default} | {} |\n", doc(key).unwrap_or(""))
    };
    let is_section = |k: &str, d: &Value| !k.contains('.') && d.is_mapping();
    out.push_str("## Top level\n\n");
    out.push_str(HEADER);
    for (k, d) in keys
        .iter()
        .filter(|(k, d)| !k.contains('.') && !is_section(k, d))
    {
        out.push_str(&row(k, d));
    }
    for (section, _) in keys.iter().filter(|(k, d)| is_section(k, d)) {
        out.push_str(&format!(
            "\n## `{section}`\n\n{}\n\n{HEADER}",
            doc(section).unwrap_or("")
        ));
        let prefix = format!("{section}.");
        for (k, d) in keys.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            out.push_str(&row(k, d));
        }
    }
    out.push_str("\n## Config groups (embedded)\n\n| group | options |\n| --- | --- |\n");
    let sources = ConfigSources::embedded();
    for g in sources.groups() {
        let opts: Vec<String> = sources
            .options(&g)
            .iter()
            .map(|o| format!("`{o}`"))
            .collect();
        out.push_str(&format!("| `{g}` | {} |\n", opts.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_key_is_documented_and_no_doc_is_stale() {
        let keys: Vec<String> = schema_keys().into_iter().map(|(k, _)| k).collect();
        let undocumented: Vec<&String> = keys.iter().filter(|k| doc(k).is_none()).collect();
        assert!(
            undocumented.is_empty(),
            "undocumented keys: {undocumented:?}"
        );
        let stale: Vec<&str> = DOCS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !keys.iter().any(|key| key == k))
            .collect();
        assert!(
            stale.is_empty(),
            "documented keys not in the schema: {stale:?}"
        );
    }

    #[test]
    fn reference_lists_keys_defaults_and_groups() {
        let md = config_reference();
        assert!(md.contains("| `al.query_size` | `10` |"), "{md}");
        assert!(
            md.contains("| `data.few_shot.separator` | `\"\\n\\n\"` |"),
            "{md}"
        );
        assert!(md.contains("## `data`"));
        assert!(md.contains("`gsm8k`"));
    }
}
