//! The book against the repository: every include resolves to real lines,
//! Part 1 shows every line each step adds, and every command a chapter
//! names exists. Run by `scripts/test.sh` (so by CI).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::CommandFactory;
use cursors_book::commands::{self, Context, World};
use cursors_book::{anchors, chapters, coverage, includes, layout, repository_root, tutorial_root};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repository_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Fails with every problem found, not just the first.
fn report(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_include_names_a_file_and_a_non_empty_anchor() {
    let mut problems = Vec::new();
    let mut count = 0;
    for chapter in chapters().unwrap() {
        let folder = chapter.parent().unwrap();
        for include in includes::find(&read(&chapter)) {
            count += 1;
            if let Err(error) = includes::resolve(&include, folder) {
                problems.push(format!("{}: {error}", relative(&chapter)));
            }
        }
    }
    report(problems);
    assert!(count > 50, "only {count} includes: is the book there?");
}

#[test]
fn every_chapter_in_the_summary_exists_and_every_chapter_is_in_it() {
    let source = tutorial_root().join("src");
    let summary = read(&source.join("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|link| !link.is_empty())
        .map(|link| source.join(link))
        .collect();
    let mut problems: Vec<String> = listed
        .iter()
        .filter(|path| !path.is_file())
        .map(|path| format!("SUMMARY.md lists {}, which does not exist", relative(path)))
        .collect();
    for chapter in chapters().unwrap() {
        if chapter.file_name().unwrap() != "SUMMARY.md" && !listed.contains(&chapter) {
            problems.push(format!("{} is not in SUMMARY.md", relative(&chapter)));
        }
    }
    report(problems);
}

/// The step folders, `steps/NN-name`, in order.
fn steps() -> Vec<PathBuf> {
    let mut steps: Vec<PathBuf> = std::fs::read_dir(tutorial_root().join("steps"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    steps.sort();
    steps
}

/// The files a learner writes in a step: everything but the lock file,
/// the tests (the repository's proof, not the learner's typing), the
/// console snippets (pasted, not saved) and build output.
fn learner_files(step: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![step.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["target", "dist", "tests"].contains(&name.as_str()) {
                    folders.push(path);
                }
            } else if !["Cargo.lock", "console.js"].contains(&name.as_str()) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The chapter of a step: `src/part1/NN-*.md` for `steps/NN-*`.
fn chapter_of(step: &Path) -> PathBuf {
    let number = &step.file_name().unwrap().to_string_lossy()[..2];
    let part1 = tutorial_root().join("src/part1");
    std::fs::read_dir(&part1)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(number)
        })
        .unwrap_or_else(|| panic!("no chapter in src/part1 for step {number}"))
}

#[test]
fn each_step_chapter_shows_every_line_its_step_adds() {
    let mut problems = Vec::new();
    let mut previous_step: Option<PathBuf> = None;
    for step in steps() {
        let chapter = chapter_of(&step);
        let mut shown: BTreeMap<PathBuf, BTreeSet<usize>> = BTreeMap::new();
        for include in includes::find(&read(&chapter)) {
            if let Ok(found) = includes::resolve(&include, chapter.parent().unwrap()) {
                let file = found.file.canonicalize().unwrap();
                shown.entry(file).or_default().extend(found.lines);
            }
        }
        for file in learner_files(&step) {
            let inside = file.strip_prefix(&step).unwrap();
            let before = previous_step
                .as_ref()
                .and_then(|previous| std::fs::read_to_string(previous.join(inside)).ok());
            let text = read(&file);
            let lines: Vec<&str> = text.lines().collect();
            let seen = shown.get(&file.canonicalize().unwrap());
            for number in coverage::added_lines(before.as_deref(), &text) {
                // A crate's version only says in which step it last changed
                // (see the next test): nothing a learner needs to type.
                let is_version =
                    inside.ends_with("Cargo.toml") && lines[number - 1].starts_with("version = ");
                if !is_version && !seen.is_some_and(|seen| seen.contains(&number)) {
                    problems.push(format!(
                        "{} does not show {}:{number}: {}",
                        relative(&chapter),
                        relative(&file),
                        lines[number - 1].trim()
                    ));
                }
            }
        }
        previous_step = Some(step);
    }
    report(problems);
}

/// A manifest's lines but its `version = ...` one.
fn without_version(manifest: &str) -> Vec<&str> {
    manifest
        .lines()
        .filter(|line| !line.starts_with("version = "))
        .collect()
}

/// The learner's check at the end of a step: every file the step creates or
/// changes is shown whole, inside a folded `<details>` block of its chapter
/// (included from the step's folder, so it cannot drift from the code).
#[test]
fn each_step_chapter_folds_the_whole_of_every_file_its_step_changed() {
    let mut problems = Vec::new();
    let mut previous_step: Option<PathBuf> = None;
    for step in steps() {
        let chapter = chapter_of(&step);
        let markdown = read(&chapter);
        let folded = layout::folded_lines(&markdown);
        let mut shown: BTreeMap<PathBuf, BTreeSet<usize>> = BTreeMap::new();
        for include in includes::find(&markdown) {
            if !folded.contains(&include.line) {
                continue;
            }
            if let Ok(found) = includes::resolve(&include, chapter.parent().unwrap()) {
                let file = found.file.canonicalize().unwrap();
                shown.entry(file).or_default().extend(found.lines);
            }
        }
        for file in learner_files(&step) {
            let inside = file.strip_prefix(&step).unwrap();
            let text = read(&file);
            let before = previous_step
                .as_ref()
                .and_then(|previous| std::fs::read_to_string(previous.join(inside)).ok());
            if before.as_deref() == Some(text.as_str()) {
                continue;
            }
            // A manifest whose only change is its crate's version (which
            // says in which step the crate last changed, see below) has
            // nothing for the learner to check: the chapter need not fold it.
            if inside.ends_with("Cargo.toml")
                && before
                    .as_deref()
                    .is_some_and(|before| without_version(before) == without_version(&text))
            {
                continue;
            }
            let seen = shown.get(&file.canonicalize().unwrap());
            let missing: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty() && !anchors::is_marker(line))
                .map(|(index, _)| index + 1)
                .filter(|number| !seen.is_some_and(|seen| seen.contains(number)))
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{}: no folded <details> block shows the whole of {} (lines {missing:?} missing)",
                    relative(&chapter),
                    relative(&file),
                ));
            }
        }
        previous_step = Some(step);
    }
    report(problems);
}

