//! The dataset subsets bundled in the repository's `data/` (see `data/README.md`), embedded in
//! the binary with the `bundled` feature so `bundled:<name>` works without a checkout.

use crate::error::{DataError, Result};
use crate::source::SplitData;
use std::collections::BTreeMap;

#[cfg(feature = "bundled")]
static DATA: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../../data");

/// Names of the bundled datasets.
pub fn bundled_names() -> Vec<String> {
    #[cfg(feature = "bundled")]
    {
        DATA.dirs()
            .map(|d| d.path().display().to_string())
            .collect()
    }
    #[cfg(not(feature = "bundled"))]
    {
        Vec::new()
    }
}

/// The splits of a bundled dataset.
pub(crate) fn splits(name: &str) -> Result<BTreeMap<String, SplitData>> {
    let unknown = || DataError::UnknownBundled {
        name: name.to_string(),
        available: bundled_names(),
    };
    #[cfg(feature = "bundled")]
    {
        let dir = DATA.get_dir(name).ok_or_else(unknown)?;
        let mut out = BTreeMap::new();
        for f in dir.files() {
            let path = f.path();
            if let (Some(stem), Some("jsonl")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) {
                out.insert(
                    stem.to_string(),
                    SplitData::Embedded(format!("bundled:{}", path.display()), f.contents()),
                );
            }
        }
        Ok(out)
    }
    #[cfg(not(feature = "bundled"))]
    {
        Err(unknown())
    }
}

#[cfg(all(test, feature = "bundled"))]
mod tests {
    #[test]
    fn five_datasets_with_train_and_test() {
        let names = super::bundled_names();
        for n in ["aeslc", "cmudict", "gsm8k", "race", "triviaqa"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
            let s = super::splits(n).unwrap();
            assert!(s.contains_key("train") && s.contains_key("test"), "{n}");
        }
        assert!(super::splits("nope").is_err());
    }
}
