//! Hydra composition: the primary config's `defaults` list picks one option per config group,
//! group overrides change those picks, the chosen files merge in order, then value overrides apply.

use crate::error::{closest, ConfigError, Result, Suggestion};
use crate::overrides::{Override, OverrideKind};
use crate::source::ConfigSources;
use serde_norway::{Mapping, Value};

/// One entry of a `defaults` list.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    /// `_self_`: the file's own content.
    SelfContent,
    /// `group: option` (`optional` entries are skipped when the file is missing).
    Group {
        group: String,
        option: String,
        optional: bool,
    },
    /// `- name`: another config file of the same directory, merged at the same package.
    Config(String),
}

/// Composes `config_name` with `overrides` (group picks and value edits); the result is not yet
/// interpolated.
/// `base` is merged first (the schema's defaults), so every schema key exists and can be set.
pub fn compose(
    sources: &ConfigSources,
    config_name: &str,
    overrides: &[Override],
    base: Value,
) -> Result<Value> {
    let (groups, values): (Vec<&Override>, Vec<&Override>) = overrides
        .iter()
        .partition(|o| !o.key.contains('.') && sources.is_group(&o.key) && is_choice(o));
    let mut out = if base.is_mapping() {
        base
    } else {
        Value::Mapping(Mapping::new())
    };
    load_into(sources, "", config_name, &groups, &mut out, true)?;
    for o in values {
        apply(&mut out, o)?;
    }
    Ok(out)
}

fn is_choice(o: &Override) -> bool {
    matches!(o.value, None | Some(Value::String(_)) | Some(Value::Null))
}

/// Loads `dir/name.yaml`, expands its defaults list, and merges the result into `out` at the
/// package the file declares (its group by default).
fn load_into(
    sources: &ConfigSources,
    group: &str,
    name: &str,
    group_overrides: &[&Override],
    out: &mut Value,
    primary: bool,
) -> Result<()> {
    let rel = if group.is_empty() {
        name.to_string()
    } else {
        format!("{group}/{name}")
    };
    let (origin, text) = match sources.read(&format!("{rel}.yaml"))? {
        Some(found) => found,
        None => sources
            .read(&format!("{rel}.yml"))?
            .ok_or_else(|| not_found(sources, group, name, &rel))?,
    };
    let package = package_of(&text).unwrap_or_else(|| group.replace('/', "."));
    let package = if package == "_global_" {
        String::new()
    } else {
        package
    };
    let mut body: Value = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_norway::from_str(&text).map_err(|e| yaml_err(&origin, e.to_string()))?
    };
    if body.is_null() {
        body = Value::Mapping(Mapping::new());
    }
    let body_map = body
        .as_mapping_mut()
        .ok_or_else(|| yaml_err(&origin, "the top level must be a mapping".into()))?;
    let mut entries = match body_map.remove("defaults") {
        Some(d) => parse_defaults(&origin, &d)?,
        None => Vec::new(),
    };
    if !entries.contains(&Entry::SelfContent) {
        entries.push(Entry::SelfContent);
    }
    if primary {
        apply_group_overrides(sources, &mut entries, group_overrides)?;
    }
    for entry in entries {
        match entry {
            Entry::SelfContent => merge_at(out, &package, body.clone()),
            Entry::Group {
                group: g,
                option,
                optional,
            } => {
                let full = if group.is_empty() {
                    g
                } else {
                    format!("{group}/{g}")
                };
                let missing = sources.read(&format!("{full}/{option}.yaml"))?.is_none()
                    && sources.read(&format!("{full}/{option}.yml"))?.is_none();
                if optional && missing {
                    continue;
                }
                load_into(sources, &full, &option, &[], out, false)?;
            }
            Entry::Config(other) => {
                let mut sub = Value::Mapping(Mapping::new());
                load_into(sources, group, &other, &[], &mut sub, false)?;
                // `sub` holds `other` at this directory's package; lift it to our package.
                let lifted = lookup(&sub, &package).cloned().unwrap_or(sub);
                merge_at(out, &package, lifted);
            }
        }
    }
    Ok(())
}

