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

# The embed (client/embed) for other sites' pages: built after Trunk, which
# empties dist/ first. Its files are named after a hash of their content, so
# browsers keep them for good; dist/embed.js, the loader every host page
# names, is the one file that changes name inside, not outside.
say "building the embed (client/embed)"
(
  wasm_build_env
  cd "$ROOT"
  cargo build --locked --quiet -p cursors-embed --lib \
    --target wasm32-unknown-unknown --profile wasm-release
  built="${CARGO_TARGET_DIR:-$ROOT/target}/wasm32-unknown-unknown/wasm-release/cursors_embed.wasm"
  staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' EXIT
  wasm-bindgen --target web --no-typescript --out-name cursors-embed \
    --out-dir "$staging" "$built"
  wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$staging/cursors-embed_bg.wasm" -o "$staging/cursors-embed_bg.wasm"
  hash="$(cat "$staging/cursors-embed.js" "$staging/cursors-embed_bg.wasm" | sha256sum | cut -c1-16)"
  rm -rf "$ROOT/dist/embed"
  mkdir -p "$ROOT/dist/embed"
  cp "$staging/cursors-embed.js" "$ROOT/dist/embed/cursors-embed-$hash.js"
  cp "$staging/cursors-embed_bg.wasm" "$ROOT/dist/embed/cursors-embed-${hash}_bg.wasm"
  sed -e "s|__EMBED_MODULE__|embed/cursors-embed-$hash.js|" \
    -e "s|__EMBED_WASM__|embed/cursors-embed-${hash}_bg.wasm|" -e "/ANCHOR/d" \
    "$ROOT/assets/embed.js" >"$ROOT/dist/embed.js"
)
say "precompressing the assets (brotli, gzip)"
command -v brotli >/dev/null || die "brotli is missing: run scripts/setup.sh"
for asset in "$ROOT"/dist/*.wasm "$ROOT"/dist/*.js "$ROOT"/dist/*.css "$ROOT"/dist/*.svg \
  "$ROOT"/dist/embed/*.wasm "$ROOT"/dist/embed/*.js; do
  [ -f "$asset" ] || continue
  brotli --force --best --keep "$asset"
  gzip --force --best --keep "$asset"
done