/// A table of measured figures says how it was measured and what its
/// columns mean (see `layout::figure_table_problems`).
#[test]
fn every_table_of_figures_names_its_command_and_its_columns() {
    let mut problems = Vec::new();
    for chapter in chapters().unwrap() {
        for problem in layout::figure_table_problems(&read(&chapter)) {
            problems.push(format!("{}: {problem}", relative(&chapter)));
        }
    }
    report(problems);
}

#[test]
fn every_anchor_in_a_step_file_is_closed() {
    let mut problems = Vec::new();
    for step in steps() {
        for file in learner_files(&step) {
            let text = read(&file);
            for name in anchors::names(&text) {
                if anchors::lines_of(&text, &name).is_none() {
                    problems.push(format!(
                        "{}: anchor `{name}` is never closed",
                        relative(&file)
                    ));
                }
            }
        }
    }
    report(problems);
}

/// Package names in a workspace: each member's `name = "..."`.
fn packages_of(workspace: &Path) -> BTreeSet<String> {
    let manifest = read(&workspace.join("Cargo.toml"));
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_default();
    members
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .filter_map(|member| {
            let text = read(&workspace.join(member).join("Cargo.toml"));
            text.lines()
                .find_map(|line| line.strip_prefix("name = "))
                .map(|name| name.trim_matches('"').to_owned())
        })
        .collect()
}

struct RealWorld;

