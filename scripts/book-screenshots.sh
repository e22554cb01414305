#!/usr/bin/env bash
# Retakes the screenshot of every Part 1 step in the tutorial
# (docs/tutorial/src/assets/step-*.png): builds each step's server and page,
# then does what each chapter tells the reader to do, in headless Chromium,
# checking that the page shows what the chapter says. The book's steps
# listen on 127.0.0.1:3000 unless `PORT` names another port; here they get
# a free one (pages and servers alike), so a program that holds 3000 does
# not stop the run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh" --browser
export CARGO_TARGET_DIR="$ROOT/target"
# The steps' pages read `PORT` when they are built, their servers when they
# start: both from this one export.
PORT="$(free_port)"
export PORT
say "the steps' servers will listen on 127.0.0.1:$PORT"
servers="$ROOT/target/book-steps"
mkdir -p "$servers"
for step in "$ROOT"/docs/tutorial/steps/*/; do
  step="${step%/}"
  name="$(basename "$step")"
  say "tutorial step $name: building its server and page"
  cargo build -q --locked --manifest-path "$step/Cargo.toml" -p server
  # Every step's binary is target/debug/server: keep a copy per step.
  cp "$CARGO_TARGET_DIR/debug/server" "$servers/$name-server"
  if [ -d "$step/client" ]; then
    (wasm_build_env && cd "$step/client" && trunk build)
  fi
done
say "taking the screenshots"
cargo run -q --locked -p cursors-book --bin step-screenshots -- \
  --servers "$servers" --out "$ROOT/docs/tutorial/src/assets"
