//! The commands a chapter tells the reader to run, and the rules that say
//! whether each one exists: the script is there, the subcommand and every
//! flag are ones the tool really has, the package is one the workspace has.

use std::collections::BTreeSet;

/// One command from a shell code block of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// 1-based line of the chapter.
    pub line: usize,
    /// `NAME` of each leading `NAME=value`.
    pub environment: Vec<String>,
    pub words: Vec<String>,
}

/// Every command in the chapter's `sh`/`bash`/`console` code blocks: one
/// per line (a trailing `\` continues it), split at `&&`. `# comments` and
/// a leading `$ ` prompt are left out.
pub fn find(markdown: &str) -> Vec<Command> {
    let mut found = Vec::new();
    let mut in_shell = false;
    let mut in_other = false;
    let mut pending: Option<(usize, String)> = None;
    for (index, text) in markdown.lines().enumerate() {
        let trimmed = text.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            if in_shell || in_other {
                in_shell = false;
                in_other = false;
            } else {
                let language = info.split([',', ' ']).next().unwrap_or_default();
                in_shell = matches!(language, "sh" | "bash" | "console" | "shell");
                in_other = !in_shell;
            }
            continue;
        }
        if !in_shell {
            continue;
        }
        let text = trimmed.strip_prefix("$ ").unwrap_or(trimmed);
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        joined.push_str(text);
        if let Some(continued) = joined.strip_suffix('\\') {
            pending = Some((start, format!("{continued} ")));
            continue;
        }
        let code = joined.split(" #").next().unwrap_or_default();
        if code.trim_start().starts_with('#') {
            continue;
        }
        for part in code.split("&&") {
            let mut words: Vec<String> = part.split_whitespace().map(unquote).collect();
            let mut environment = Vec::new();
            while let Some(name) = words.first().and_then(|word| assignment(word)) {
                environment.push(name);
                words.remove(0);
            }
            if !words.is_empty() {
                found.push(Command {
                    line: start,
                    environment,
                    words,
                });
            }
        }
    }
    found
}

fn unquote(word: &str) -> String {
    word.trim_matches(|character| character == '"' || character == '\'')
        .to_owned()
}

fn assignment(word: &str) -> Option<String> {
    let (name, _) = word.split_once('=')?;
    let valid = !name.is_empty()
        && name.chars().all(|character| {
            character.is_ascii_uppercase() || character == '_' || character.is_ascii_digit()
        });
    valid.then(|| name.to_owned())
}

/// What the rules need to know about the world: each tool's own help text
/// and the repository's scripts.
pub trait World {
    /// The output of `program args... --help`, or why there is none.
    fn help(&self, program: &str, args: &[&str]) -> Result<String, String>;
    /// The text of the script at `path` (relative to the repository root),
    /// when it exists and is executable.
    fn script(&self, path: &str) -> Option<String>;
    /// The `--help` of the binary a `cargo run -p package` would start.
    fn binary_help(&self, package: &str) -> Result<String, String>;
    /// The version a pinned tool is installed at by the scripts, if pinned.
    fn pinned_version(&self, tool: &str) -> Option<String>;
}

/// Where a chapter's commands are run: the packages `-p` may name.
pub struct Context<'a> {
    pub packages: &'a BTreeSet<String>,
}

