# Shared by the scripts in this folder: paths, logging, and the environment
# the wasm build needs. Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
TRUNK_VERSION="0.21.14"
BINARYEN_VERSION="132"

# Tools installed by setup.sh: cargo's bin dir and the local npm packages.
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

# Every line says how long the script has run, so a slow step shows itself
# (SECONDS counts from the start of the script that sourced this file).
say() { printf '\033[1m==> [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# `cargo install` for the tools we build from source (wasm-bindgen-cli,
# Trunk, mdBook). They are built to be run here, not shipped: without
# link-time optimisation and with parallel code generation, whatever their
# own release profile asks (Trunk's asks for fat LTO and one codegen unit,
# most of its build time on one core). They run no slower that a person
# would notice: they spend their time waiting for cargo and the browser.
install_tool() {
  CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "$@"
}

# The wasm-bindgen version the client is locked to; its CLI must match.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Which way this machine builds wasm32: "rustup" when the rustup toolchain
# has the wasm32 standard library, "debian" when Debian's rustc-web builds it
# from source (see ../shared/TOOLCHAIN.md), "none" otherwise.
wasm_route() {
  if [ "${CURSORS_WASM_ROUTE:-}" = "debian" ]; then
    [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] && echo debian || echo none
  elif rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo rustup
  elif [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; then
    echo debian
  else
    echo none
  fi
}

# Exports what cargo (run by trunk) needs for the wasm build on this route.
wasm_build_env() {
  case "$(wasm_route)" in
    rustup) ;;
    debian)
      # rustup's cargo drives Debian's rustc, which builds the wasm32 std
      # from source. Its own target dir: the two compilers fingerprint
      # differently and would rebuild each other's artifacts.
      export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
      export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
      export CARGO_TARGET_DIR="$ROOT/target/wasm-debian"
      ;;
    *) die "no way to build wasm32 here: run scripts/setup.sh first" ;;
  esac
}