impl World for RealWorld {
    fn help(&self, program: &str, args: &[&str]) -> Result<String, String> {
        // The pinned mdBook that scripts/book.sh installs, if it did.
        let local = repository_root().join(".tools/bin").join(program);
        let binary = if local.is_file() {
            local
        } else {
            PathBuf::from(program)
        };
        let output = Process::new(&binary)
            .args(args)
            .arg("--help")
            .output()
            .map_err(|error| {
                format!(
                    "cannot run {program} ({error}): run scripts/setup.sh and scripts/book.sh build"
                )
            })?;
        if !output.status.success() {
            return Err(format!("`{program} {} --help` fails", args.join(" ")));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn script(&self, path: &str) -> Option<String> {
        let file = repository_root().join(path);
        let executable = std::fs::metadata(&file).ok()?.permissions().mode() & 0o111 != 0;
        executable.then(|| read(&file))
    }

    fn binary_help(&self, package: &str) -> Result<String, String> {
        match package {
            "cursors-server" => Ok(cursors_server::Config::command()
                .render_long_help()
                .to_string()),
            other => Err(format!("`{other}` takes no arguments")),
        }
    }

    fn pinned_version(&self, tool: &str) -> Option<String> {
        let (script, variable) = match tool {
            "trunk" => ("scripts/lib.sh", "TRUNK_VERSION="),
            "mdbook" => ("scripts/book.sh", "MDBOOK_VERSION="),
            "binaryen" => ("scripts/lib.sh", "BINARYEN_VERSION="),
            _ => return None,
        };
        read(&repository_root().join(script))
            .lines()
            .find_map(|line| line.trim().strip_prefix(variable))
            .map(|version| version.trim_matches('"').to_owned())
    }
}

#[test]
fn every_command_the_book_names_exists() {
    let root_packages = packages_of(&repository_root());
    let step_packages: BTreeMap<PathBuf, BTreeSet<String>> = steps()
        .into_iter()
        .map(|step| (chapter_of(&step), packages_of(&step)))
        .collect();
    let mut problems = Vec::new();
    let mut count = 0;
    for chapter in chapters().unwrap() {
        let packages = step_packages.get(&chapter).unwrap_or(&root_packages);
        let context = Context { packages };
        for command in commands::find(&read(&chapter)) {
            count += 1;
            if let Err(error) = commands::check(&command, &context, &RealWorld) {
                problems.push(format!(
                    "{}:{}: `{}`: {error}",
                    relative(&chapter),
                    command.line,
                    command.words.join(" ")
                ));
            }
        }
    }
    report(problems);
    assert!(count > 20, "only {count} commands: is the book there?");
}

/// A folder's files: path inside it, and content.
type Files = BTreeMap<PathBuf, Vec<u8>>;

/// Every file under `folder`, relative to it (build output left out).
fn files_under(folder: &Path) -> Files {
    let mut found = BTreeMap::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(current) = folders.pop() {
        for entry in std::fs::read_dir(current).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["target", "dist"].contains(&name.as_str()) {
                    folders.push(path);
                }
            } else {
                let inside = path.strip_prefix(folder).unwrap().to_path_buf();
                found.insert(inside, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

/// The steps share one target dir, and cargo tells path crates apart by
/// name, version and path *within their workspace*: so two steps' `server`
/// crates of the same version are one crate to cargo, and if they differed,
/// one step would silently be built from the other's code. Hence each
/// crate's version says in which step it last changed; this holds every
/// step to it.
#[test]
fn crates_of_the_same_name_and_version_in_two_steps_are_the_same() {
    // (name, version) -> the first crate folder with them, and its files.
    let mut seen: BTreeMap<(String, String), (PathBuf, Files)> = BTreeMap::new();
    let mut problems = Vec::new();
    for step in steps() {
        for entry in std::fs::read_dir(&step).unwrap() {
            let crate_folder = entry.unwrap().path();
            let manifest = crate_folder.join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            let text = read(&manifest);
            let field = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(&format!("{name} = ")))
                    .map(|value| value.trim_matches('"').to_owned())
                    .unwrap_or_default()
            };
            let key = (field("name"), field("version"));
            let files = files_under(&crate_folder);
            match seen.get(&key) {
                Some((first, first_files)) => {
                    for (file, content) in &files {
                        if first_files.get(file).is_some_and(|other| other != content) {
                            problems.push(format!(
                                "{} and {} are both {} {} but their {} differ: bump the version of the later one",
                                relative(first),
                                relative(&crate_folder),
                                key.0,
                                key.1,
                                file.display()
                            ));
                        }
                    }
                }
                None => {
                    seen.insert(key, (crate_folder.clone(), files));
                }
            }
        }
    }
    report(problems);
}

/// mdBook renders a missing image as a broken one, silently.
#[test]
fn every_image_a_chapter_shows_exists() {
    let mut problems = Vec::new();
    for chapter in chapters().unwrap() {
        let text = read(&chapter);
        for link in text.split("![").skip(1) {
            let Some(target) = link
                .split_once("](")
                .and_then(|(_, rest)| rest.split(')').next())
            else {
                continue;
            };
            let image = chapter.parent().unwrap().join(target);
            if !image.is_file() {
                problems.push(format!(
                    "{} shows {target}, which does not exist",
                    relative(&chapter)
                ));
            }
        }
    }
    report(problems);
}
