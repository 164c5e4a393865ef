//! Command-line arguments (clap). Each subcommand's args live here; the work
//! lives in `commands/`.

use atgen_core::DeviceName;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// atgen: active learning for text generation.
#[derive(Debug, Parser)]
#[command(name = "atgen", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run active learning: `atgen run [OVERRIDES...]`, e.g. `atgen run data=gsm8k al=huds al.query_size=0.01`.
    Run(RunArgs),
    /// Score predictions against references (corpus JSON on stdout).
    Eval(EvalArgs),
    /// Benchmark strategies: a grid of datasets x strategies x seeds, then report.md and plots.
    Bench(BenchGridArgs),
    /// Create or benchmark models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Generate continuations with per-token log-probs and entropies (JSONL out).
    Generate(GenerateArgs),
    /// Log-probs of given target continuations under teacher forcing (JSONL out).
    Score(ScoreArgs),
    /// Embed texts with a sentence-transformers encoder or a causal LM (.npy or JSONL out).
    Embed(EmbedArgs),
    /// Fine-tune a model with LoRA, DoRA, QLoRA or fully, writing a PEFT adapter.
    Finetune(Box<FinetuneArgs>),
    /// Serve a model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions; vLLM's /v1/load_lora_adapter and SGLang's /update_weights_from_disk for the AL loop).
    ServeModel(ServeModelArgs),
    /// Start the web app: configure and launch runs, annotate in the browser, monitor runs live.
    Serve(ServeArgs),
}

/// `atgen serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8501)]
    pub port: u16,
    /// SQLite database; run directories, uploads and local models are kept beside it.
    #[arg(long, default_value = "atgen-web/atgen.db")]
    pub db: PathBuf,
    /// Access token people must give to sign in (required off loopback).
    #[arg(long, env = "ATGEN_SERVE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Largest upload, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_upload_mib: usize,
    /// Minutes before an abandoned item is offered to another annotator.
    #[arg(long, default_value_t = 10)]
    pub lease_minutes: u64,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Write a randomly initialised model in Hugging Face layout.
    Init(InitArgs),
    /// Measure training and generation throughput of a model.
    Bench(BenchArgs),
}

