#!/usr/bin/env bash
# Installs whatever is missing to build the client and run the server, and
# what the tests and demos need on top. Idempotent: every step checks first
# and skips what is already there.
#
#   scripts/setup.sh            toolchain for building and running
#   scripts/setup.sh --browser  also chromium + chromedriver for the tests
#   scripts/setup.sh --redis    also redis-server (tests of several servers)
#   scripts/setup.sh --haproxy  also HAProxy (scripts/cluster.sh)
#   scripts/setup.sh --fuzz     also cargo-fuzz, where a nightly toolchain is
#                               (the fuzz targets need one; see docs/TESTING.md)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

want_browser=false
want_redis=false
want_haproxy=false
want_fuzz=false
for flag in "$@"; do
  case "$flag" in
    --browser) want_browser=true ;;
    --redis) want_redis=true ;;
    --haproxy) want_haproxy=true ;;
    --fuzz) want_fuzz=true ;;
    *) die "unknown flag $flag (see the top of $0)" ;;
  esac
done

apt_updated=false
apt_install() {
  command -v apt-get >/dev/null || die "need $* but apt-get is not available; install them by hand"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! $apt_updated; then
    $sudo apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null && command -v rustup >/dev/null \
  || die "rustup and cargo are required (https://rustup.rs)"

# 1. A compiler that can target wasm32. The usual route first (unless
#    CURSORS_WASM_ROUTE=debian asks for the fallback)...
if [ "$(wasm_route)" = none ]; then
  if [ "${CURSORS_WASM_ROUTE:-}" != debian ] \
    && say "adding the wasm32-unknown-unknown target" \
    && timeout 300 rustup target add wasm32-unknown-unknown; then
    :
  else
    # ...and where rustup cannot download, Debian's rustc-web with the std
    # source (built by cargo's build-std) and lld-22 for rust-lld.
    say "installing Debian's rustc-web to build wasm32 (rustup route unavailable)"
    apt_install rustc-web cargo-web rust-web-src lld-22
  fi
  [ "$(wasm_route)" != none ] || die "could not set up a wasm32 compiler"
fi
say "wasm32 builds via: $(wasm_route)"

# 2. wasm-bindgen CLI, exactly the version in Cargo.lock (trunk would try to
#    download it otherwise, which fails on machines without internet).
bindgen_version="$(wasm_bindgen_version)"
[ -n "$bindgen_version" ] || die "no wasm-bindgen in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version"
  # --locked fails for some versions (a locked dependency was yanked).
  install_tool wasm-bindgen-cli --version "$bindgen_version" --locked \
    || install_tool wasm-bindgen-cli --version "$bindgen_version"
fi

# 3. Trunk (0.22 needs a newer rustc than this machine's), without its
#    default features: "update_check" asks crates.io for news at every start,
#    and "rustls" is only for serving over https or downloading tools, which
#    we install ourselves. Without them Trunk builds in noticeably less time.
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION"
  install_tool trunk --version "$TRUNK_VERSION" --locked --no-default-features
fi

# 4. wasm-opt from npm's binaryen (Debian's is too old for today's wasm).
if ! wasm-opt --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  say "installing binaryen $BINARYEN_VERSION (wasm-opt) into .tools/"
  command -v npm >/dev/null || apt_install nodejs npm
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
fi

# 4b. axe-core for the browser tests: e2e/src/lib.rs reads
#     .tools/node_modules/axe-core/axe.min.js and injects it into the page.
if $want_browser && ! grep -qs "\"version\": \"$AXE_CORE_VERSION\"" "$TOOLS/node_modules/axe-core/package.json"; then
  say "installing axe-core $AXE_CORE_VERSION into .tools/"
  command -v npm >/dev/null || apt_install nodejs npm
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "axe-core@$AXE_CORE_VERSION"
fi

# 4c. Brotli, which scripts/build-client.sh uses to precompress the
#     client's assets once at build time (the server sends the .br files
#     instead of compressing per request).
if ! command -v brotli >/dev/null; then
  say "installing brotli"
  apt_install brotli
fi

# 5. For the browser tests: Chromium and a matching ChromeDriver.
if $want_browser && ! { command -v chromium && command -v chromedriver; } >/dev/null; then
  say "installing chromium and chromedriver"
  apt_install chromium chromium-driver
fi

# 5b. A colour emoji font, so the reactions show (and the README's
#     screenshot shows them) instead of empty boxes in headless Chromium.
if $want_browser && ! fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; then
  say "installing the Noto colour emoji font"
  apt_install fonts-noto-color-emoji
fi

# 6. Redis (Debian's, with redis-cli) for sharing rooms between servers.
if $want_redis && ! { command -v redis-server && command -v redis-cli; } >/dev/null; then
  say "installing redis-server"
  apt_install redis-server redis-tools
  # Debian starts a system-wide Redis on 6379; the tests and the demo run
  # their own, so leave that one off.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    systemctl stop redis-server || true
  fi
fi

# 7. HAProxy, the load balancer in front of scripts/cluster.sh's servers.
if $want_haproxy && ! command -v haproxy >/dev/null; then
  say "installing haproxy"
  apt_install haproxy
fi

# 8. cargo-fuzz, for the fuzz targets in fuzz/. They build with nightly's
#    sanitizer flags; without a nightly toolchain there is nothing to run
#    them with, so nothing is installed (scripts/test.sh says it skips them).
if $want_fuzz; then
  if ! has_nightly; then
    say "no nightly toolchain: cargo-fuzz not installed"
  elif [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    install_tool cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
fi

say "setup complete"
