//! The room's files depend on each other one way only: from the hub down
//! to the rules. This reads the `use` lines of `server/src/room/` (outside
//! the test modules) and fails if any file imports one that, directly or
//! not, imports it back, naming the circle.
//!
//! A module is a file: `room/task.rs` is `task`, `room/redis/link.rs` is
//! `redis/link`, `room/redis/mod.rs` is `redis`, and `room/mod.rs` is the
//! root, whose re-exports are imports too. `use super::x` and
//! `use crate::room::x` name module `x` if it exists, else the parent's
//! own items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_room_modules_import_each_other_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/room");
    let graph = import_graph(&root);
    assert!(
        graph.contains_key("redis/link") && graph.contains_key("task"),
        "the room's files were found: {:?}",
        graph.keys().collect::<Vec<_>>()
    );
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "an import circle in server/src/room: {}",
            circle.join(" → ")
        );
    }
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    // The checker itself must be able to fail: the layout this test
    // replaced had backplane → redis → task → hub → backplane.
    let mut graph = Graph::new();
    for (from, to) in [
        ("backplane", "redis"),
        ("redis", "task"),
        ("task", "hub"),
        ("hub", "backplane"),
        ("hub", "state"),
    ] {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    let circle = find_circle(&graph).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 5, "{circle:?}");
    graph.get_mut("hub").expect("hub").remove("backplane");
    assert_eq!(find_circle(&graph), None);
}

#[test]
fn braced_and_nested_imports_name_each_module_they_reach() {
    assert_eq!(
        expand("super::{state::Input, hub::{self, RoomHub as Hub}};"),
        vec!["super::state::Input", "super::hub", "super::hub::RoomHub"]
    );
    let root = Path::new("/room");
    let modules: BTreeSet<String> = ["", "task", "state", "hub", "redis", "redis/link"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let task = root.join("task.rs");
    let resolved = |path: &str, module: &str, file: &Path| {
        expand(path)
            .iter()
            .filter_map(|path| resolve(module, path, file, &modules))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        resolved("super::{state::Input, hub::RoomHub};", "task", &task),
        vec!["state", "hub"]
    );
    assert_eq!(
        resolved("crate::room::{hub::RoomHub};", "task", &task),
        vec!["hub"]
    );
    // A parent's own items name the parent; a mod.rs names its children
    // without `self::`.
    let link = root.join("redis/link.rs");
    assert_eq!(
        resolved("super::{Group, link::X}", "redis/link", &link),
        vec!["redis", "redis/link"]
    );
    let redis = root.join("redis/mod.rs");
    assert_eq!(
        resolved("link::RedisRoomLink", "redis", &redis),
        vec!["redis/link"]
    );
    assert_eq!(
        resolved("std::sync::Arc", "redis", &redis),
        Vec::<String>::new()
    );
}

/// Module name → the modules its `use` lines name.
fn import_graph(root: &Path) -> Graph {
    let files = rust_files(root);
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(root, file)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let module = module_of(root, file);
        let text = std::fs::read_to_string(file).expect("readable source");
        // The test modules may import what they like.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let imports = graph.entry(module.clone()).or_default();
        for path in use_statements(code)
            .iter()
            .flat_map(|statement| expand(statement))
        {
            if let Some(target) = resolve(&module, &path, file, &modules)
                && target != module
            {
                imports.insert(target);
            }
        }
    }
    graph
}

fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("room folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// `task.rs` → `task`, `redis/mod.rs` → `redis`, `mod.rs` → `` (the root).
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under the root");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("/")
}

/// Every `use …;` and `pub use …;` statement's path, joined on one line.
fn use_statements(code: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in code.lines() {
        let line = line.trim();
        if current.is_none() {
            let rest = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
                .or_else(|| line.strip_prefix("use "));
            current = rest.map(str::to_owned);
        } else if let Some(statement) = current.as_mut() {
            statement.push_str(line);
        }
        if current
            .as_ref()
            .is_some_and(|statement| statement.ends_with(';'))
        {
            statements.extend(current.take());
        }
    }
    statements
}

/// One path per item of a `use` tree: `a::{b::C, d::{self, E}}` is
/// `a::b::C`, `a::d` and `a::d::E`. Renames (`as`) are dropped.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default().trim();
        return vec![path.to_owned()];
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let close = tree.rfind('}').unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .flat_map(|item| {
            if item == "self" {
                vec![prefix.to_owned()]
            } else {
                expand(&format!("{prefix}::{item}"))
            }
        })
        .collect()
}

/// The module of the room a `use` path names, if any: the longest prefix
/// of it that is a module. A path into a parent's own items names the
/// parent.
fn resolve(module: &str, path: &str, file: &Path, modules: &BTreeSet<String>) -> Option<String> {
    let path = path.trim_end_matches(';');
    let segments: Vec<&str> = path.split("::").map(str::trim).collect();
    // Where the path starts, as a module of the room.
    let is_mod_file = file.file_name().is_some_and(|name| name == "mod.rs");
    let mut base: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split('/').map(str::to_owned).collect()
    };
    let rest: &[&str] = match segments.first().copied() {
        Some("crate") if segments.get(1) == Some(&"room") => {
            base.clear();
            &segments[2..]
        }
        Some("super") => {
            // `super` is the module above this one (for `redis/mod.rs`,
            // which is `redis`, that is the root); each more climbs one.
            let climbs = segments
                .iter()
                .take_while(|segment| **segment == "super")
                .count();
            for _ in 0..climbs {
                base.pop()?;
            }
            &segments[climbs..]
        }
        Some("self") => &segments[1..],
        // A child of a mod.rs, named without `self::` (`use group::Group`).
        Some(first) if is_mod_file || module.is_empty() => {
            let child = if base.is_empty() {
                first.to_owned()
            } else {
                format!("{}/{first}", base.join("/"))
            };
            if !modules.contains(&child) {
                return None;
            }
            &segments[..]
        }
        _ => return None,
    };
    let mut target = base.join("/");
    for segment in rest {
        let deeper = if target.is_empty() {
            (*segment).to_owned()
        } else {
            format!("{target}/{segment}")
        };
        if modules.contains(&deeper) {
            target = deeper;
        } else {
            break;
        }
    }
    Some(target)
}

/// A path of imports that comes back to where it started, if any.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|step| step == node)?;
                let mut circle = path[start..].to_vec();
                circle.push(node.to_owned());
                return Some(circle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Visiting);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, marks, path) {
                return Some(circle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(circle);
        }
    }
    None
}
