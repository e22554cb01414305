//! Finding mdBook's `{{#include}}` links in a chapter, and resolving each
//! to the lines it shows.

use std::path::{Path, PathBuf};

use crate::anchors;

/// Which part of a file an include shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Whole,
    Anchor(String),
    /// 1-based, inclusive; `None` is open-ended.
    Lines(Option<usize>, Option<usize>),
}

/// One `{{#include path[:selection]}}` (or `rustdoc_include`) in a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// As written, relative to the chapter's folder.
    pub path: String,
    pub selection: Selection,
    /// 1-based line of the chapter it is on.
    pub line: usize,
}

/// Why an include does not show what it should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncludeError {
    #[error("line {line}: {path} does not exist")]
    MissingFile { line: usize, path: String },
    #[error("line {line}: {path} has no anchor `{anchor}` (or no ANCHOR_END for it)")]
    MissingAnchor {
        line: usize,
        path: String,
        anchor: String,
    },
    #[error("line {line}: anchor `{anchor}` of {path} is empty")]
    EmptyAnchor {
        line: usize,
        path: String,
        anchor: String,
    },
    #[error("line {line}: lines {selection:?} of {path} are empty or past its end")]
    EmptyLines {
        line: usize,
        path: String,
        selection: Selection,
    },
    #[error(
        "line {line}: the whole of {path} is included, and its ANCHOR comments would show: include an anchor instead"
    )]
    AnchorLinesShown { line: usize, path: String },
}

/// Every include link in `markdown`, in order. `\{{#include}}` (escaped,
/// shown literally by mdBook) is not a link.
pub fn find(markdown: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (index, text) in markdown.lines().enumerate() {
        let mut rest = text;
        while let Some(start) = rest.find("{{#") {
            let escaped = rest[..start].ends_with('\\');
            let after = &rest[start + 3..];
            let Some(end) = after.find("}}") else { break };
            let body = after[..end].trim();
            rest = &after[end + 2..];
            if escaped {
                continue;
            }
            let Some(argument) = body
                .strip_prefix("include ")
                .or_else(|| body.strip_prefix("rustdoc_include "))
            else {
                continue;
            };
            found.push(parse(argument.trim(), index + 1));
        }
    }
    found
}

fn parse(argument: &str, line: usize) -> Include {
    let mut parts = argument.splitn(3, ':');
    let path = parts.next().unwrap_or_default().to_owned();
    let first = parts.next();
    let second = parts.next();
    let number = |text: &str| text.trim().parse::<usize>().ok();
    let selection = match (first, second) {
        (None, _) => Selection::Whole,
        (Some(first), None) if number(first).is_none() && !first.is_empty() => {
            Selection::Anchor(first.trim().to_owned())
        }
        (Some(first), None) => Selection::Lines(number(first), number(first)),
        (Some(first), Some(second)) => Selection::Lines(number(first), number(second)),
    };
    Include {
        path,
        selection,
        line,
    }
}

/// What an include shows: the file it names and the 1-based line numbers
/// of that file that end up in the chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub file: PathBuf,
    pub lines: Vec<usize>,
}

/// Resolves `include` against the chapter's folder, or says why it shows
/// nothing (mdBook would only warn, or show anchor comments).
pub fn resolve(include: &Include, chapter_folder: &Path) -> Result<Shown, IncludeError> {
    let file = chapter_folder.join(&include.path);
    let line = include.line;
    let path = include.path.clone();
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Err(IncludeError::MissingFile { line, path });
    };
    let all: Vec<&str> = text.lines().collect();
    let lines = match &include.selection {
        Selection::Whole => {
            if all.iter().any(|text| anchors::is_marker(text)) {
                return Err(IncludeError::AnchorLinesShown { line, path });
            }
            (1..=all.len()).collect()
        }
        Selection::Anchor(anchor) => {
            let Some(lines) = anchors::lines_of(&text, anchor) else {
                return Err(IncludeError::MissingAnchor {
                    line,
                    path,
                    anchor: anchor.clone(),
                });
            };
            lines
        }
        Selection::Lines(start, end) => {
            let start = start.unwrap_or(1).max(1);
            let end = end.unwrap_or(all.len()).min(all.len());
            (start..=end)
                .filter(|number| !anchors::is_marker(all[number - 1]))
                .collect()
        }
    };
    let shows_something = lines
        .iter()
        .any(|number| !all[number - 1].trim().is_empty());
    if !shows_something {
        return Err(match &include.selection {
            Selection::Anchor(anchor) => IncludeError::EmptyAnchor {
                line,
                path,
                anchor: anchor.clone(),
            },
            selection => IncludeError::EmptyLines {
                line,
                path,
                selection: selection.clone(),
            },
        });
    }
    Ok(Shown { file, lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_form_of_include_and_skips_escaped_ones() {
        let chapter = "text\n```rust\n{{#include ../a.rs:relay}}\n```\n\\{{#include not/a/link.rs}}\n{{#rustdoc_include b.rs}} and {{#include c.rs:3:5}}\n{{#title Not an include}}";
        let found = find(chapter);
        let summary: Vec<_> = found
            .iter()
            .map(|include| {
                (
                    include.path.as_str(),
                    include.selection.clone(),
                    include.line,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("../a.rs", Selection::Anchor("relay".into()), 3),
                ("b.rs", Selection::Whole, 6),
                ("c.rs", Selection::Lines(Some(3), Some(5)), 6),
            ]
        );
    }

    /// A temporary folder holding `code.rs` with `text` (removed on drop).
    fn folder_with(text: &str) -> tempfile::TempDir {
        let folder = tempfile::Builder::new()
            .prefix("book-check")
            .tempdir()
            .unwrap();
        std::fs::write(folder.path().join("code.rs"), text).unwrap();
        folder
    }

    fn include(argument: &str) -> Include {
        find(&format!("{{{{#include {argument}}}}}")).remove(0)
    }

    #[test]
    fn a_missing_file_or_anchor_is_an_error_not_a_warning() {
        let folder = folder_with("// ANCHOR: here\nfn here() {}\n// ANCHOR_END: here\n");
        assert_eq!(
            resolve(&include("nowhere.rs"), folder.path()),
            Err(IncludeError::MissingFile {
                line: 1,
                path: "nowhere.rs".into()
            })
        );
        assert!(matches!(
            resolve(&include("code.rs:there"), folder.path()),
            Err(IncludeError::MissingAnchor { .. })
        ));
        assert_eq!(
            resolve(&include("code.rs:here"), folder.path())
                .unwrap()
                .lines,
            [2]
        );
    }

    #[test]
    fn an_empty_anchor_and_a_whole_file_with_markers_are_errors() {
        let folder = folder_with("// ANCHOR: empty\n\n// ANCHOR_END: empty\nfn a() {}\n");
        assert!(matches!(
            resolve(&include("code.rs:empty"), folder.path()),
            Err(IncludeError::EmptyAnchor { .. })
        ));
        assert!(matches!(
            resolve(&include("code.rs"), folder.path()),
            Err(IncludeError::AnchorLinesShown { .. })
        ));
        assert!(matches!(
            resolve(&include("code.rs:40:50"), folder.path()),
            Err(IncludeError::EmptyLines { .. })
        ));
    }
}
