#!/usr/bin/env bash
# Runs every test: installs what is missing (Chromium and Redis included), builds the
# release client the browser tests load, then the whole workspace's tests:
# protocol, server integration, client logic, and end-to-end in Chromium.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh" --browser --redis
"$ROOT/scripts/build-client.sh"
cd "$ROOT"
say "running the tests"
cargo test --workspace --locked "$@"
