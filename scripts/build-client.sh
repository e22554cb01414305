#!/usr/bin/env bash
# Builds the client in release mode into dist/ (what the server serves at /),
# then writes a Brotli (.br) and a gzip (.gz) copy beside each asset, once,
# so the server never compresses them per request (server/src/static_files.rs).
# index.html stays uncompressed on disk: the server reads it to put the hash
# of its inline script in the Content-Security-Policy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
say "building the client (trunk build --release)"
"$ROOT/scripts/trunk.sh" build --release
say "precompressing the assets (brotli, gzip)"
command -v brotli >/dev/null || die "brotli is missing: run scripts/setup.sh"
for asset in "$ROOT"/dist/*.wasm "$ROOT"/dist/*.js "$ROOT"/dist/*.css "$ROOT"/dist/*.svg; do
  [ -f "$asset" ] || continue
  brotli --force --best --keep "$asset"
  gzip --force --best --keep "$asset"
done
