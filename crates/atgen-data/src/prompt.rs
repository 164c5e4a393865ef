//! Prompt templates: `{text}` is the input, `{column}` any other column, `{column:lettered}`
//! a list column as `A. ..` lines, `{column:lines}` one item per line, `{{`/`}}` literal braces.
//! A prompt also carries the system prompt and few-shot demonstrations, and renders as plain
//! text or as chat messages.

use crate::error::{DataError, Result};
use atgen_core::Example;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    Field { name: String, style: Style },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Lettered,
    Lines,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    fn new(role: &str, content: String) -> Self {
        Message {
            role: role.into(),
            content,
        }
    }
}

/// A parsed template with its system prompt and demonstrations.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    segments: Vec<Segment>,
    /// Name of the input column, which `{<input column>}` also renders.
    input_column: String,
    /// System prompt, if any.
    pub system: Option<String>,
    /// Demonstrations: an example (rendered with the template) and its answer.
    pub few_shot: Vec<(Example, String)>,
    /// Text between demonstrations in plain-text prompts.
    pub separator: String,
}

impl Prompt {
    /// Parses a template; `input_column` may be used in it as a synonym of `{text}`.
    pub fn new(template: &str, input_column: &str) -> Result<Prompt> {
        let err = |message: String| DataError::Template { message };
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return Err(err(format!(
                                "unclosed `{{` in `{template}` (write `{{{{` for a literal brace)"
                            )))
                            }
                            Some(ch) => inner.push(ch),
                        }
                    }
                    let (name, style) = match inner.split_once(':') {
                        None => (inner.trim(), Style::Plain),
                        Some((n, "lettered")) => (n.trim(), Style::Lettered),
                        Some((n, "lines")) => (n.trim(), Style::Lines),
                        Some((_, s)) => {
                            return Err(err(format!(
                                "unknown format `{s}` in `{{{inner}}}` (use `lettered` or `lines`)"
                            )))
                        }
                    };
                    if name.is_empty() {
                        return Err(err(format!("empty placeholder `{{}}` in `{template}`")));
                    }
                    if !text.is_empty() {
                        segments.push(Segment::Text(std::mem::take(&mut text)));
                    }
                    segments.push(Segment::Field {
                        name: name.to_string(),
                        style,
                    });
                }
                '}' => {
                    return Err(err(format!(
                        "unmatched `}}` in `{template}` (write `}}}}` for a literal brace)"
                    )))
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Prompt {
            segments,
            input_column: input_column.to_string(),
            system: None,
            few_shot: Vec::new(),
            separator: "\n\n".into(),
        })
    }

    /// The column names the template uses (`text` for the input).
    pub fn placeholders(&self) -> Vec<&str> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Field { name, .. } => Some(name.as_str()),
                Segment::Text(_) => None,
            })
            .collect()
    }

    /// Errors when the template names a column that `example` lacks.
    pub fn check(&self, example: &Example) -> Result<()> {
        self.render(example).map(|_| ())
    }

    /// The template filled in for one example (no system prompt, no demonstrations).
    pub fn render(&self, ex: &Example) -> Result<String> {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Field { name, style } => {
                    let value = if name == "text" || *name == self.input_column {
                        &ex.input
                    } else {
                        ex.fields.get(name).ok_or_else(|| DataError::Template {
                            message: format!(
                                "placeholder `{{{name}}}` names no column of example `{}` (columns: text, {})",
                                ex.id,
                                ex.fields.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        })?
                    };
                    out.push_str(&styled(value, *style));
                }
            }
        }
        Ok(out)
    }

    /// Plain-text prompt: system prompt, demonstrations (`prompt answer`), then this example.
    pub fn render_text(&self, ex: &Example) -> Result<String> {
        let mut parts = Vec::new();
        if let Some(s) = self.system.as_ref().filter(|s| !s.is_empty()) {
            parts.push(s.clone());
        }
        for (shot, answer) in &self.few_shot {
            parts.push(format!("{} {answer}", self.render(shot)?));
        }
        parts.push(self.render(ex)?);
        Ok(parts.join(&self.separator))
    }

    /// Chat messages: system, then a user/assistant pair per demonstration, then the user turn.
    pub fn messages(&self, ex: &Example) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        if let Some(s) = self.system.as_ref().filter(|s| !s.is_empty()) {
            out.push(Message::new("system", s.clone()));
        }
        for (shot, answer) in &self.few_shot {
            out.push(Message::new("user", self.render(shot)?));
            out.push(Message::new("assistant", answer.clone()));
        }
        out.push(Message::new("user", self.render(ex)?));
        Ok(out)
    }
}

/// Renders a list column (stored as JSON text) in the requested style.
fn styled(value: &str, style: Style) -> String {
    if style == Style::Plain {
        return value.to_string();
    }
    let items: Vec<String> = match serde_json::from_str::<Vec<serde_json::Value>>(value) {
        Ok(items) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Err(_) => vec![value.to_string()],
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match style {
            Style::Lettered => format!("{}. {item}", letter(i)),
            _ => item.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn letter(i: usize) -> String {
    let mut n = i;
    let mut s = String::new();
    loop {
        s.insert(0, (b'A' + (n % 26) as u8) as char);
        if n < 26 {
            return s;
        }
        n = n / 26 - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex() -> Example {
        Example::new("r1", "Why?")
            .with_field("article", "Text.")
            .with_field("options", r#"["yes","no","maybe"]"#)
    }

    #[test]
    fn renders_columns_lists_and_escapes() {
        let p = Prompt::new(
            "{article} Q: {text} {{literal}}\n{options:lettered}|{question}",
            "question",
        )
        .unwrap();
        assert_eq!(
            p.render(&ex()).unwrap(),
            "Text. Q: Why? {literal}\nA. yes\nB. no\nC. maybe|Why?"
        );
        assert_eq!(p.placeholders(), ["article", "text", "options", "question"]);
        let p = Prompt::new("{options:lines}", "q").unwrap();
        assert_eq!(p.render(&ex()).unwrap(), "yes\nno\nmaybe");
        assert_eq!(letter(27), "AB");
    }

    #[test]
    fn template_errors() {
        assert!(Prompt::new("{text", "q").is_err());
        assert!(Prompt::new("text}", "q").is_err());
        assert!(Prompt::new("{}", "q").is_err());
        assert!(Prompt::new("{a:bold}", "q").is_err());
        let e = Prompt::new("{nope}", "q")
            .unwrap()
            .check(&ex())
            .unwrap_err();
        assert!(e.to_string().contains("`{nope}`"), "{e}");
        assert!(e.to_string().contains("article, options"), "{e}");
    }

    #[test]
    fn system_and_few_shot_as_text_and_messages() {
        let mut p = Prompt::new("Q: {text}\nA:", "q").unwrap();
        p.system = Some("Be brief.".into());
        p.few_shot = vec![(Example::new("s", "1+1?"), "2".into())];
        assert_eq!(
            p.render_text(&ex()).unwrap(),
            "Be brief.\n\nQ: 1+1?\nA: 2\n\nQ: Why?\nA:"
        );
        let m = p.messages(&ex()).unwrap();
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(m[3].content, "Q: Why?\nA:");
    }
}
