//! Progress bars for long reads and downloads, in the style of the rest of atgen (indicatif on
//! stderr; nothing is drawn when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

/// Files at least this large get a bar while they are read.
pub(crate) const LARGE_FILE_BYTES: u64 = 16 << 20;

/// A byte bar for downloading `name` (a spinner-like bar when the size is unknown).
pub(crate) fn bytes_bar(size: Option<u64>, name: &str) -> ProgressBar {
    let bar = ProgressBar::new(size.unwrap_or(0));
    let template = if size.is_some() {
        "downloading {msg} {bar:30} {bytes}/{total_bytes} [{elapsed}<{eta}] {bytes_per_sec}"
    } else {
        "downloading {msg} {bytes} [{elapsed}] {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(name.to_string());
    bar
}

/// A bar for reading a data file of `len` units (bytes, or rows for Parquet); hidden for small
/// files (`size` below [`LARGE_FILE_BYTES`]).
pub(crate) fn read_bar(path: &Path, size: u64, len: u64, unit: &str) -> ProgressBar {
    if size < LARGE_FILE_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = if unit == "bytes" {
        "reading {msg} {bar:30} {bytes}/{total_bytes} [{elapsed}<{eta}]".to_string()
    } else {
        format!("reading {{msg}} {{bar:30}} {{pos}}/{{len}} {unit} [{{elapsed}}<{{eta}}]")
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    bar.set_message(name);
    bar
}
