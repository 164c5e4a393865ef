//! LLM-as-judge metrics: an LLM behind an API grades each prediction from
//! `min_score` to `max_score` and says why, through atgen-labellers' clients
//! (OpenAI, Anthropic, any OpenAI-compatible server), so the judge gets the
//! same retries with backoff, hard budget, SQLite response cache, batch mode
//! and cost accounting as a labeller.
//!
//! Criteria (each with a default prompt in [`prompts`], replaceable by `prompt`):
//! `answer_relevance` (source = question), `faithfulness` (source = document),
//! `summarization_quality` (G-Eval's four aspects as one overall grade),
//! `correctness` (against the references), `g_eval` (your `criteria` and
//! `steps`, form-filling as in G-Eval, Liu et al. 2023), and `difficulty`
//! (of the source alone, for LD-CAL).
//!
//! Scoring: `stated` (default) takes the score the judge wrote;
//! `probability_weighted` is G-Eval's `sum_s p(s) * s`, from the log-probs of
//! the score token that OpenAI-style APIs return (`logprobs: true,
//! top_logprobs: k`; see [`weighting`]). Anthropic's API gives no log-probs,
//! so that pairing is a config error.
//!
//! Values: `<name>` (mean of the parsed scores; per example, `NaN` when the
//! reply could not be parsed, written as `null`) and `<name>_cost` (money per
//! example, total for the corpus). [`Metric::take_details`] gives each
//! example's `reason` (with probability weighting also the `stated_score`, the
//! `score_distribution` as JSON and the `score_mass` the valid scores had
//! before renormalising), and for failures the `error` and the raw `reply`; the
//! corpus details count parsed and failed verdicts. A reply without a
//! readable score in range is recorded as a failure, never guessed.
//!
//! The API key comes from the provider's environment variable
//! (`OPENAI_API_KEY` or `ANTHROPIC_API_KEY`), never from the metric config,
//! which is saved with runs.

pub mod parse;
pub mod prompts;
pub mod weighting;

use crate::error::{MetricsError, Result};
use atgen_config::{LabellerConfig, LabellerKind, Price};
use atgen_core::{Example, Metric, MetricDetails, MetricValue};
use atgen_labellers::{ApiLabeller, ApiSettings, Provider};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// What the judge grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// How well the prediction answers the source question.
    AnswerRelevance,
    /// Whether the prediction is supported by the source.
    Faithfulness,
    /// Overall quality of a summary of the source.
    SummarizationQuality,
    /// Agreement with the references.
    Correctness,
    /// Your own `criteria` and `steps`.
    GEval,
    /// Difficulty of the source (the prediction is not used).
    Difficulty,
}

impl Criterion {
    /// Every criterion.
    pub const ALL: [Criterion; 6] = [
        Criterion::AnswerRelevance,
        Criterion::Faithfulness,
        Criterion::SummarizationQuality,
        Criterion::Correctness,
        Criterion::GEval,
        Criterion::Difficulty,
    ];

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::AnswerRelevance => "answer_relevance",
            Criterion::Faithfulness => "faithfulness",
            Criterion::SummarizationQuality => "summarization_quality",
            Criterion::Correctness => "correctness",
            Criterion::GEval => "g_eval",
            Criterion::Difficulty => "difficulty",
        }
    }
}

/// How a verdict's score is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// The score the judge wrote.
    #[default]
    Stated,
    /// G-Eval's `sum_s p(s) * s` over the score token's top log-probs (OpenAI-style APIs).
    ProbabilityWeighted,
}

