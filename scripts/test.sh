#!/usr/bin/env bash
# Runs every test: installs what is missing (Chromium and Redis included), builds the
# release client the browser tests load, then the whole workspace's tests:
# protocol, server integration, client logic, and end-to-end in Chromium;
# and the tutorial: its step programs (with their pages in Chromium, which
# retakes the book's screenshots), its build, and its checks (the
# cursors-book tests: includes, shown lines, commands).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh" --browser --redis
"$ROOT/scripts/build-client.sh"
"$ROOT/scripts/book.sh" build
"$ROOT/scripts/test-steps.sh"
"$ROOT/scripts/book-screenshots.sh"
cd "$ROOT"
say "running the tests"
cargo test --workspace --locked "$@"
