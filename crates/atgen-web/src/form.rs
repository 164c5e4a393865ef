//! The new-run form: fields in, a validated [`NewRun`] (or errors keyed by field) out.
//!
//! Group choices (dataset preset, strategy, labeller, model and training presets) become
//! Hydra overrides, checked against the options that exist; free text (columns, template,
//! numbers, guidelines) goes into a YAML mapping merged over the composed config, so no user
//! text is ever parsed as override syntax. The API key is kept apart as a secret.

use crate::db::overlap::OverlapRule;
use crate::db::runs::NewRun;
use crate::runs::compose_config;
use atgen_config::{ConfigError, ConfigSources, Mapping, Value};
use atgen_data::{load_dataset_with, DataError, LoadContext};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Field name -> message, shown beside the field.
pub type FieldErrors = BTreeMap<String, String>;

/// The submitted form, as text fields (an uploaded file is already saved under the data directory).
#[derive(Debug, Default, Clone)]
pub struct RunForm {
    pub fields: HashMap<String, String>,
    /// Where the uploaded data file was stored (relative to the data directory), and its
    /// original name (errors name that, not the server's path).
    pub upload: Option<(std::path::PathBuf, String)>,
}

/// What a valid form yields, plus a rendered prompt of the first row.
pub struct Checked {
    pub run: NewRun,
    pub preview: String,
    pub resolved_yaml: String,
    /// The data's columns, as mapped (input, output, id, then the others).
    pub columns: Vec<String>,
}

/// The providers an API labeller may use.
pub const PROVIDERS: &[&str] = &["openai", "anthropic", "openai_compatible"];

impl RunForm {
    /// A trimmed field ("" when absent).
    pub fn get(&self, k: &str) -> &str {
        self.fields.get(k).map_or("", |v| v.trim())
    }

    fn opt(&self, k: &str) -> Option<&str> {
        Some(self.get(k)).filter(|v| !v.is_empty())
    }
}

fn set(map: &mut Mapping, dotted: &str, v: Value) {
    let mut parts = dotted.split('.').peekable();
    let mut cur = map;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(Value::String(p.into()), v);
            return;
        }
        let entry = cur
            .entry(Value::String(p.into()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !matches!(entry, Value::Mapping(_)) {
            *entry = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(next) = entry else { return };
        cur = next;
    }
}

/// Which form field a config key belongs to.
pub fn field_of_key(key: &str) -> &'static str {
    const MAP: &[(&str, &str)] = &[
        ("data.input_column", "input_column"),
        ("data.output_column", "output_column"),
        ("data.id_column", "id_column"),
        ("data.prompt_template", "prompt_template"),
        ("data.dataset", "dataset"),
        ("data", "dataset"),
        ("al.strategy", "strategy"),
        ("al.budget", "budget"),
        ("al.max_labeled", "max_labeled"),
        ("al.num_iterations", "num_iterations"),
        ("al.init_query_size", "init_query_size"),
        ("al.query_size", "query_size"),
        ("al.required_performance", "target_metric"),
        ("labeller.parameters.model", "api_model"),
        ("labeller.parameters.provider", "provider"),
        ("labeller.parameters.base_url", "base_url"),
        ("labeller.price.input_per_1m", "price_input"),
        ("labeller.price.output_per_1m", "price_output"),
        ("labeller", "labeller"),
        ("model", "model"),
        ("training", "training"),
    ];
    MAP.iter()
        .find(|(k, _)| key == *k || key.starts_with(&format!("{k}.")))
        .map_or("advanced", |(_, f)| f)
}

fn config_error_field(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::UnknownOption { group, .. } => field_of_key(group),
        ConfigError::OverrideSyntax { .. } => "overrides",
        ConfigError::OverrideMissingKey { key, .. }
        | ConfigError::OverrideKeyExists { key }
        | ConfigError::DeleteMissingKey { key, .. }
        | ConfigError::UnknownKey { key, .. }
        | ConfigError::WrongType { key, .. }
        | ConfigError::MissingValue { key }
        | ConfigError::Interpolation { key, .. }
        | ConfigError::Invalid { key, .. } => field_of_key(key),
        _ => "advanced",
    }
}

