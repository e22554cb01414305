//! Which lines of a step's file are new since the step before: the lines
//! a learner must be shown to type, since they have the rest already.

use crate::anchors;

/// The 1-based numbers of the lines of `current` that a line-by-line diff
/// from `previous` (`None`: the file is new) marks as added. Blank lines
/// and anchor markers never count: nobody needs to be shown those.
pub fn added_lines(previous: Option<&str>, current: &str) -> Vec<usize> {
    let counted = |line: &&str| !line.trim().is_empty() && !anchors::is_marker(line);
    let current_lines: Vec<(usize, &str)> = current
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| counted(line))
        .collect();
    let Some(previous) = previous else {
        return current_lines.iter().map(|(number, _)| *number).collect();
    };
    let previous_lines: Vec<&str> = previous.lines().filter(counted).collect();
    // Longest common subsequence, by dynamic programming: the files are a
    // few hundred lines at most.
    let (rows, columns) = (current_lines.len(), previous_lines.len());
    let mut common = vec![vec![0u32; columns + 1]; rows + 1];
    for row in (0..rows).rev() {
        for column in (0..columns).rev() {
            common[row][column] = if current_lines[row].1 == previous_lines[column] {
                common[row + 1][column + 1] + 1
            } else {
                common[row + 1][column].max(common[row][column + 1])
            };
        }
    }
    let (mut row, mut column) = (0, 0);
    let mut added = Vec::new();
    while row < rows {
        if column < columns && current_lines[row].1 == previous_lines[column] {
            row += 1;
            column += 1;
        } else if column < columns && common[row][column + 1] >= common[row + 1][column] {
            column += 1;
        } else {
            added.push(current_lines[row].0);
            row += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_all_new_except_blanks_and_markers() {
        assert_eq!(added_lines(None, "a\n\n// ANCHOR: x\nb\n"), [1, 4]);
    }

    #[test]
    fn only_inserted_and_changed_lines_are_added() {
        let previous = "use a;\nfn main() {\n    one();\n}\n";
        let current = "use a;\nuse b;\nfn main() {\n    one();\n    two();\n}\n";
        assert_eq!(added_lines(Some(previous), current), [2, 5]);
        let changed = "use a;\nfn main() {\n    uno();\n}\n";
        assert_eq!(added_lines(Some(previous), changed), [3]);
        assert_eq!(added_lines(Some(previous), previous), Vec::<usize>::new());
    }
}
