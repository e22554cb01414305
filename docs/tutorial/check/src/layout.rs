//! Two rules about how a chapter is laid out, beyond what it includes.
//!
//! - Folded blocks: a Part 1 step ends with the whole of each file it
//!   changed, inside `<details>` so it does not get in the way, for the
//!   learner to check their own file against. [`folded_lines`] says which
//!   lines of a chapter are inside such a block.
//! - Figure tables: a table of measured numbers is only worth reading with
//!   the command that produced it beside it, and with every column said in
//!   words. [`figure_table_problems`] finds the tables that lack either.
//!
//! Pure functions over a chapter's text, like the rest of this crate.

use std::collections::BTreeSet;

/// The 1-based numbers of the chapter's lines between a `<details>` and
/// its `</details>` (the tags' own lines excluded).
pub fn folded_lines(markdown: &str) -> BTreeSet<usize> {
    let mut inside = false;
    let mut folded = BTreeSet::new();
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("<details") {
            inside = true;
        } else if trimmed.starts_with("</details>") {
            inside = false;
        } else if inside {
            folded.insert(index + 1);
        }
    }
    folded
}

/// One Markdown table of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    /// 1-based line of its header row.
    line: usize,
    header: Vec<String>,
    /// Whether any cell below the header holds a digit: a table of
    /// figures, rather than of names.
    has_figures: bool,
}

fn cells(row: &str) -> Vec<String> {
    row.trim()
        .trim_matches('|')
        .split('|')
        .map(|cell| cell.trim().to_owned())
        .collect()
}

fn is_table_row(line: &str) -> bool {
    line.trim_start().starts_with('|')
}

/// The section of each line: the number of headings (`#` lines outside
/// code blocks) above it. Two lines with the same number are in the same
/// section.
fn sections(lines: &[&str]) -> Vec<usize> {
    let mut section = 0;
    let mut in_code = false;
    lines
        .iter()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("```") {
                in_code = !in_code;
            } else if !in_code && trimmed.starts_with('#') {
                section += 1;
            }
            section
        })
        .collect()
}

fn tables(lines: &[&str]) -> Vec<(Table, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let starts_table = is_table_row(lines[index])
            && lines
                .get(index + 1)
                .is_some_and(|next| is_table_row(next) && next.contains("---"));
        if !starts_table {
            index += 1;
            continue;
        }
        let start = index;
        index += 2;
        let mut has_figures = false;
        while index < lines.len() && is_table_row(lines[index]) {
            has_figures |= lines[index]
                .chars()
                .any(|character| character.is_ascii_digit());
            index += 1;
        }
        found.push((
            Table {
                line: start + 1,
                header: cells(lines[start]),
                has_figures,
            },
            start..index,
        ));
    }
    found
}

/// What is wrong with the chapter's tables of figures: each must have, in
/// its own section (between the headings around it), a shell block with
/// the command that measured it, and prose outside the table that names
/// every column of its header (saying what it means).
pub fn figure_table_problems(markdown: &str) -> Vec<String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let section_of = sections(&lines);
    let mut problems = Vec::new();
    // The lines (0-based) where a command of a shell block starts, found
    // as the command check finds them.
    let command_lines: Vec<usize> = crate::commands::find(markdown)
        .iter()
        .map(|command| command.line - 1)
        .collect();
    let found = tables(&lines);
    let table_lines: BTreeSet<usize> = found.iter().flat_map(|(_, rows)| rows.clone()).collect();
    for (table, rows) in &found {
        if !table.has_figures {
            continue;
        }
        let section = section_of[rows.start];
        let in_section = |index: usize| section_of[index] == section;
        if !command_lines.iter().any(|&index| in_section(index)) {
            problems.push(format!(
                "line {}: a table of figures with no command beside it (a shell block in its section saying how it was measured)",
                table.line
            ));
        }
        let prose: String = lines
            .iter()
            .enumerate()
            .filter(|(index, _)| in_section(*index) && !table_lines.contains(index))
            .map(|(_, line)| line.to_lowercase())
            .collect::<Vec<_>>()
            .join("\n");
        for column in &table.header {
            if !column.is_empty() && !prose.contains(&column.to_lowercase()) {
                problems.push(format!(
                    "line {}: column `{column}` of a table of figures is not said in words in its section",
                    table.line
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_are_those_between_the_tags() {
        let chapter = "a\n<details>\n<summary>x</summary>\n\nb\n</details>\nc\n";
        assert_eq!(folded_lines(chapter), BTreeSet::from([3, 4, 5]));
        assert!(folded_lines("no\nfold\n").is_empty());
    }

    const EXPLAINED: &str = "## Figures\n\nMeasured with:\n\n```sh\nONLY=single scripts/bench.sh\n```\n\n*users* is the room's size, *p99 ms* the latency most deliveries beat.\n\n| users | p99 ms |\n|---|---|\n| 10 | 2.4 |\n\n## Next\n";

    #[test]
    fn a_table_of_figures_with_its_command_and_columns_in_words_passes() {
        assert_eq!(figure_table_problems(EXPLAINED), Vec::<String>::new());
    }

    #[test]
    fn a_table_of_names_needs_neither() {
        let chapter = "## Names\n\n| name | what |\n|---|---|\n| room | a task |\n";
        assert_eq!(figure_table_problems(chapter), Vec::<String>::new());
    }

    #[test]
    fn a_table_of_figures_without_a_command_in_its_section_fails() {
        // The command is in another section: it does not count.
        let chapter = EXPLAINED
            .replace("## Figures\n", "## Setup\n")
            .replace("```\n\n*users*", "```\n\n## Figures\n\n*users*");
        let problems = figure_table_problems(&chapter);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("no command"), "{problems:?}");
        // A shell block holding only a comment names no command either.
        let commented = EXPLAINED.replace("ONLY=single scripts/bench.sh", "# later");
        assert_eq!(figure_table_problems(&commented).len(), 1);
    }

    #[test]
    fn a_column_the_prose_never_names_fails() {
        let chapter = EXPLAINED.replace("*p99 ms* the latency", "the other one the latency");
        let problems = figure_table_problems(&chapter);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`p99 ms`"), "{problems:?}");
    }
}
