//! Running the `phonecert` binary from the workspace root, as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (fixtures and examples are named from it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `phonecert ARGS` in the workspace root.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonecert"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("runs")
}
