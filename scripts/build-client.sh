#!/usr/bin/env bash
# Builds the client in release mode into dist/ (what the server serves at /).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
say "building the client (trunk build --release)"
"$ROOT/scripts/trunk.sh" build --release
