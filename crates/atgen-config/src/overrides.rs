//! Hydra's command-line override grammar: `key=value`, `+key=value`, `++key=value`, `~key`,
//! with values that are primitives, quoted strings, `[lists]` or `{dicts}`.

use crate::error::{ConfigError, Result};
use serde_norway::{Mapping, Number, Value};

/// What an override does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideKind {
    /// `key=value`: the key must exist (or name a config group).
    Set,
    /// `+key=value`: the key must not exist.
    Add,
    /// `++key=value`: set, adding the key when absent.
    Force,
    /// `~key` or `~key=value`: delete (only when equal to `value`, if given).
    Delete,
}

/// One parsed command-line override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// What to do.
    pub kind: OverrideKind,
    /// Dotted key, e.g. `al.query_size`, or a group name such as `data`.
    pub key: String,
    /// The value; `None` only for a delete without a value.
    pub value: Option<Value>,
    /// The override as typed, for error messages.
    pub input: String,
}

impl Override {
    /// Parses one override such as `al.query_size=0.01` or `~labeller.api_key`.
    pub fn parse(input: &str) -> Result<Override> {
        let err = |message: &str| ConfigError::OverrideSyntax {
            input: input.to_string(),
            message: message.to_string(),
        };
        let (kind, rest) = if let Some(r) = input.strip_prefix("++") {
            (OverrideKind::Force, r)
        } else if let Some(r) = input.strip_prefix('+') {
            (OverrideKind::Add, r)
        } else if let Some(r) = input.strip_prefix('~') {
            (OverrideKind::Delete, r)
        } else {
            (OverrideKind::Set, input)
        };
        let (key, value) = match rest.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v)),
            None => (rest.trim(), None),
        };
        let key_ok = |k: &str| {
            !k.is_empty()
                && k.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '@'))
                })
        };
        if !key_ok(key) {
            return Err(err("expected a key such as `a.b.c` before `=`"));
        }
        let value = match value {
            Some(v) => Some(parse_value(v).map_err(|m| err(&m))?),
            None if kind == OverrideKind::Delete => None,
            None => return Err(err("expected `key=value`")),
        };
        Ok(Override {
            kind,
            key: key.to_string(),
            value,
            input: input.to_string(),
        })
    }
}

/// Parses an override value: `null`, bools, ints, floats, quoted strings, `[..]`, `{..}`, or a
/// plain string. An empty value is the empty string (as in Hydra).
pub fn parse_value(s: &str) -> std::result::Result<Value, String> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
    };
    let v = p.element(true)?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(format!(
            "unexpected `{}` at column {}",
            p.chars[p.pos],
            p.pos + 1
        ));
    }
    Ok(v)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn element(&mut self, top: bool) -> std::result::Result<Value, String> {
        self.skip_ws();
        match self.peek() {
            Some('[') => self.list(),
            Some('{') => self.dict(),
            Some(q @ ('\'' | '"')) => self.quoted(q).map(Value::String),
            _ => Ok(primitive(&self.raw(top))),
        }
    }

    /// Reads an unquoted primitive up to a structural character (or the end, at top level);
    /// commas and brackets inside `${...}` do not end it.
    fn raw(&mut self, top: bool) -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            if depth == 0 && !top && matches!(c, ',' | ']' | '}' | ':') {
                break;
            }
            if c == '\\' && self.chars.get(self.pos + 1).is_some() {
                let next = self.chars[self.pos + 1];
                if matches!(next, ',' | '[' | ']' | '{' | '}' | ':' | '=' | ' ' | '\\') {
                    out.push(next);
                    self.pos += 2;
                    continue;
                }
            }
            if c == '$' && self.chars.get(self.pos + 1) == Some(&'{') {
                depth += 1;
                out.push_str("${");
                self.pos += 2;
                continue;
            }
            if c == '}' && depth > 0 {
                depth -= 1;
            }
            out.push(c);
            self.pos += 1;
        }
        out.trim().to_string()
    }

    fn quoted(&mut self, q: char) -> std::result::Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\\' {
                match self.peek() {
                    Some(n) if n == q || n == '\\' => {
                        out.push(n);
                        self.pos += 1;
                    }
                    _ => out.push(c),
                }
            } else if c == q {
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(format!("unterminated {q}quoted string"))
    }

    fn list(&mut self) -> std::result::Result<Value, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(Value::Sequence(items));
        }
        loop {
            items.push(self.element(false)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(Value::Sequence(items));
                }
                _ => return Err("expected `,` or `]` in list".into()),
            }
        }
    }

    fn dict(&mut self) -> std::result::Result<Value, String> {
        self.pos += 1;
        let mut map = Mapping::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.pos += 1;
            return Ok(Value::Mapping(map));
        }
        loop {
            self.skip_ws();
            let key = match self.peek() {
                Some(q @ ('\'' | '"')) => self.quoted(q)?,
                _ => self.raw(false),
            };
            if key.is_empty() {
                return Err("expected a key in dict".into());
            }
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(format!("expected `:` after dict key `{key}`"));
            }
            self.pos += 1;
            let value = self.element(false)?;
            map.insert(Value::String(key), value);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(Value::Mapping(map));
                }
                _ => return Err("expected `,` or `}` in dict".into()),
            }
        }
    }
}