/// Where the model comes from.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model directory in Hugging Face layout, or a hub id resolved through the HF cache.
    #[arg(long)]
    pub model: String,
    /// PEFT adapter directory to apply.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Activation dtype: auto, f32, bf16, f16 (auto = f32 on CPU, the checkpoint's dtype on GPU).
    #[arg(long, default_value = "auto")]
    pub dtype: String,
    /// Device: auto (the first CUDA GPU in a `--features cuda` build that finds one, else
    /// the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceName,
    /// Rows per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSONL with a `prompt` string per line (optional `system`).
    #[arg(long)]
    pub input: PathBuf,
    /// Output JSONL (stdout when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    pub max_new_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// 0 = disabled.
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    #[arg(long, default_value_t = 1)]
    pub num_samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when this string appears (repeatable); it is cut from the text.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Format prompts with the model's chat template.
    #[arg(long)]
    pub chat: bool,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSONL with `prompt` and `target` strings per line.
    #[arg(long)]
    pub input: PathBuf,
    /// Output JSONL (stdout when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Format prompts with the model's chat template.
    #[arg(long)]
    pub chat: bool,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// sentence-transformers (BERT-family) directory, or a causal LM directory / hub id.
    #[arg(long)]
    pub model: String,
    /// JSONL with a `text` string per line.
    #[arg(long)]
    pub input: PathBuf,
    /// Output: `.npy` (f32, one row per text) or `.jsonl`.
    #[arg(long)]
    pub out: PathBuf,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Device: auto, cpu, cuda or cuda:N (as for the other model commands).
    #[arg(long, default_value = "auto")]
    pub device: DeviceName,
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSONL of `prompt` (or `input`) and `target` (or `output`) strings.
    #[arg(long)]
    pub train: PathBuf,
    /// Dev JSONL for early stopping.
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Output directory: a PEFT adapter, or a full checkpoint with `--peft none`.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the merged model (HF layout) here.
    #[arg(long)]
    pub merged_out: Option<PathBuf>,
    /// lora, dora, qlora or none (full fine-tuning).
    #[arg(long, default_value = "lora")]
    pub peft: String,
    #[arg(long, default_value_t = 16)]
    pub r: usize,
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f64,
    #[arg(long, default_value_t = 0.0)]
    pub lora_dropout: f64,
    /// Comma-separated module names.
    #[arg(
        long,
        default_value = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
        value_delimiter = ','
    )]
    pub target_modules: Vec<String>,
    #[arg(long)]
    pub use_rslora: bool,
    /// Hyper-parameter preset (`paper` = the ATGen paper's Table 1); flags below override it.
    #[arg(long, default_value = "paper")]
    pub preset: String,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub train_batch_size: Option<usize>,
    #[arg(long)]
    pub gradient_accumulation_steps: Option<usize>,
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long)]
    pub max_grad_norm: Option<f64>,
    #[arg(long)]
    pub patience: Option<usize>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Format prompts with the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Family: qwen3, qwen2, llama or mistral.
    #[arg(long, default_value = "qwen3")]
    pub arch: String,
    #[arg(long, default_value_t = 64)]
    pub hidden_size: usize,
    #[arg(long, default_value_t = 128)]
    pub intermediate_size: usize,
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    #[arg(long, default_value_t = 2)]
    pub kv_heads: usize,
    /// Per-head dimension (default hidden_size / heads).
    #[arg(long)]
    pub head_dim: Option<usize>,
    #[arg(long, default_value_t = 512)]
    pub max_position_embeddings: usize,
    #[arg(long, default_value_t = 10000.0)]
    pub rope_theta: f64,
    /// Use an existing tokenizer.json (its tokenizer_config.json is copied when beside it).
    #[arg(long, conflicts_with = "train_tokenizer")]
    pub tokenizer: Option<PathBuf>,
    /// Train a byte-level BPE on these text files (repeatable).
    #[arg(long)]
    pub train_tokenizer: Vec<PathBuf>,
    #[arg(long, default_value_t = 512)]
    pub vocab_size: usize,
    /// Add these tokens whole to the trained BPE (repeatable, or comma-separated), e.g. a
    /// task's symbols; with --train-tokenizer only.
    #[arg(long, value_delimiter = ',', requires = "train_tokenizer")]
    pub add_tokens: Vec<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Training steps to time (after one warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Prompt and target lengths in tokens.
    #[arg(long, default_value_t = 32)]
    pub prompt_tokens: usize,
    #[arg(long, default_value_t = 32)]
    pub target_tokens: usize,
    /// New tokens per generated row.
    #[arg(long, default_value_t = 32)]
    pub new_tokens: usize,
    /// lora, dora, qlora or none.
    #[arg(long, default_value = "lora")]
    pub peft: String,
    #[arg(long, default_value_t = 16)]
    pub r: usize,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Hydra-style overrides: `group=option`, `a.b=value`, `+a.b=value`, `~a.b`.
    pub overrides: Vec<String>,
    /// Primary config name (file in the config dir, without `.yaml`).
    #[arg(long, env = "ATGEN_CONFIG_NAME")]
    pub config_name: Option<String>,
    /// Extra config directory; its files take precedence over the built-in ones.
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// Continue the run in this directory from its last completed step.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Print the resolved config (secrets redacted) and exit.
    #[arg(long)]
    pub cfg: bool,
    /// Print the estimated labelling cost (JSON) and exit; nothing is sent. Prompt tokens are
    /// counted with OpenAI's tokenizer for OpenAI models, conservatively by bytes otherwise.
    #[arg(long)]
    pub estimate_cost: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// JSONL lines `{"prediction": str, "references": [str] | str, "source": str?}`.
    #[arg(long)]
    pub input: PathBuf,
    /// Comma-separated metric names (exact_match, relaxed_exact_match, rouge, bleu, chrf, wer, cer, ...).
    #[arg(long, default_value = "exact_match,rouge,bleu", value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// A metric with settings, as JSON (repeatable), e.g.
    /// '{"type": "alignscore", "model": "alignscore-large"}' or
    /// '{"type": "llm_judge", "criterion": "faithfulness", "parameters": {"provider": "openai", "model": "gpt-4.1-mini"}}'.
    #[arg(long = "metric-spec", value_name = "JSON")]
    pub metric_specs: Vec<String>,
    /// Also write per-example scores to this JSONL file.
    #[arg(long)]
    pub per_example: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeModelArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address to bind (127.0.0.1 keeps it on this machine).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Name clients use in `model` (default: the model directory's name).
    #[arg(long)]
    pub served_name: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Presets (--preset NAME):\n  \
    paper      the paper's four tasks: TriviaQA and GSM8K with 1% of the pool per iteration, RACE and\n             \
    AESLC with 10 texts per iteration; training=paper (Table 1), Qwen2.5 with LoRA (needs the\n             \
    checkpoint in the HF cache)\n  \
    offline    the tiny local model on CMUdict grapheme-to-phoneme (the offline default's task);\n             \
    runs anywhere, no download\n  \
    aeslc-tiny the earlier offline grid (AESLC subject lines; the tiny model learns no curve)\n  \
    race-tiny  the first offline grid (RACE; the tiny model reaches chance only)\n\
    Flags given on the command line replace the preset's lists; overrides are appended (and win).\n\
    See docs/bench/README.md.")]
pub struct BenchGridArgs {
    /// Overrides applied to every cell (Hydra syntax, as for `atgen run`).
    pub overrides: Vec<String>,
    /// A named grid: paper, offline, aeslc-tiny or race-tiny (see below).
    #[arg(long)]
    pub preset: Option<String>,
    /// Dataset config names (`data=<name>`), comma-separated [default: cmudict].
    #[arg(long, value_delimiter = ',')]
    pub data: Option<Vec<String>>,
    /// Strategy config names (`al=<name>`), comma-separated
    /// [default: random,huds,idds,facility_location,nsp].
    #[arg(long, value_delimiter = ',')]
    pub strategies: Option<Vec<String>>,
    /// Seeds, comma-separated [default: 0,1,2].
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Output folder: one run directory per cell, report.md and PNG + SVG plots.
    #[arg(long, default_value = "outputs/bench")]
    pub out: PathBuf,
    /// Cells run at the same time, each as its own `atgen run` process logging to
    /// `<cell>/cell.log` (default: one per core; the cores are divided among them).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Extra config directory.
    #[arg(long)]
    pub config_dir: Option<PathBuf>,
    /// Instead of a grid: run the side-by-side performance benchmarks (model engine against
    /// PyTorch + PEFT, metrics against rouge-score + sacrebleu, facility location against
    /// apricot and submodlib, graph cut against submodlib, AL loop phases) and write them
    /// into --perf-out between its `generated by atgen bench --perf` markers. Run from the
    /// repository root.
    #[arg(long)]
    pub perf: bool,
    /// The page --perf writes.
    #[arg(long, default_value = "docs/PERFORMANCE.md")]
    pub perf_out: PathBuf,
    /// With --perf: small sizes that finish in seconds (checks the generator, not the speed).
    #[arg(long)]
    pub quick: bool,
    /// With --perf: only these sections (comma-separated: engine, metrics, selection, loop).
    #[arg(long, value_delimiter = ',')]
    pub perf_only: Vec<String>,
    /// With --perf: the device of the model-engine section (both sides) and of the AL loop:
    /// cpu, cuda, cuda:N or auto (needs a `--features cuda` build for a GPU).
    #[arg(long, default_value = "cpu")]
    pub perf_device: DeviceName,
    /// With --perf: the Python interpreter of the reference side (skipped when its packages
    /// do not import).
    #[arg(long, default_value = "python3")]
    pub python: String,
}