/// An LLM judge's settings; in configs
/// `{type: llm_judge, criterion: faithfulness, parameters: {provider: openai, model: gpt-4.1-mini}, price: {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// What is graded.
    pub criterion: Criterion,
    /// Value name; `judge_<criterion>` when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Prompt template (see [`prompts`]); the criterion's default when absent.
    #[serde(default)]
    pub prompt: Option<String>,
    /// G-Eval's evaluation criteria (`{criteria}`), required for `g_eval`.
    #[serde(default)]
    pub criteria: Option<String>,
    /// G-Eval's evaluation steps (`{steps}`).
    #[serde(default)]
    pub steps: Option<String>,
    /// Lowest score.
    #[serde(default = "default_min")]
    pub min_score: u32,
    /// Highest score (5 or 10 are usual).
    #[serde(default = "default_max")]
    pub max_score: u32,
    /// `stated` or `probability_weighted` (G-Eval; OpenAI and OpenAI-compatible APIs only).
    #[serde(default)]
    pub scoring: Scoring,
    /// Alternatives asked for at each reply token with `probability_weighted` (1..=20).
    #[serde(default = "default_top_logprobs")]
    pub top_logprobs: u32,
    /// The API client's settings, exactly as `labeller.parameters` of an
    /// `api_llm` labeller (`provider`, `model`, `base_url`, `max_tokens`,
    /// `temperature`, `max_retries`, `concurrency`, `cache_path`, `mode`, ...).
    pub parameters: serde_json::Value,
    /// Token prices, as `labeller.price`.
    #[serde(default)]
    pub price: Price,
    /// Hard limit on the judge's spending over this metric's lifetime.
    #[serde(default)]
    pub budget: Option<f64>,
}

fn default_min() -> u32 {
    1
}
fn default_max() -> u32 {
    5
}
fn default_top_logprobs() -> u32 {
    20
}

/// One graded example.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The score, when the reply had a readable one in range.
    pub score: Option<f64>,
    /// The judge's reason, when it gave one.
    pub reason: Option<String>,
    /// Why there is no score (unparseable reply, refused, over budget).
    pub error: Option<String>,
    /// The reply as received (after reasoning blocks are removed).
    pub reply: Option<String>,
    /// Money spent on this verdict.
    pub cost: f64,
    /// With probability weighting: the score the judge wrote.
    pub stated: Option<f64>,
    /// With probability weighting: `p(s)` per score and the mass before renormalising.
    pub distribution: Option<(BTreeMap<u32, f64>, f64)>,
}

/// The judge: a prompt template and an API client.
pub struct Judge {
    cfg: JudgeConfig,
    template: String,
    client: ApiLabeller,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MetricsError {
    MetricsError::InvalidConfig {
        metric: "llm_judge",
        field,
        reason: reason.into(),
    }
}

impl Judge {
    /// Builds the client; `env` looks up the API key, relative `cache_path`s go under `cache_dir`.
    pub fn new(
        cfg: JudgeConfig,
        env: impl Fn(&str) -> Option<String>,
        cache_dir: Option<&Path>,
    ) -> Result<Self> {
        if cfg.min_score >= cfg.max_score {
            return Err(invalid(
                "max_score",
                format!(
                    "must exceed min_score ({} >= {})",
                    cfg.min_score, cfg.max_score
                ),
            ));
        }
        if cfg.criterion == Criterion::GEval && cfg.criteria.as_deref().is_none_or(str::is_empty) {
            return Err(invalid("criteria", "g_eval needs the evaluation criteria"));
        }
        let template = cfg
            .prompt
            .clone()
            .unwrap_or_else(|| prompts::default_template(cfg.criterion));
        let judged = if cfg.criterion == Criterion::Difficulty {
            "{source}"
        } else {
            "{prediction}"
        };
        if !template.contains(judged) {
            return Err(invalid("prompt", format!("must contain `{judged}`")));
        }
        let parameters = match serde_norway::to_value(&cfg.parameters) {
            Ok(serde_norway::Value::Mapping(m)) => m,
            _ => return Err(invalid("parameters", "must be a mapping")),
        };
        let labeller = LabellerConfig {
            kind: LabellerKind::ApiLlm,
            parameters,
            price: cfg.price,
            api_key: None,
            dry_run: false,
        };
        labeller
            .validate()
            .map_err(|e| invalid("price", e.to_string()))?;
        let mut settings = ApiSettings::from_config(&labeller, env, cache_dir)
            .map_err(|e| invalid("parameters", e.to_string()))?;
        if cfg.scoring == Scoring::ProbabilityWeighted {
            if settings.provider == Provider::Anthropic {
                return Err(invalid(
                    "scoring",
                    "probability_weighted needs token log-probs, which Anthropic's API does not \
                     return: use provider openai or openai_compatible, or scoring: stated",
                ));
            }
            if !(1..=20).contains(&cfg.top_logprobs) {
                return Err(invalid(
                    "top_logprobs",
                    format!("must be 1..=20 (the API's limit), got {}", cfg.top_logprobs),
                ));
            }
            settings.top_logprobs = Some(cfg.top_logprobs);
        }
        let client = ApiLabeller::new(settings, cfg.budget, 0.0)
            .map_err(|e| invalid("parameters", e.to_string()))?;
        Ok(Judge {
            cfg,
            template,
            client,
        })
    }

