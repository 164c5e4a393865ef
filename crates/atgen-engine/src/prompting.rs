//! Turning examples into model prompts: the dataset's template, the system
//! prompt and demonstrations, the model's chat template when configured, and
//! truncation so prompt + answer fit the model's context: the input text is
//! cut first (keeping its start); if other fields are still too long, the
//! prompt's start is dropped (keeping the instruction's end and the question).

use crate::Result;
use atgen_core::Example;
use atgen_data::Prompt;
use atgen_models::tokenizer::Message;
use atgen_models::CausalLm;

/// The target as it follows `prompt` in running text: after a prompt ending in a
/// non-space character ("Subject line:"), a space first, so the answer's words
/// are the same tokens as inside the text (byte-level BPE marks a word's leading
/// space); generations are trimmed, so predictions are unchanged by it.
pub fn answer_after(prompt: &str, target: &str) -> String {
    let joins = prompt.chars().last().is_some_and(|c| !c.is_whitespace())
        && target.chars().next().is_some_and(|c| !c.is_whitespace());
    if joins {
        format!(" {target}")
    } else {
        target.to_string()
    }
}

/// Renders prompts for one model.
pub struct Prompter {
    prompt: Prompt,
    chat: bool,
    /// Tokens reserved for the answer.
    answer_tokens: usize,
}

impl Prompter {
    /// A prompter; `chat` applies the model's chat template (when it has one).
    pub fn new(prompt: Prompt, chat: bool, answer_tokens: usize) -> Self {
        Prompter {
            prompt,
            chat,
            answer_tokens,
        }
    }

    fn format(&self, lm: &CausalLm, ex: &Example) -> Result<String> {
        if self.chat && lm.tokenizer.chat_template().is_some() {
            let msgs: Vec<Message> = self
                .prompt
                .messages(ex)?
                .into_iter()
                .map(|m| Message::new(&m.role, m.content))
                .collect();
            Ok(lm.tokenizer.apply_chat_template(&msgs)?)
        } else {
            Ok(self.prompt.render_text(ex)?)
        }
    }

    /// The prompt of `ex`, its input text cut (keeping the start) so that the
    /// prompt leaves room for `answer_tokens` in the model's context.
    pub fn render(&self, lm: &CausalLm, ex: &Example) -> Result<String> {
        self.render_with_room(lm, ex, self.answer_tokens)
    }

    /// A training pair: the prompt cut to leave room for the target (itself
    /// cut to half the context when longer) and its end-of-sequence token.
    pub fn training_pair(
        &self,
        lm: &CausalLm,
        ex: &Example,
        target: &str,
    ) -> Result<(String, String)> {
        let half = lm.max_context() / 2;
        let ids = lm.tokenizer.encode(target, false)?;
        let target = if ids.len() > half {
            lm.tokenizer.decode(&ids[..half])?
        } else {
            target.to_string()
        };
        let room = ids.len().min(half) + 2;
        let prompt = self.render_with_room(lm, ex, room.max(self.answer_tokens))?;
        Ok((prompt.clone(), answer_after(&prompt, &target)))
    }

    fn render_with_room(&self, lm: &CausalLm, ex: &Example, room: usize) -> Result<String> {
        let full = self.format(lm, ex)?;
        let limit = lm.max_context().saturating_sub(room + 1);
        let n = lm.encode(&full)?.len();
        if n <= limit {
            return Ok(full);
        }
        let input_ids = lm.tokenizer.encode(&ex.input, false)?;
        let keep = input_ids.len().saturating_sub(n - limit + 8);
        let mut cut = ex.clone();
        cut.input = lm.tokenizer.decode(&input_ids[..keep])?;
        let text = self.format(lm, &cut)?;
        // Long non-input fields (a RACE article): keep the prompt's end, where the task is.
        let ids = lm.encode(&text)?;
        if ids.len() <= limit {
            return Ok(text);
        }
        Ok(lm.tokenizer.decode(&ids[ids.len() - limit..])?)
    }

    /// Prompts of many examples.
    pub fn render_all(&self, lm: &CausalLm, examples: &[Example]) -> Result<Vec<String>> {
        examples.iter().map(|e| self.render(lm, e)).collect()
    }
}

#[cfg(test)]
mod answer_tests {
    use super::answer_after;

    #[test]
    fn an_answer_after_a_colon_starts_with_a_space_and_after_a_newline_does_not() {
        assert_eq!(answer_after("Subject line:", "LNG Update"), " LNG Update");
        assert_eq!(answer_after("Answer:\n", "B"), "B");
        assert_eq!(answer_after("Q: x =>", " y"), " y");
        assert_eq!(answer_after("", "y"), "y");
    }
}
