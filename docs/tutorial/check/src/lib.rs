//! The checks that keep the tutorial true to the code it quotes.
//!
//! mdBook only warns when an `{{#include}}` names a missing file or anchor,
//! and renders the chapter with a hole in it. These checks turn every such
//! hole into a test failure, and go further: in Part 1 every line a step
//! adds must be shown by its chapter (so a learner never has to guess one),
//! and every command a chapter tells the reader to run must exist. Each
//! step's chapter ends with the whole of every file the step changed,
//! folded; every table of figures names the command that measured it.
//!
//! Pure functions over text, so each rule is unit-tested on small inputs;
//! `tests/book.rs` runs them over the real book.

pub mod anchors;
pub mod commands;
pub mod coverage;
pub mod includes;
pub mod layout;

use std::path::{Path, PathBuf};

/// The tutorial's folder (`docs/tutorial`).
pub fn tutorial_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("check/ sits in docs/tutorial")
        .to_path_buf()
}

/// The repository's root.
pub fn repository_root() -> PathBuf {
    tutorial_root()
        .parent()
        .and_then(Path::parent)
        .expect("docs/tutorial sits two levels below the root")
        .to_path_buf()
}

/// Every chapter's Markdown file under `src/`, sorted.
pub fn chapters() -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut folders = vec![tutorial_root().join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|extension| extension == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
