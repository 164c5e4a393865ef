//! Building labellers pointed at an emulator.

use atgen_config::{LabellerConfig, LabellerKind, Price, Secret};
use atgen_core::Example;
use atgen_labellers::emulator::Emulator;
use atgen_labellers::{ApiLabeller, ApiSettings};

/// A labeller config for `emu` with extra YAML parameters (`k: v, ...`).
pub fn config(emu: &Emulator, provider: &str, extra: &str, key: Option<&str>) -> LabellerConfig {
    let params = format!(
        "{{provider: {provider}, model: emu-1, base_url: '{}', max_tokens: 64, backoff_base_s: 0.001, \
         backoff_max_s: 0.01, cache: false}}",
        emu.base_url(),
    );
    let mut parameters: atgen_config::Mapping = serde_norway::from_str(&params).unwrap();
    let extra: atgen_config::Mapping = serde_norway::from_str(&format!("{{{extra}}}")).unwrap();
    parameters.extend(extra);
    LabellerConfig {
        kind: LabellerKind::ApiLlm,
        parameters,
        price: Price {
            input_per_1m: 1.0,
            output_per_1m: 2.0,
        },
        api_key: key.map(Secret::new),
        ..LabellerConfig::default()
    }
}

pub fn labeller(cfg: &LabellerConfig, budget: Option<f64>) -> ApiLabeller {
    let s = ApiSettings::from_config(cfg, |_| None, None).unwrap();
    ApiLabeller::new(s, budget, 0.0).unwrap()
}

pub fn examples(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| Example::new(format!("e{i}"), format!("question number {i}")))
        .collect()
}
