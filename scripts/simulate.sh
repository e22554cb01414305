#!/usr/bin/env bash
# A longer search of the room simulation than each test run's fixed 2,000
# seeds: new seeds for SECONDS (default 60), each failure printed with the
# command that replays it. FIRST_SEED repeats an earlier search.
#
#   scripts/simulate.sh [SECONDS] [FIRST_SEED]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
seconds="${1:-60}"
say "building the simulation (release)"
cargo build -q --release --locked -p cursors-simulation --bin simulate
exec "$ROOT/target/release/simulate" "$seconds" ${2:+"$2"}
