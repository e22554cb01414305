//! mdBook's anchors: `ANCHOR: name` and `ANCHOR_END: name` in a comment of
//! any language mark the lines an `{{#include file:name}}` shows.

/// The name after `marker` (`ANCHOR:` or `ANCHOR_END:`) on this line, if any.
fn name_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let name: &str = line[start..].trim_start();
    let end = name
        .find(|character: char| {
            !(character.is_alphanumeric() || character == '_' || character == '-')
        })
        .unwrap_or(name.len());
    (end > 0).then(|| &name[..end])
}

/// Whether a line is an anchor marker (mdBook drops those from what it shows).
pub fn is_marker(line: &str) -> bool {
    name_after(line, "ANCHOR:").is_some() || name_after(line, "ANCHOR_END:").is_some()
}

/// The 1-based numbers of the lines anchor `name` shows, as mdBook takes
/// them: from its `ANCHOR` to its `ANCHOR_END`, without any marker lines.
/// `None` when the anchor does not open and close.
pub fn lines_of(text: &str, name: &str) -> Option<Vec<usize>> {
    let mut inside = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if !inside {
            inside = name_after(line, "ANCHOR:") == Some(name);
        } else if name_after(line, "ANCHOR_END:") == Some(name) {
            return Some(lines);
        } else if !is_marker(line) {
            lines.push(index + 1);
        }
    }
    None
}

/// Every anchor name opened in `text`.
pub fn names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| name_after(line, "ANCHOR:"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_markers_are_left_out_and_unclosed_anchors_are_missing() {
        let text = "a\n// ANCHOR: outer\nb\n# ANCHOR: inner\nc\n# ANCHOR_END: inner\n// ANCHOR_END: outer\n<!-- ANCHOR: open -->\nd";
        assert_eq!(lines_of(text, "outer"), Some(vec![3, 5]));
        assert_eq!(lines_of(text, "inner"), Some(vec![5]));
        assert_eq!(lines_of(text, "open"), None);
        assert_eq!(lines_of(text, "out"), None, "names match whole");
        assert_eq!(names(text), ["outer", "inner", "open"]);
    }
}
