#!/usr/bin/env bash
# Runs every test: installs what is missing (Chromium and Redis included),
# checks the formatting and the lints, builds the release client the
# browser tests load, then the whole workspace's tests: protocol, server
# integration (several servers on a real Redis too), client logic, and
# end-to-end in Chromium; and the tutorial: its step programs (with their
# pages in Chromium, which retakes the book's screenshots), its build, and
# its checks (the cursors-book tests: includes, shown lines, commands);
# and, where a nightly toolchain is, each fuzz target for a few seconds
# (FUZZ_SECONDS, default 10; scripts/fuzz.sh runs one for longer).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# rustfmt and clippy ship with rustup's default profile; add them where a
# minimal toolchain left them out.
for component in rustfmt clippy; do
  command=${component/rustfmt/fmt}
  if ! cargo "$command" --version >/dev/null 2>&1; then
    say "adding the $component component"
    rustup component add "$component"
  fi
done
# Formatting first: it takes a second and needs nothing built.
say "checking formatting (cargo fmt --check)"
cargo fmt --all --check

"$ROOT/scripts/setup.sh" --browser --redis --fuzz
"$ROOT/scripts/build-client.sh"
say "checking lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
"$ROOT/scripts/book.sh" build
"$ROOT/scripts/test-steps.sh"
"$ROOT/scripts/book-screenshots.sh"
say "running the tests"
cargo test --workspace --locked "$@"

# The fuzz targets, briefly: their seeds and whatever libFuzzer finds near
# them in a few seconds. Skipped when arguments chose some tests only.
if [ $# -gt 0 ]; then
  say "a subset of the tests was asked for: fuzz targets skipped"
elif ! has_nightly; then
  say "no nightly toolchain: fuzz targets skipped"
else
  for target in $(ls "$ROOT/fuzz/fuzz_targets" | sed 's/\.rs$//'); do
    "$ROOT/scripts/fuzz.sh" --quick "$target" "${FUZZ_SECONDS:-10}"
  done
fi
