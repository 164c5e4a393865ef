//! OmegaConf-style interpolation, resolved after composition: `${a.b}` (absolute), `${.b}` /
//! `${..b}` (relative to the containing node), `${oc.env:VAR}` and `${oc.env:VAR,default}`,
//! inside longer strings too; `\${` is a literal `${`. Cycles are reported with their chain.

use crate::error::{ConfigError, Result};
use crate::overrides::parse_value;
use serde_norway::{Mapping, Value};
use std::collections::HashMap;

type Path = Vec<String>;

/// Returns a copy of `root` with every interpolation resolved.
pub fn resolve(root: &Value) -> Result<Value> {
    let mut r = Resolver {
        root,
        memo: HashMap::new(),
        stack: Vec::new(),
    };
    r.node(&[])
}

struct Resolver<'a> {
    root: &'a Value,
    memo: HashMap<Path, Value>,
    stack: Vec<Path>,
}

fn dotted(p: &[String]) -> String {
    p.join(".")
}

fn get<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(root, |node, part| match node {
        Value::Mapping(m) => m.get(part.as_str()),
        Value::Sequence(s) => part.parse::<usize>().ok().and_then(|i| s.get(i)),
        _ => None,
    })
}

impl Resolver<'_> {
    fn node(&mut self, path: &[String]) -> Result<Value> {
        if let Some(v) = self.memo.get(path) {
            return Ok(v.clone());
        }
        if let Some(i) = self.stack.iter().position(|p| p == path) {
            let mut chain: Vec<String> = self.stack[i..].iter().map(|p| dotted(p)).collect();
            chain.push(dotted(path));
            return Err(ConfigError::InterpolationCycle { chain });
        }
        let raw = get(self.root, path).ok_or_else(|| ConfigError::Interpolation {
            key: self.stack.last().map(|p| dotted(p)).unwrap_or_default(),
            message: format!("no key `{}` in the config", dotted(path)),
        })?;
        self.stack.push(path.to_vec());
        let out = match raw {
            Value::Mapping(m) => {
                let mut out = Mapping::new();
                for k in m.keys() {
                    let Some(ks) = k.as_str() else {
                        out.insert(k.clone(), m[k].clone());
                        continue;
                    };
                    let mut child = path.to_vec();
                    child.push(ks.to_string());
                    out.insert(k.clone(), self.node(&child)?);
                }
                Value::Mapping(out)
            }
            Value::Sequence(s) => {
                let mut out = Vec::with_capacity(s.len());
                for i in 0..s.len() {
                    let mut child = path.to_vec();
                    child.push(i.to_string());
                    out.push(self.node(&child)?);
                }
                Value::Sequence(out)
            }
            Value::String(s) if s.contains("${") => self.string(path, s)?,
            other => other.clone(),
        };
        self.stack.pop();
        self.memo.insert(path.to_vec(), out.clone());
        Ok(out)
    }

    /// Resolves a string holding interpolations; a string that is exactly one `${...}` keeps
    /// the referenced value's type.
    fn string(&mut self, path: &[String], s: &str) -> Result<Value> {
        let parts = split(s).map_err(|message| ConfigError::Interpolation {
            key: dotted(path),
            message,
        })?;
        if let [Part::Expr(e)] = parts.as_slice() {
            return self.expr(path, e);
        }
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(&t),
                Part::Expr(e) => match self.expr(path, &e)? {
                    Value::String(v) => out.push_str(&v),
                    Value::Null => out.push_str("null"),
                    Value::Bool(b) => out.push_str(&b.to_string()),
                    Value::Number(n) => out.push_str(&n.to_string()),
                    _ => {
                        return Err(ConfigError::Interpolation {
                            key: dotted(path),
                            message: format!(
                            "`${{{e}}}` is a list or mapping and cannot be embedded in a string"
                        ),
                        })
                    }
                },
            }
        }
        Ok(Value::String(out))
    }

    fn expr(&mut self, path: &[String], e: &str) -> Result<Value> {
        let err = |message: String| ConfigError::Interpolation {
            key: dotted(path),
            message,
        };
        if let Some(args) = e.strip_prefix("oc.env:") {
            let (var, default) = match split_top_comma(args) {
                Some((v, d)) => (v.trim(), Some(d.trim())),
                None => (args.trim(), None),
            };
            return match (std::env::var(var), default) {
                (Ok(v), _) => Ok(Value::String(v)),
                (Err(_), Some(d)) if d.contains("${") => self.string(path, d),
                (Err(_), Some(d)) => parse_value(d).map_err(err),
                (Err(_), None) => Err(err(format!("environment variable `{var}` is not set"))),
            };
        }
        if e.contains(':') {
            return Err(err(format!(
                "unsupported resolver in `${{{e}}}` (only `oc.env` is known)"
            )));
        }
        let target: Path = if let Some(rel) = e.strip_prefix('.') {
            // `.x` is a sibling, each further dot goes one level up.
            let ups = rel.chars().take_while(|c| *c == '.').count();
            let rest = &rel[ups..];
            let base_len = path.len().saturating_sub(1 + ups);
            let mut p = path[..base_len].to_vec();
            p.extend(
                rest.split('.')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            p
        } else {
            e.split('.').map(str::to_string).collect()
        };
        if get(self.root, &target).is_none() {
            return Err(err(format!(
                "`${{{e}}}` refers to `{}`, which does not exist",
                dotted(&target)
            )));
        }
        self.node(&target)
    }
}

