//! `docs/CONFIG.md` is generated; this fails when it drifts from the code.
//! Regenerate with `ATGEN_UPDATE_DOCS=1 cargo test -p atgen-config --test it`.

use std::path::Path;

#[test]
fn config_reference_matches_docs_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CONFIG.md");
    let generated = atgen_config::config_reference();
    if std::env::var_os("ATGEN_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/CONFIG.md is out of date; run `ATGEN_UPDATE_DOCS=1 cargo test -p atgen-config --test it`"
    );
}
