#!/usr/bin/env bash
# Runs one fuzz target (fuzz/fuzz_targets/TARGET.rs; see docs/TESTING.md)
# for SECONDS (default 60) with cargo-fuzz on the nightly toolchain, then
# prints libFuzzer's closing stats. The run starts from a copy of the
# committed seeds (fuzz/corpus/TARGET) in target/fuzz-corpus/TARGET, which
# keeps what the run adds there and not in the repository; a crash is saved
# under fuzz/artifacts/TARGET/ and replayed by `cargo +nightly fuzz run -s
# none TARGET THAT_FILE` in fuzz/.
#
#   scripts/fuzz.sh [--quick] TARGET [SECONDS]
#
# The build is instrumented for coverage but without a sanitizer (-s none):
# the code is safe Rust, and without AddressSanitizer it builds and runs
# several times faster. It is optimised, which cargo-fuzz does with one
# codegen unit per crate: minutes to build on two cores, once. --quick
# (what scripts/test.sh's few seconds per target use) builds unoptimised
# instead: a third less to build, some twenty times fewer runs a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

build=()
if [ "${1:-}" = --quick ]; then
  build=(--dev)
  shift
fi
target="${1:-}"
seconds="${2:-60}"
[ -n "$target" ] || die "usage: $0 TARGET [SECONDS] (targets: $(ls fuzz/fuzz_targets | sed 's/\.rs$//' | tr '\n' ' '))"
[ -f "fuzz/fuzz_targets/$target.rs" ] || die "no fuzz target $target in fuzz/fuzz_targets/"
has_nightly || die "the fuzz targets need a nightly toolchain (rustup toolchain install nightly)"
cargo +nightly fuzz --version >/dev/null 2>&1 || die "cargo-fuzz is missing: run scripts/setup.sh --fuzz"

corpus="$ROOT/target/fuzz-corpus/$target"
mkdir -p "$corpus"
cp -n "$ROOT/fuzz/corpus/$target"/* "$corpus/"
say "fuzzing $target for ${seconds}s (corpus: $(ls "$corpus" | wc -l) files in ${corpus#"$ROOT/"})"
log="$corpus.log"
cd "$ROOT/fuzz"
status=0
cargo +nightly fuzz run "${build[@]}" -s none "$target" "$corpus" -- \
  -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
# libFuzzer's last status line (runs, cov, ft, corpus, exec/s) and its
# final stats; the whole log stays beside the corpus.
grep -aE '^#[0-9]+' "$log" | tail -1 || true
grep -aE '^stat::' "$log" || true
if [ "$status" != 0 ]; then
  tail -40 "$log" >&2
  die "$target failed (exit $status); log: ${log#"$ROOT/"}, crash under fuzz/artifacts/$target/"
fi
say "$target: no failure in ${seconds}s (corpus now $(ls "$corpus" | wc -l) files)"