fn not_found(sources: &ConfigSources, group: &str, name: &str, rel: &str) -> ConfigError {
    if group.is_empty() {
        return ConfigError::ConfigNotFound {
            name: rel.to_string(),
            searched: sources.describe(),
        };
    }
    let available = sources.options(group);
    ConfigError::UnknownOption {
        group: group.to_string(),
        option: name.to_string(),
        suggestion: closest(name, available.iter().map(String::as_str)),
        available,
    }
}

fn yaml_err(file: &str, message: String) -> ConfigError {
    ConfigError::Yaml {
        file: file.to_string(),
        message,
    }
}

/// The `# @package <pkg>` header, if the file has one before any content.
fn package_of(text: &str) -> Option<String> {
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix('#') {
            if let Some(pkg) = rest.trim().strip_prefix("@package") {
                return Some(pkg.trim().to_string());
            }
        } else if !t.is_empty() {
            break;
        }
    }
    None
}

fn parse_defaults(origin: &str, d: &Value) -> Result<Vec<Entry>> {
    let list = d
        .as_sequence()
        .ok_or_else(|| yaml_err(origin, "`defaults` must be a list".into()))?;
    let mut out = Vec::new();
    for item in list {
        match item {
            Value::String(s) if s == "_self_" => out.push(Entry::SelfContent),
            Value::String(s) => out.push(Entry::Config(s.clone())),
            Value::Mapping(m) if m.len() == 1 => {
                let Some((Value::String(k), v)) = m.iter().next() else {
                    return Err(yaml_err(
                        origin,
                        "a defaults entry key must be a string".into(),
                    ));
                };
                let (optional, key) = match k.strip_prefix("optional ") {
                    Some(rest) => (true, rest.trim()),
                    None => (false, k.strip_prefix("override ").unwrap_or(k).trim()),
                };
                match v {
                    Value::Null => {} // `group: null` picks nothing
                    Value::String(option) => {
                        let entry = Entry::Group {
                            group: key.to_string(),
                            option: option.clone(),
                            optional,
                        };
                        // `override group: x` (or a repeated group) replaces the earlier pick.
                        match out
                            .iter_mut()
                            .find(|e| matches!(e, Entry::Group { group, .. } if group == key))
                        {
                            Some(existing) => *existing = entry,
                            None => out.push(entry),
                        }
                    }
                    _ => {
                        return Err(yaml_err(
                            origin,
                            format!("defaults entry `{key}` must name one option"),
                        ))
                    }
                }
            }
            _ => return Err(yaml_err(origin, format!("bad defaults entry: {item:?}"))),
        }
    }
    Ok(out)
}

