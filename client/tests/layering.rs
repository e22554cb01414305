//! The page's modules depend on each other one way only: from the
//! components down to the models they draw, never back. A model that
//! reached up into a view (the scene into the social layer's components,
//! the socket into the scene for a clock) made every file of the circle
//! build, test and move only with all the others.
//!
//! This reads the code of `client/src/` (outside the test modules and the
//! comments): every `use` statement, and every `crate::` path written in
//! the code itself, and fails if a module imports one that, directly or
//! not, imports it back, naming the circle. It is a smaller cousin of
//! `server/tests/layering.rs`, which checks the room's files the same way.
//!
//! A module is a file: `scene.rs` is `scene`, `connection/mod.rs` is
//! `connection`. `crate::x::y` names the longest of `x/y` and `x` that is
//! a module; `super::`, `self::` and a `mod.rs` naming its own child
//! resolve from the file's place. Paths into other crates (the core's
//! rules, `leptos`, `std`) name no module of the page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_page_modules_import_each_other_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&root);
    assert!(
        graph.contains_key("app")
            && graph.contains_key("scene")
            && graph.contains_key("connection"),
        "the page's files were found: {:?}",
        graph.keys().collect::<Vec<_>>()
    );
    assert!(
        graph["app"].contains("scene"),
        "the app's imports were read: {:?}",
        graph["app"]
    );
    if let Some(circle) = find_circle(&graph) {
        panic!("an import circle in client/src: {}", circle.join(" → "));
    }
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    // The checker itself must be able to fail: the layout this test
    // replaced had scene → social_view → app → crowd_view → scene.
    let mut graph = Graph::new();
    for (from, to) in [
        ("scene", "social_view"),
        ("social_view", "app"),
        ("app", "crowd_view"),
        ("crowd_view", "scene"),
        ("app", "scene"),
    ] {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    let circle = find_circle(&graph).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 5, "{circle:?}");
    graph.get_mut("scene").expect("scene").remove("social_view");
    assert_eq!(find_circle(&graph), None);
}

#[test]
fn uses_and_paths_in_the_code_name_the_modules_they_reach() {
    let root = Path::new("/src");
    let modules: BTreeSet<String> = [
        "",
        "app",
        "scene",
        "timing",
        "connection",
        "connection/link",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let imports = |module: &str, file: &str, code: &str| {
        imports_of(module, &root.join(file), code, &modules)
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        imports(
            "app",
            "app.rs",
            "use crate::{scene::{self, Scene}, timing::now_ms};\nuse std::rc::Rc;"
        ),
        vec!["scene", "timing"]
    );
    // A path in the code is an import too, even without a `use`.
    assert_eq!(
        imports("scene", "scene.rs", "let at = crate::timing::now_ms();"),
        vec!["timing"]
    );
    // A mod.rs names its children without `self::`; a child reaches its
    // parent with `super::`.
    assert_eq!(
        imports(
            "connection",
            "connection/mod.rs",
            "pub use link::Link;\nuse cursors_client_core::link::Command;"
        ),
        vec!["connection/link"]
    );
    assert_eq!(
        imports(
            "connection/link",
            "connection/link.rs",
            "use super::Handle;\nuse crate::app as page;"
        ),
        vec!["app", "connection"]
    );
    // Comments and tests are not imports.
    assert_eq!(
        imports(
            "timing",
            "timing.rs",
            "//! Read by [`crate::scene`].\n// crate::app\n#[cfg(test)]\nuse crate::app;"
        ),
        Vec::<String>::new()
    );
}

/// Module name → the modules its code names.
fn import_graph(root: &Path) -> Graph {
    let files = rust_files(root);
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(root, file)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let module = module_of(root, file);
        let text = std::fs::read_to_string(file).expect("readable source");
        let imports = imports_of(&module, file, &text, &modules);
        graph.entry(module).or_default().extend(imports);
    }
    graph
}

/// The modules that `text`, the source of `module` (in `file`), names.
fn imports_of(
    module: &str,
    file: &Path,
    text: &str,
    modules: &BTreeSet<String>,
) -> BTreeSet<String> {
    // The test modules may import what they like.
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    use_statements(&code)
        .iter()
        .flat_map(|statement| expand(statement))
        .chain(crate_paths(&code))
        .filter_map(|path| resolve(module, &path, file, modules))
        .filter(|target| target != module && !target.is_empty())
        .collect()
}

/// Every `.rs` file under `folder` but `main.rs`, the binary, whose
/// `crate` is another crate.
fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs")
            && path.file_name().is_some_and(|name| name != "main.rs")
        {
            files.push(path);
        }
    }
    files
}

/// `scene.rs` → `scene`, `connection/mod.rs` → `connection`, `lib.rs` → ``
/// (the root).
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under the root");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts.join("/")
}

/// Every `use …;` statement's tree, joined on one line (`pub` or not).
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

/// Every `crate::a::b` written in the code, `use` statements included (a
/// braced tree there names only `crate`, and [`expand`] reads it whole).
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(start) = rest.find("crate::") {
        let after = &rest[start..];
        let end = after
            .find(|character: char| !(character.is_alphanumeric() || "_:".contains(character)))
            .unwrap_or(after.len());
        paths.push(after[..end].trim_end_matches(':').to_owned());
        rest = &after[end..];
    }
    paths
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

/// The module of the page a path names, if any: the longest prefix of it
/// that is a module. A path into a parent's own items names the parent.
fn resolve(module: &str, path: &str, file: &Path, modules: &BTreeSet<String>) -> Option<String> {
    let segments: Vec<&str> = path.split("::").map(str::trim).collect();
    let is_mod_file = file
        .file_name()
        .is_some_and(|name| name == "mod.rs" || name == "lib.rs");
    let mut base: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split('/').map(str::to_owned).collect()
    };
    let rest: &[&str] = match segments.first().copied() {
        Some("crate") => {
            base.clear();
            &segments[1..]
        }
        Some("super") => {
            let climbs = segments
                .iter()
                .take_while(|segment| **segment == "super")
                .count();
            // `super` from a mod.rs climbs from its own module too.
            for _ in 0..climbs {
                base.pop()?;
            }
            &segments[climbs..]
        }
        Some("self") => &segments[1..],
        // A child of a mod.rs, named without `self::` (`use link::Link`).
        Some(first) if is_mod_file => {
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