    /// The value name (`judge_<criterion>` unless configured).
    pub fn name(&self) -> String {
        self.cfg
            .name
            .clone()
            .unwrap_or_else(|| format!("judge_{}", self.cfg.criterion.as_str()))
    }

    /// The score range.
    pub fn range(&self) -> (u32, u32) {
        (self.cfg.min_score, self.cfg.max_score)
    }

    /// Money spent by this judge so far.
    pub fn spent(&self) -> f64 {
        self.client.spent()
    }

    /// The prompt for one example.
    pub fn prompt(&self, source: &str, prediction: &str, references: &[String]) -> String {
        prompts::render(
            &self.template,
            &prompts::Fill {
                source,
                prediction,
                references,
                criteria: self.cfg.criteria.as_deref().unwrap_or_default(),
                steps: self.cfg.steps.as_deref().unwrap_or_default(),
                min: self.cfg.min_score,
                max: self.cfg.max_score,
            },
        )
    }

    /// Grades each `(source, prediction, references)`; `Err` only when the
    /// API cannot be used at all (retries exhausted, key refused).
    pub fn grade(
        &self,
        sources: &[String],
        predictions: &[String],
        references: &[Vec<String>],
    ) -> Result<Vec<Verdict>> {
        let examples: Vec<Example> = predictions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let src = sources.get(i).map(String::as_str).unwrap_or_default();
                let refs = references.get(i).map(Vec::as_slice).unwrap_or_default();
                Example::new(i.to_string(), self.prompt(src, p, refs))
            })
            .collect();
        let completions =
            self.client
                .complete_batch(&examples)
                .map_err(|e| MetricsError::Metric {
                    name: self.name(),
                    source: atgen_core::Error::backend(e),
                })?;
        Ok(completions.into_iter().map(|c| self.verdict(c)).collect())
    }

    fn verdict(&self, c: atgen_labellers::Completion) -> Verdict {
        let (min, max) = self.range();
        let o = c.outcome;
        let failed = |error: String, reply: Option<String>| Verdict {
            score: None,
            reason: None,
            error: Some(error),
            reply,
            cost: o.cost,
            stated: None,
            distribution: None,
        };
        let Some(reply) = &o.label else {
            return failed(o.note.clone().unwrap_or_else(|| "no reply".into()), None);
        };
        let p = match parse::parse_verdict(reply, min, max) {
            Ok(p) => p,
            Err(why) => {
                return failed(format!("malformed judge reply: {why}"), Some(reply.clone()))
            }
        };
        if self.cfg.scoring == Scoring::Stated {
            return Verdict {
                score: Some(p.score),
                reason: p.reason,
                error: None,
                reply: None,
                cost: o.cost,
                stated: None,
                distribution: None,
            };
        }
        let weighted = match (&c.logprobs, &p.span) {
            (None, _) => Err("the server returned no log-probs for the reply".to_string()),
            (_, None) => Err("the score's place in the reply was not found".to_string()),
            (Some(tokens), Some(span)) => {
                weighting::weighted_score(tokens, reply, span.start, p.score, min, max)
            }
        };
        match weighted {
            Ok(w) => Verdict {
                score: Some(w.score),
                reason: p.reason,
                error: None,
                reply: None,
                cost: o.cost,
                stated: Some(p.score),
                distribution: Some((w.distribution, w.mass)),
            },
            Err(why) => failed(
                format!("no probability-weighted score: {why}"),
                Some(reply.clone()),
            ),
        }
    }
}