#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    Expr(String),
}

/// Splits a string into literal text and `${...}` expressions (matching nested braces).
fn split(s: &str) -> std::result::Result<Vec<Part>, String> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && s[i + 1..].starts_with("${") {
            text.push_str("${");
            i += 3;
        } else if s[i..].starts_with("${") {
            let mut depth = 1;
            let mut j = i + 2;
            while j < b.len() && depth > 0 {
                if b[j] == b'$' && b.get(j + 1) == Some(&b'{') {
                    depth += 1;
                    j += 2;
                    continue;
                }
                if b[j] == b'}' {
                    depth -= 1;
                }
                j += 1;
            }
            if depth > 0 {
                return Err(format!("unclosed `${{` in `{s}`"));
            }
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Expr(s[i + 2..j - 1].trim().to_string()));
            i = j;
        } else {
            let ch = s[i..].chars().next().unwrap_or_default();
            text.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

/// Splits `a,b` at the first comma outside `${...}`.
fn split_top_comma(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn absolute_relative_and_embedded() {
        let v = resolve(&y(
            "seed: 7\na: {b: '${seed}', c: 'run-${seed}-x', d: '${.b}', e: {f: '${..c}'}}\nl: [1, '${a.b}']\nlst: ${l}",
        ))
        .unwrap();
        assert_eq!(
            v,
            y("seed: 7\na: {b: 7, c: run-7-x, d: 7, e: {f: run-7-x}}\nl: [1, 7]\nlst: [1, 7]")
        );
    }

    #[test]
    fn env_with_default_and_escape() {
        let v = resolve(&y(
            "a: '${oc.env:ATGEN_SURELY_UNSET_VAR,fallback}'\nb: '${oc.env:ATGEN_SURELY_UNSET_VAR,null}'\nc: '\\${not}'\nd: '${oc.env:ATGEN_SURELY_UNSET_VAR,${a}}'",
        ))
        .unwrap();
        assert_eq!(v, y("a: fallback\nb: null\nc: '${not}'\nd: fallback"));
        let path = std::env::var("PATH").unwrap();
        let v = resolve(&y("p: '${oc.env:PATH}'")).unwrap();
        assert_eq!(v, y(&format!("p: '{path}'")));
        let e = resolve(&y("p: '${oc.env:ATGEN_SURELY_UNSET_VAR}'")).unwrap_err();
        assert!(e.to_string().contains("ATGEN_SURELY_UNSET_VAR"), "{e}");
    }

    #[test]
    fn cycles_and_missing_targets_are_errors() {
        let e = resolve(&y("a: '${b}'\nb: '${c}'\nc: '${a}'")).unwrap_err();
        assert!(matches!(e, ConfigError::InterpolationCycle { .. }), "{e}");
        assert!(e.to_string().contains("a -> b -> c -> a"), "{e}");
        let e = resolve(&y("a: '${nope.x}'")).unwrap_err();
        assert!(e.to_string().contains("nope.x"), "{e}");
        assert!(resolve(&y("a: '${b'\nb: 1")).is_err());
    }
}