/// Checks one command; the error says what does not exist.
pub fn check(command: &Command, context: &Context, world: &dyn World) -> Result<(), String> {
    let words: Vec<&str> = command.words.iter().map(String::as_str).collect();
    let (program, args) = words.split_first().expect("commands have a word");
    match *program {
        // Shell built-ins and coreutils: always there.
        "cd" | "mkdir" | "ls" | "cat" | "kill" => Ok(()),
        // The two variables a learner sets: the port, and the PATH to a
        // tool folder the book installs into.
        "export" => match args {
            [assignment] if assignment.starts_with("PORT=") => Ok(()),
            [assignment] if assignment.starts_with("PATH=") && assignment.ends_with(":$PATH") => {
                Ok(())
            }
            _ => Err(format!("unexpected export: export {}", args.join(" "))),
        },
        // binaryen from npm, for a release build's wasm-opt offline: the
        // version the scripts install, and nothing else npm could do.
        "npm" => match args {
            ["install", "--prefix", _, package] => {
                let (name, version) = package.split_once('@').unwrap_or((package, ""));
                match world.pinned_version(name) {
                    Some(pinned) if pinned == version => Ok(()),
                    Some(pinned) => Err(format!(
                        "the book installs {name} {version}, the scripts {pinned}"
                    )),
                    None => Err(format!("npm package `{name}` is not one the scripts pin")),
                }
            }
            _ => Err(format!("unexpected npm command: npm {}", args.join(" "))),
        },
        "wasm-opt" => match args {
            ["--version"] => Ok(()),
            _ => Err(format!(
                "unexpected wasm-opt command: wasm-opt {}",
                args.join(" ")
            )),
        },
        program if program.starts_with("scripts/") => check_script(program, args, command, world),
        "cargo" => check_cargo(args, context, world),
        "trunk" | "mdbook" => {
            let subcommand = args.first().copied().unwrap_or_default();
            let help = world.help(program, &[subcommand])?;
            check_flags(&args[1..], &help, &format!("{program} {subcommand}"))
        }
        "rustup" => match args {
            ["target", "add", target] if *target == "wasm32-unknown-unknown" => Ok(()),
            _ => Err(format!(
                "unexpected rustup command: rustup {}",
                args.join(" ")
            )),
        },
        other => Err(format!(
            "`{other}` is not a command this book is checked for"
        )),
    }
}

/// Every `--flag` (or `-f`) in `args` appears in `help`.
fn check_flags(args: &[&str], help: &str, what: &str) -> Result<(), String> {
    for flag in args
        .iter()
        .filter(|arg| arg.starts_with('-') && **arg != "--")
    {
        let flag = flag.split('=').next().unwrap_or_default();
        let known = help
            .split(|character: char| !(character.is_alphanumeric() || character == '-'))
            .any(|word| word == flag);
        if !known {
            return Err(format!("{what} has no flag {flag}"));
        }
    }
    Ok(())
}

fn check_script(
    path: &str,
    args: &[&str],
    command: &Command,
    world: &dyn World,
) -> Result<(), String> {
    let text = world
        .script(path)
        .ok_or_else(|| format!("{path} does not exist or is not executable"))?;
    for name in &command.environment {
        if !text.contains(name.as_str()) {
            return Err(format!("{path} does not read {name}"));
        }
    }
    // A script that passes its arguments on to the server accepts the
    // server's flags too.
    let forwarded = if text.contains("cursors-server") && text.contains("\"$@\"") {
        world.binary_help("cursors-server")?
    } else {
        String::new()
    };
    for arg in args {
        let word = arg.split('=').next().unwrap_or_default();
        let is_value = !(word.starts_with('-') || word.chars().all(char::is_alphabetic));
        if is_value || text.contains(word) || forwarded.contains(word) {
            continue;
        }
        return Err(format!("{path} knows no `{word}`"));
    }
    Ok(())
}

