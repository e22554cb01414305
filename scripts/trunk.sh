#!/usr/bin/env bash
# Runs trunk with whatever environment this machine's wasm build needs
# (nothing on the usual rustup route; Debian's compiler otherwise), e.g.
#   scripts/trunk.sh serve --open
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
wasm_build_env
cd "$ROOT"
exec trunk "$@"