fn data_error_field(e: &DataError) -> &'static str {
    match e {
        DataError::MissingColumn { .. } => "input_column",
        DataError::Template { .. } => "prompt_template",
        DataError::Config { key, .. } => field_of_key(key),
        _ => "dataset",
    }
}

fn number<T: std::str::FromStr>(form: &RunForm, k: &str, errors: &mut FieldErrors) -> Option<T> {
    let v = form.opt(k)?;
    match v.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.insert(k.into(), format!("`{v}` is not a valid number"));
            None
        }
    }
}

fn pick(form: &RunForm, k: &str, options: &[String], errors: &mut FieldErrors) -> Option<String> {
    let v = form.opt(k)?;
    if options.iter().any(|o| o == v) {
        Some(v.to_string())
    } else {
        errors.insert(
            k.into(),
            format!(
                "unknown option `{v}` (choose one of: {})",
                options.join(", ")
            ),
        );
        None
    }
}

/// Validates `form`; `data_dir` is where relative paths (uploads, models) are resolved.
pub fn check(form: &RunForm, data_dir: &Path) -> Result<Checked, FieldErrors> {
    let mut errors = FieldErrors::new();
    let sources = ConfigSources::embedded();
    let mut overrides: Vec<String> = Vec::new();
    let mut values = Mapping::new();

    let name = form.get("name");
    if name.is_empty() {
        errors.insert("name".into(), "give the run a name".into());
    } else if name.chars().count() > 80 {
        errors.insert("name".into(), "at most 80 characters".into());
    }

    let project = form.opt("project").unwrap_or("default");
    if project.chars().count() > 60 || project.chars().any(char::is_control) {
        errors.insert("project".into(), "at most 60 printable characters".into());
    }

    // Data.
    let source = form.get("data_source");
    match source {
        "bundled" | "" => {
            if let Some(d) = pick(form, "bundled", &sources.options("data"), &mut errors) {
                overrides.push(format!("data={d}"));
            } else if form.opt("bundled").is_none() {
                errors.insert("bundled".into(), "choose a bundled dataset".into());
            }
        }
        "upload" | "hub" => {
            overrides.push("~data".into());
            let spec = if source == "upload" {
                match &form.upload {
                    Some((p, _)) => Some(p.display().to_string()),
                    None => {
                        errors.insert(
                            "upload".into(),
                            "choose a CSV, JSON, JSONL or Parquet file".into(),
                        );
                        None
                    }
                }
            } else {
                match form.opt("hub_dataset") {
                    Some(h) if h.contains('/') && !h.contains(char::is_whitespace) => {
                        Some(h.to_string())
                    }
                    Some(_) => {
                        errors.insert(
                            "hub_dataset".into(),
                            "a hub id looks like `owner/name`".into(),
                        );
                        None
                    }
                    None => {
                        errors.insert(
                            "hub_dataset".into(),
                            "name a dataset in the local Hugging Face cache".into(),
                        );
                        None
                    }
                }
            };
            if let Some(s) = spec {
                set(&mut values, "data.dataset", Value::String(s));
            }
            if form.opt("input_column").is_none() {
                errors.insert(
                    "input_column".into(),
                    "name the column with the input text".into(),
                );
            }
        }
        other => {
            errors.insert(
                "data_source".into(),
                format!("unknown data source `{other}`"),
            );
        }
    }
    for (field, key) in [
        ("input_column", "data.input_column"),
        ("output_column", "data.output_column"),
        ("id_column", "data.id_column"),
    ] {
        if let Some(v) = form.opt(field) {
            set(&mut values, key, Value::String(v.into()));
        }
    }
    if let Some(t) = form
        .fields
        .get("prompt_template")
        .filter(|t| !t.trim().is_empty())
    {
        set(
            &mut values,
            "data.prompt_template",
            Value::String(t.replace("\r\n", "\n")),
        );
    }
    if let Some(n) = number::<usize>(form, "test_size", &mut errors) {
        set(
            &mut values,
            "data.test_subset_size",
            Value::Number(n.into()),
        );
    }

    // Strategy, presets.
    for (field, group) in [
        ("strategy", "al"),
        ("model", "model"),
        ("training", "training"),
    ] {
        if let Some(v) = pick(form, field, &sources.options(group), &mut errors) {
            overrides.push(format!("{group}={v}"));
        }
    }

    // Device of the run's local models (a GPU needs a `--features cuda` build).
    if let Some(d) = form.opt("device") {
        match d.parse::<atgen_core::DeviceName>() {
            Ok(d) => set(&mut values, "model.device", Value::String(d.to_string())),
            Err(e) => {
                errors.insert("device".into(), e.to_string());
            }
        }
    }

    // Labeller.
    let labeller = match form.get("labeller") {
        "" | "human" => "human",
        "golden" => "golden",
        "api_llm" => "api_llm",
        other => {
            errors.insert("labeller".into(), format!("unknown labeller `{other}`"));
            "human"
        }
    };
    overrides.push(format!("labeller={labeller}"));
    let mut secrets = Vec::new();
    if labeller == "api_llm" {
        let provider = form.opt("provider").unwrap_or("openai");
        if !PROVIDERS.contains(&provider) {
            errors.insert(
                "provider".into(),
                format!("choose one of {}", PROVIDERS.join(", ")),
            );
        }
        set(
            &mut values,
            "labeller.parameters.provider",
            Value::String(provider.into()),
        );
        match form.opt("api_model") {
            Some(m) => set(
                &mut values,
                "labeller.parameters.model",
                Value::String(m.into()),
            ),
            None => {
                errors.insert("api_model".into(), "name the provider's model".into());
            }
        }
        if let Some(u) = form.opt("base_url") {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                errors.insert(
                    "base_url".into(),
                    "must start with http:// or https://".into(),
                );
            }
            set(
                &mut values,
                "labeller.parameters.base_url",
                Value::String(u.into()),
            );
        } else if provider == "openai_compatible" {
            errors.insert(
                "base_url".into(),
                "an OpenAI-compatible server needs its base URL".into(),
            );
        }
        for (field, key) in [
            ("price_input", "labeller.price.input_per_1m"),
            ("price_output", "labeller.price.output_per_1m"),
        ] {
            if let Some(p) = number::<f64>(form, field, &mut errors) {
                if p < 0.0 || !p.is_finite() {
                    errors.insert(field.into(), "a price cannot be negative".into());
                }
                set(&mut values, key, Value::Number(p.into()));
            }
        }
        if let Some(k) = form.opt("api_key") {
            secrets.push(("labeller.api_key".to_string(), k.to_string()));
        }
    }

    // Stopping and loop sizes.
    for (field, key) in [
        ("num_iterations", "al.num_iterations"),
        ("init_query_size", "al.init_query_size"),
        ("query_size", "al.query_size"),
        ("max_labeled", "al.max_labeled"),
    ] {
        if let Some(n) = number::<usize>(form, field, &mut errors) {
            set(&mut values, key, Value::Number(n.into()));
        }
    }
    let budget = number::<f64>(form, "budget", &mut errors);
    if let Some(b) = budget {
        set(&mut values, "al.budget", Value::Number(b.into()));
    }
    match (
        form.opt("target_metric"),
        number::<f64>(form, "target_value", &mut errors),
    ) {
        (Some(m), Some(v)) => {
            let mut req = Mapping::new();
            req.insert(Value::String(m.into()), Value::Number(v.into()));
            set(&mut values, "al.required_performance", Value::Mapping(req));
        }
        (Some(_), None) => {
            errors.insert(
                "target_value".into(),
                "give the metric value to reach".into(),
            );
        }
        (None, Some(_)) => {
            errors.insert(
                "target_metric".into(),
                "name the metric (e.g. exact_match)".into(),
            );
        }
        (None, None) => {}
    }

    // People.
    let overlap = number::<i64>(form, "overlap", &mut errors).unwrap_or(1);
    if !(1..=10).contains(&overlap) {
        errors.insert(
            "overlap".into(),
            "between 1 and 10 annotators per text".into(),
        );
    }
    let overlap_rule = form.opt("overlap_rule").unwrap_or("first");
    let overlap_rule = OverlapRule::parse(overlap_rule).unwrap_or_else(|| {
        errors.insert(
            "overlap_rule".into(),
            format!("`{overlap_rule}`: choose first, majority or owner"),
        );
        OverlapRule::First
    });
    let guidelines = form.fields.get("guidelines").cloned().unwrap_or_default();
    if guidelines.len() > 20_000 {
        errors.insert("guidelines".into(), "at most 20,000 characters".into());
    }

    // Power users: extra overrides, one per line, and a YAML mapping merged last.
    for line in form
        .fields
        .get("overrides")
        .map_or("", String::as_str)
        .lines()
    {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let key = l
            .trim_start_matches(['+', '~'])
            .split('=')
            .next()
            .unwrap_or_default();
        if key.split('.').any(atgen_config::is_secret_key) {
            errors.insert(
                "overrides".into(),
                "type the API key in its own field (it is stored apart and never shown)".into(),
            );
            continue;
        }
        overrides.push(l.to_string());
    }
    let mut tree = Value::Mapping(values);
    let advanced = form.get("advanced_yaml");
    if !advanced.is_empty() {
        match serde_norway::from_str::<Value>(advanced) {
            Ok(v @ Value::Mapping(_)) => {
                // Secrets never go into stored config text; they have their own field.
                let mut redacted = v.clone();
                atgen_config::redact_value(&mut redacted);
                if redacted != v {
                    errors.insert(
                        "advanced_yaml".into(),
                        "holds a secret (an API key, token or password): type the API key in its own field, where it is stored apart and never shown".into(),
                    );
                }
                atgen_config::merge(&mut tree, v)
            }
            Ok(_) => {
                errors.insert(
                    "advanced_yaml".into(),
                    "must be a mapping of config keys".into(),
                );
            }
            Err(e) => {
                errors.insert("advanced_yaml".into(), format!("invalid YAML: {e}"));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let advanced_yaml = serde_norway::to_string(&tree).unwrap_or_default();
    let cfg = match compose_config(&overrides, &advanced_yaml, data_dir) {
        Ok(c) => c,
        Err(crate::WebError::Config(e)) => {
            errors.insert(config_error_field(&e).into(), e.to_string());
            return Err(errors);
        }
        Err(e) => {
            errors.insert("advanced_yaml".into(), e.to_string());
            return Err(errors);
        }
    };
    // The data must load and the template render on a real row.
    let (preview, columns) = match preview(&cfg.data, data_dir) {
        Ok(p) => p,
        Err(e) => {
            let mut msg = e.to_string();
            if let Some((p, original)) = &form.upload {
                msg = msg
                    .replace(&data_dir.join(p).display().to_string(), original)
                    .replace(&p.display().to_string(), original);
            }
            let field = match data_error_field(&e) {
                "dataset" if source == "upload" => "upload",
                "dataset" if source == "hub" => "hub_dataset",
                f => f,
            };
            errors.insert(field.into(), msg);
            return Err(errors);
        }
    };
    Ok(Checked {
        run: NewRun {
            name: name.to_string(),
            project: project.to_string(),
            overrides,
            advanced_yaml,
            labeller: labeller.into(),
            guidelines,
            overlap,
            overlap_rule,
            owner: String::new(),
            budget,
            secrets,
        },
        preview,
        resolved_yaml: cfg.to_yaml_redacted(),
        columns,
    })
}

/// Loads the data and renders the prompt of its first pool row.
pub fn preview(
    data: &atgen_config::DataConfig,
    data_dir: &Path,
) -> Result<(String, Vec<String>), DataError> {
    let ctx = LoadContext {
        base_dir: data_dir.to_path_buf(),
        ..LoadContext::default()
    };
    let ds = load_dataset_with(data, &ctx)?;
    let first = ds.train.first().ok_or_else(|| DataError::Config {
        key: "data.dataset".into(),
        reason: "the pool (train split) is empty".into(),
    })?;
    let mut columns = vec![data.input_column.clone()];
    columns.extend(data.output_column.clone());
    columns.extend(data.references_column.clone());
    columns.extend(data.id_column.clone());
    columns.extend(
        first
            .fields
            .keys()
            .filter(|k| !columns.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    Ok((ds.prompt.render(first)?, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> RunForm {
        RunForm {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            upload: None,
        }
    }

    #[test]
    fn a_bundled_human_run_validates_and_previews_a_real_row() {
        let dir = tempfile::tempdir().unwrap();
        let f = form(&[
            ("name", "demo"),
            ("bundled", "gsm8k"),
            ("strategy", "random"),
            ("labeller", "human"),
        ]);
        let c = check(&f, dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            c.preview.contains("Question: Natalia sold clips"),
            "{}",
            c.preview
        );
        assert!(c.run.overrides.contains(&"labeller=human".to_string()));
    }

    #[test]
    fn the_device_field_sets_model_device_and_rejects_unknown_names() {
        let dir = tempfile::tempdir().unwrap();
        let base = [
            ("name", "gpu"),
            ("bundled", "gsm8k"),
            ("labeller", "golden"),
        ];
        let with = |d: &'static str| form(&[base.as_slice(), &[("device", d)]].concat());
        let c = check(&with("cuda:1"), dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            c.resolved_yaml.contains("device: cuda:1"),
            "{}",
            c.resolved_yaml
        );
        let c = check(&form(&base), dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(
            c.resolved_yaml.contains("device: auto"),
            "{}",
            c.resolved_yaml
        );
        let e = check(&with("tpu"), dir.path()).err().unwrap();
        assert!(e["device"].contains("unknown device `tpu`"), "{e:?}");
    }

    #[test]
    fn errors_name_their_field() {
        let dir = tempfile::tempdir().unwrap();
        let f = form(&[
            ("name", ""),
            ("bundled", "gsm8k"),
            ("strategy", "no-such"),
            ("budget", "ten"),
            ("input_column", "nope"),
        ]);
        let e = check(&f, dir.path()).err().unwrap();
        assert!(e["name"].contains("name"));
        assert!(e["strategy"].contains("unknown option `no-such`"));
        assert!(e["budget"].contains("`ten`"));
        let f = form(&[
            ("name", "x"),
            ("bundled", "gsm8k"),
            ("input_column", "nope"),
        ]);
        let e = check(&f, dir.path()).err().unwrap();
        assert!(
            e["input_column"].contains("column `nope` not found"),
            "{e:?}"
        );
        let f = form(&[
            ("name", "x"),
            ("bundled", "gsm8k"),
            ("prompt_template", "Q: {missing}"),
        ]);
        let e = check(&f, dir.path()).err().unwrap();
        assert!(e.contains_key("prompt_template"), "{e:?}");
    }

    #[test]
    fn the_api_key_is_a_secret_not_an_override() {
        let dir = tempfile::tempdir().unwrap();
        let f = form(&[
            ("name", "x"),
            ("bundled", "gsm8k"),
            ("labeller", "api_llm"),
            ("api_model", "gpt-4o-mini"),
            ("api_key", "sk-live-123"),
        ]);
        let c = check(&f, dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            c.run.secrets,
            vec![("labeller.api_key".to_string(), "sk-live-123".to_string())]
        );
        assert!(!c.run.advanced_yaml.contains("sk-live"));
        assert!(!c.run.overrides.iter().any(|o| o.contains("sk-live")));
        assert!(!c.resolved_yaml.contains("sk-live"));
        // A secret typed anywhere else is refused, not stored.
        for (field, text) in [
            ("overrides", "++labeller.api_key=sk-live-123"),
            ("advanced_yaml", "labeller:\n  api_key: sk-live-123\n"),
        ] {
            let f = form(&[("name", "x"), ("bundled", "gsm8k"), (field, text)]);
            let e = check(&f, dir.path()).err().unwrap();
            assert!(e[field].contains("its own field"), "{e:?}");
        }
    }
}