fn check_cargo(args: &[&str], context: &Context, world: &dyn World) -> Result<(), String> {
    let subcommand = args.first().copied().unwrap_or_default();
    let (own, forwarded) = match args.iter().position(|arg| *arg == "--") {
        Some(split) => (&args[1..split], &args[split + 1..]),
        None => (&args[1..], &args[args.len()..]),
    };
    let help = world.help("cargo", &[subcommand])?;
    check_flags(own, &help, &format!("cargo {subcommand}"))?;
    let value_of = |flags: &[&str]| {
        own.windows(2)
            .find(|pair| flags.contains(&pair[0]))
            .map(|pair| pair[1])
    };
    let package = value_of(&["-p", "--package"]);
    if let Some(package) = package
        && !context.packages.contains(package)
    {
        return Err(format!(
            "no package `{package}` here (there are: {:?})",
            context.packages
        ));
    }
    if subcommand == "install" {
        let tool = own
            .iter()
            .copied()
            .filter(|arg| !arg.starts_with('-'))
            .find(|arg| Some(*arg) != value_of(&["--version"]))
            .unwrap_or_default();
        if let (Some(pinned), Some(version)) =
            (world.pinned_version(tool), value_of(&["--version"]))
            && pinned != version
        {
            return Err(format!(
                "the book installs {tool} {version}, the scripts {pinned}"
            ));
        }
    }
    if !forwarded.is_empty() {
        let package = package.ok_or("arguments after `--` need a `-p package`")?;
        let help = world.binary_help(package)?;
        check_flags(forwarded, &help, package)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_come_from_shell_blocks_only() {
        let chapter = "```sh\n$ cd step && cargo run -p server\n# a comment\nDURATION=5 scripts/bench.sh\ncargo run -p cursors-server -- \\\n  --addr 127.0.0.1:0\n```\n```rust\ncargo not_a_command\n```\n`cargo inline` is not run\n";
        let found = find(chapter);
        let words: Vec<String> = found
            .iter()
            .map(|command| command.words.join(" "))
            .collect();
        assert_eq!(
            words,
            [
                "cd step",
                "cargo run -p server",
                "scripts/bench.sh",
                "cargo run -p cursors-server -- --addr 127.0.0.1:0"
            ]
        );
        assert_eq!(found[2].environment, ["DURATION"]);
        assert_eq!(found[3].line, 5);
    }

    struct Fake;

    impl World for Fake {
        fn help(&self, program: &str, args: &[&str]) -> Result<String, String> {
            match (program, args) {
                ("cargo", ["run"]) => Ok("  -p, --package <SPEC>\n  --release\n".into()),
                ("cargo", ["install"]) => Ok("  --locked\n  --version <VERSION>\n".into()),
                ("trunk", ["serve"]) => Ok("  --open\n  --port <PORT>\n".into()),
                _ => Err(format!("{program} has no {args:?}")),
            }
        }
        fn script(&self, path: &str) -> Option<String> {
            (path == "scripts/book.sh")
                .then(|| "case \"${1:-serve}\" in\n  build) ;;\nesac\n".into())
        }
        fn binary_help(&self, package: &str) -> Result<String, String> {
            (package == "cursors-server")
                .then(|| "  --addr <ADDR>\n".into())
                .ok_or_else(|| format!("{package} has no flags"))
        }
        fn pinned_version(&self, tool: &str) -> Option<String> {
            match tool {
                "trunk" => Some("0.21.14".into()),
                "binaryen" => Some("132".into()),
                _ => None,
            }
        }
    }

    fn verdict(line: &str) -> Result<(), String> {
        let packages: BTreeSet<String> = ["server".into(), "cursors-server".into()].into();
        let command = find(&format!("```sh\n{line}\n```\n")).remove(0);
        check(
            &command,
            &Context {
                packages: &packages,
            },
            &Fake,
        )
    }

    #[test]
    fn real_commands_pass() {
        for line in [
            "cargo run -p server",
            "cargo run --release -p cursors-server -- --addr 127.0.0.1:3000",
            "cargo install --locked trunk --version 0.21.14",
            "trunk serve --open",
            "scripts/book.sh build",
            "rustup target add wasm32-unknown-unknown",
            "kill -9 $(cat target/cluster/server-1.pid)",
            "npm install --prefix \"$HOME/.binaryen\" binaryen@132",
            "export PATH=\"$HOME/.binaryen/node_modules/.bin:$PATH\"",
            "wasm-opt --version",
        ] {
            assert_eq!(verdict(line), Ok(()), "{line}");
        }
    }

    #[test]
    fn made_up_flags_packages_scripts_and_versions_fail() {
        for line in [
            "cargo run -p client",
            "cargo run --fast -p server",
            "cargo run -p cursors-server -- --port 3000",
            "cargo run -p server -- --addr 127.0.0.1:3000",
            "cargo install --locked trunk --version 0.22.0",
            "trunk serve --watch-everything",
            "trunk deploy",
            "scripts/book.sh publish",
            "scripts/missing.sh",
            "npm start",
            "npm install --prefix tools binaryen@108",
            "npm install --prefix tools left-pad@1",
            "wasm-opt -O4 client.wasm",
            "export RUSTFLAGS=-Dwarnings",
            "export PATH=/opt/tools",
        ] {
            assert!(verdict(line).is_err(), "{line} should fail");
        }
    }
}
