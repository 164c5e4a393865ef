//! `include_dir!` does not tell cargo which files it read; rebuild when `data/` changes.
fn main() {
    println!("cargo:rerun-if-changed=../../data");
}
