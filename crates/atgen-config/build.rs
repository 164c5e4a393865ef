//! `include_dir!` does not tell cargo which files it read; rebuild when `configs/` changes.
fn main() {
    println!("cargo:rerun-if-changed=../../configs");
}