/// The judge as a [`Metric`].
pub struct LlmJudge {
    judge: Judge,
    name: String,
    details: Mutex<Option<MetricDetails>>,
}

impl LlmJudge {
    /// A judge metric reading its key from the environment.
    pub fn new(cfg: JudgeConfig) -> Result<Self> {
        Ok(Self::from_judge(Judge::new(
            cfg,
            |k| std::env::var(k).ok(),
            None,
        )?))
    }

    /// The metric over an already built judge.
    pub fn from_judge(judge: Judge) -> Self {
        LlmJudge {
            name: judge.name(),
            judge,
            details: Mutex::new(None),
        }
    }
}

impl Metric for LlmJudge {
    fn name(&self) -> &str {
        &self.name
    }

    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        sources: &[String],
    ) -> atgen_core::Result<Vec<MetricValue>> {
        crate::error::check_lengths(predictions, references, None)?;
        let needs_source = !matches!(self.judge.cfg.criterion, Criterion::Correctness)
            && self.judge.cfg.prompt.is_none();
        if needs_source && sources.len() != predictions.len() {
            return Err(invalid(
                "criterion",
                format!(
                    "{} needs a source text per prediction ({} predictions, {} sources)",
                    self.judge.cfg.criterion.as_str(),
                    predictions.len(),
                    sources.len()
                ),
            )
            .into());
        }
        let verdicts = self.judge.grade(sources, predictions, references)?;
        let scores: Vec<f64> = verdicts
            .iter()
            .map(|v| v.score.unwrap_or(f64::NAN))
            .collect();
        let parsed: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
        let costs: Vec<f64> = verdicts.iter().map(|v| v.cost).collect();
        let mean = if parsed.is_empty() {
            f64::NAN
        } else {
            crate::mean(&parsed)
        };
        let per_example = verdicts
            .iter()
            .map(|v| {
                let mut m = BTreeMap::new();
                for (k, val) in [
                    ("reason", &v.reason),
                    ("error", &v.error),
                    ("reply", &v.reply),
                ] {
                    if let Some(val) = val {
                        m.insert(k.to_string(), val.clone());
                    }
                }
                if let Some(stated) = v.stated {
                    m.insert("stated_score".into(), stated.to_string());
                }
                if let Some((dist, mass)) = &v.distribution {
                    let json: serde_json::Map<String, serde_json::Value> = dist
                        .iter()
                        .map(|(s, p)| (s.to_string(), serde_json::json!(p)))
                        .collect();
                    m.insert(
                        "score_distribution".into(),
                        serde_json::Value::Object(json).to_string(),
                    );
                    m.insert("score_mass".into(), mass.to_string());
                }
                m
            })
            .collect();
        let corpus = BTreeMap::from([
            ("parsed".to_string(), parsed.len() as f64),
            ("failed".to_string(), (verdicts.len() - parsed.len()) as f64),
            ("cost".to_string(), costs.iter().sum()),
        ]);
        *self.details.lock().unwrap_or_else(PoisonError::into_inner) = Some(MetricDetails {
            corpus,
            per_example,
        });
        Ok(vec![
            MetricValue {
                name: self.name.clone(),
                corpus: mean,
                per_example: scores,
                higher_is_better: self.judge.cfg.criterion != Criterion::Difficulty,
            },
            MetricValue {
                name: format!("{}_cost", self.name),
                corpus: costs.iter().sum(),
                per_example: costs,
                higher_is_better: false,
            },
        ])
    }

    fn take_details(&self) -> Option<MetricDetails> {
        self.details
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