fn apply_group_overrides(
    sources: &ConfigSources,
    entries: &mut Vec<Entry>,
    overrides: &[&Override],
) -> Result<()> {
    for o in overrides {
        let pos = entries
            .iter()
            .position(|e| matches!(e, Entry::Group { group, .. } if *group == o.key));
        let option = match &o.value {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        match (o.kind, pos, option) {
            (OverrideKind::Delete, Some(i), _) | (_, Some(i), None) => {
                entries.remove(i);
            }
            (OverrideKind::Delete, None, _) => {
                return Err(ConfigError::DeleteMissingKey {
                    key: o.key.clone(),
                    suggestion: Suggestion(None),
                })
            }
            (OverrideKind::Add, Some(_), _) => {
                return Err(ConfigError::OverrideKeyExists { key: o.key.clone() })
            }
            (_, Some(i), Some(option)) => {
                entries[i] = Entry::Group {
                    group: o.key.clone(),
                    option,
                    optional: false,
                };
            }
            (OverrideKind::Set, None, Some(_)) => {
                return Err(ConfigError::OverrideMissingKey {
                    key: o.key.clone(),
                    suggestion: Suggestion(None),
                })
            }
            (_, None, Some(option)) => {
                let self_pos = entries
                    .iter()
                    .position(|e| *e == Entry::SelfContent)
                    .unwrap_or(entries.len());
                entries.insert(
                    self_pos,
                    Entry::Group {
                        group: o.key.clone(),
                        option,
                        optional: false,
                    },
                );
            }
            (_, None, None) => {}
        }
    }
    let _ = sources;
    Ok(())
}

/// OmegaConf merge: mappings merge key by key, anything else replaces.
pub fn merge(dst: &mut Value, src: Value) {
    match (dst, src) {
        (Value::Mapping(d), Value::Mapping(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (dst, src) => *dst = src,
    }
}

fn merge_at(out: &mut Value, package: &str, body: Value) {
    if package.is_empty() {
        merge(out, body);
        return;
    }
    let mut wrapped = body;
    for part in package.rsplit('.') {
        let mut m = Mapping::new();
        m.insert(Value::String(part.to_string()), wrapped);
        wrapped = Value::Mapping(m);
    }
    merge(out, wrapped);
}

/// The node at a dotted path, if any (`""` is the root).
pub fn lookup<'a>(root: &'a Value, dotted: &str) -> Option<&'a Value> {
    if dotted.is_empty() {
        return Some(root);
    }
    dotted.split('.').try_fold(root, |node, part| match node {
        Value::Mapping(m) => m.get(part),
        Value::Sequence(s) => part.parse::<usize>().ok().and_then(|i| s.get(i)),
        _ => None,
    })
}

/// Every dotted key of the tree (mappings only), depth first.
pub fn all_keys(root: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Mapping(m) = v {
            for (k, child) in m {
                let k = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"));
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(key.clone());
                walk(child, &key, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

/// Applies one value override (`a.b=v`, `+a.b=v`, `++a.b=v`, `~a.b`).
pub fn apply(root: &mut Value, o: &Override) -> Result<()> {
    let parts: Vec<&str> = o.key.split('.').collect();
    let (last, parents) = parts.split_last().expect("split never yields nothing");
    let exists = lookup(root, &o.key).is_some();
    let suggest = |root: &Value| {
        let keys = all_keys(root);
        closest(&o.key, keys.iter().map(String::as_str))
    };
    match o.kind {
        OverrideKind::Set if !exists => {
            return Err(ConfigError::OverrideMissingKey {
                key: o.key.clone(),
                suggestion: suggest(root),
            })
        }
        OverrideKind::Add if exists => {
            return Err(ConfigError::OverrideKeyExists { key: o.key.clone() })
        }
        OverrideKind::Delete => {
            let current = lookup(root, &o.key).ok_or_else(|| ConfigError::DeleteMissingKey {
                key: o.key.clone(),
                suggestion: suggest(root),
            })?;
            if let Some(expected) = &o.value {
                if current != expected {
                    return Err(ConfigError::invalid(
                        o.key.clone(),
                        format!(
                            "`{}` asks to delete it only when it equals the given value",
                            o.input
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    let mut node = root;
    for part in parents {
        let map = node.as_mapping_mut().ok_or_else(|| {
            ConfigError::invalid(o.key.clone(), format!("`{part}`'s parent is not a mapping"))
        })?;
        node = map
            .entry(Value::String(part.to_string()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
    }
    let map = node.as_mapping_mut().ok_or_else(|| {
        ConfigError::invalid(o.key.clone(), "the parent of this key is not a mapping")
    })?;
    match (o.kind, &o.value) {
        (OverrideKind::Delete, _) => {
            map.remove(*last);
        }
        (_, Some(v)) => {
            map.insert(Value::String(last.to_string()), v.clone());
        }
        (_, None) => {}
    }
    Ok(())
}
