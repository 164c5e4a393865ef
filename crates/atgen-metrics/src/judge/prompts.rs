//! Default judge prompts, one per criterion, and template rendering.
//!
//! A template may use `{source}` (the example's input or document),
//! `{prediction}` (the text judged), `{reference}` (the references, one per
//! line), `{criteria}` and `{steps}` (G-Eval's criteria and evaluation
//! steps), `{min}` and `{max}` (the score range). Every default asks for a
//! JSON object `{"score": <integer>, "reason": "<why>"}`, which
//! [`super::parse`] reads (and tolerates prose around it).

use super::Criterion;

const ANSWER: &str = "Reply with only a JSON object on one line: \
{\"score\": <integer from {min} to {max}>, \"reason\": \"<one or two sentences>\"}";

/// The default template of `criterion`.
pub fn default_template(criterion: Criterion) -> String {
    let body = match criterion {
        Criterion::AnswerRelevance => {
            "You are grading how relevant an answer is to a question.\n\
             Score {max} when the answer addresses exactly what was asked, {min} when it is \
             unrelated or evasive. Do not judge correctness, only relevance.\n\n\
             Question:\n{source}\n\nAnswer:\n{prediction}\n\n"
        }
        Criterion::Faithfulness => {
            "You are checking whether a generated text is faithful to its source.\n\
             Score {max} when every statement in the generated text is supported by the source, \
             {min} when it mostly contradicts the source or invents facts. Missing information is \
             not unfaithful; invented or contradicted information is.\n\n\
             Source:\n{source}\n\nGenerated text:\n{prediction}\n\n"
        }
        Criterion::SummarizationQuality => {
            "You are grading a summary of a document.\n\
             Evaluation steps:\n\
             1. Read the document and note its main points.\n\
             2. Check that the summary covers the main points (relevance), states nothing the \
             document does not support (consistency), reads as well-formed sentences (fluency) and \
             is well organised (coherence).\n\
             3. Give one overall score from {min} (useless) to {max} (excellent).\n\n\
             Document:\n{source}\n\nSummary:\n{prediction}\n\n"
        }
        Criterion::Correctness => {
            "You are grading an answer against reference answers.\n\
             Score {max} when the answer means the same as a reference, {min} when it contradicts \
             all of them; partial answers score in between.\n\n\
             Question or input:\n{source}\n\nReference answer(s):\n{reference}\n\n\
             Answer to grade:\n{prediction}\n\n"
        }
        Criterion::GEval => {
            "You will be given one text to evaluate.\n\n\
             Evaluation criteria:\n{criteria}\n\n\
             Evaluation steps:\n{steps}\n\n\
             Input:\n{source}\n\nText to evaluate:\n{prediction}\n\n"
        }
        Criterion::Difficulty => {
            "Rate how difficult it is to produce the correct output for the following input, \
             from {min} (trivial) to {max} (very hard).\n\nInput:\n{source}\n\n"
        }
    };
    format!("{body}{ANSWER}")
}

/// What fills one prompt.
pub struct Fill<'a> {
    pub source: &'a str,
    pub prediction: &'a str,
    pub references: &'a [String],
    pub criteria: &'a str,
    pub steps: &'a str,
    pub min: u32,
    pub max: u32,
}

/// Replaces the placeholders in one pass (text inside the inputs is never re-expanded).
pub fn render(template: &str, fill: &Fill<'_>) -> String {
    let mut out = String::with_capacity(template.len() + fill.source.len() + fill.prediction.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let close = after.find('}').map(|c| &after[1..c]);
        let value = match close {
            Some("source") => Some(fill.source.to_string()),
            Some("prediction") => Some(fill.prediction.to_string()),
            Some("reference") => Some(fill.references.join("\n")),
            Some("criteria") => Some(fill.criteria.to_string()),
            Some("steps") => Some(fill.steps.to_string()),
            Some("min") => Some(fill.min.to_string()),
            Some("max") => Some(fill.max.to_string()),
            _ => None,
        };
        match (value, close) {
            (Some(v), Some(name)) => {
                out.push_str(&v);
                rest = &after[name.len() + 2..];
            }
            _ => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_placeholders_once_and_keeps_other_braces() {
        let refs = vec!["a".to_string(), "b".to_string()];
        let fill = Fill {
            source: "S {prediction}",
            prediction: "P",
            references: &refs,
            criteria: "",
            steps: "",
            min: 1,
            max: 5,
        };
        let out = render(
            "{source}|{prediction}|{reference}|{\"score\": {min}-{max}}|{x}",
            &fill,
        );
        assert_eq!(out, "S {prediction}|P|a\nb|{\"score\": 1-5}|{x}");
    }

    #[test]
    fn every_default_asks_for_json_and_names_the_judged_text() {
        for c in Criterion::ALL {
            let t = default_template(c);
            assert!(t.contains("\"score\""), "{c:?}");
            let judged = if c == Criterion::Difficulty {
                "{source}"
            } else {
                "{prediction}"
            };
            assert!(t.contains(judged), "{c:?}");
        }
    }
}
