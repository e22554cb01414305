#!/usr/bin/env bash
# The tutorial's Part 1 step programs (docs/tutorial/steps/NN-name): each is
# a small workspace of its own, as a learner's folder is. Runs each step's
# tests (real sockets against the step's server on 127.0.0.1:0) and builds
# each step's page for wasm32-unknown-unknown. The steps share the main
# target dir, so their dependencies build once.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export CARGO_TARGET_DIR="$ROOT/target"
for step in "$ROOT"/docs/tutorial/steps/*/; do
  step="${step%/}"
  name="$(basename "$step")"
  packages=(-p server)
  [ -d "$step/shared" ] && packages+=(-p shared)
  say "tutorial step $name: tests"
  cargo test --locked --manifest-path "$step/Cargo.toml" "${packages[@]}"
  if [ -d "$step/client" ]; then
    say "tutorial step $name: the page, for wasm32-unknown-unknown"
    (wasm_build_env && cargo build --locked --manifest-path "$step/Cargo.toml" \
      -p client --target wasm32-unknown-unknown)
  fi
done