/// Types an unquoted primitive the way Hydra does.
fn primitive(s: &str) -> Value {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "null" | "~" => return Value::Null,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        "inf" | "+inf" => return Value::Number(Number::from(f64::INFINITY)),
        "-inf" => return Value::Number(Number::from(f64::NEG_INFINITY)),
        "nan" => return Value::Number(Number::from(f64::NAN)),
        _ => {}
    }
    let plain = s.replace('_', "");
    let numeric = !plain.is_empty()
        && plain.chars().any(|c| c.is_ascii_digit())
        && plain
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if numeric {
        if let Ok(i) = plain.parse::<i64>() {
            return Value::Number(Number::from(i));
        }
        if let Ok(f) = plain.parse::<f64>() {
            return Value::Number(Number::from(f));
        }
    }
    Value::String(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn primitives_are_typed() {
        assert_eq!(parse_value("0.01").unwrap(), v("0.01"));
        assert_eq!(parse_value("20").unwrap(), v("20"));
        assert_eq!(parse_value("1e-5").unwrap(), v("1.0e-5"));
        assert_eq!(parse_value("True").unwrap(), Value::Bool(true));
        assert_eq!(parse_value("null").unwrap(), Value::Null);
        assert_eq!(parse_value("gpt-4.1").unwrap(), v("gpt-4.1"));
        assert_eq!(parse_value("sk-...").unwrap(), v("sk-..."));
        assert_eq!(parse_value("").unwrap(), v("''"));
        assert_eq!(parse_value("hello world").unwrap(), v("hello world"));
    }

    #[test]
    fn quoted_lists_and_dicts() {
        assert_eq!(parse_value("'01'").unwrap(), v("'01'"));
        assert_eq!(parse_value(r#""a \"b\"""#).unwrap(), v(r#"'a "b"'"#));
        assert_eq!(parse_value("[]").unwrap(), v("[]"));
        assert_eq!(parse_value("[a, 1, 'x,y']").unwrap(), v("[a, 1, 'x,y']"));
        assert_eq!(
            parse_value("{a:1, b: [x, {c: null}]}").unwrap(),
            v("{a: 1, b: [x, {c: null}]}")
        );
        assert_eq!(
            parse_value("[${oc.env:A,b}, c]").unwrap(),
            v("['${oc.env:A,b}', c]")
        );
        assert!(parse_value("[a, b").is_err());
        assert!(parse_value("{a 1}").is_err());
        assert!(parse_value("'open").is_err());
    }

    #[test]
    fn override_kinds() {
        let o = Override::parse("+new.key=3").unwrap();
        assert_eq!((o.kind, o.key.as_str()), (OverrideKind::Add, "new.key"));
        assert_eq!(Override::parse("++a=1").unwrap().kind, OverrideKind::Force);
        let d = Override::parse("~labeller.api_key").unwrap();
        assert_eq!((d.kind, d.value), (OverrideKind::Delete, None));
        assert_eq!(
            Override::parse("data=gsm8k").unwrap().kind,
            OverrideKind::Set
        );
        assert!(Override::parse("novalue").is_err());
        assert!(Override::parse("=3").is_err());
        assert!(Override::parse("a..b=3").is_err());
    }
}
