# Shared by the scripts in this folder: paths, logging, and the environment
# the wasm build needs. Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
TRUNK_VERSION="0.21.14"
BINARYEN_VERSION="132"
# axe-core, which the browser harness injects for the accessibility test.
AXE_CORE_VERSION="4.10.3"
# The fuzz targets' runner (fuzz/, scripts/fuzz.sh); built with stable.
CARGO_FUZZ_VERSION="0.13.2"

# Tools installed by setup.sh: cargo's bin dir and the local npm packages.
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

# Every line says how long the command has run, so a slow step shows
# itself: the clock starts with the first script (scripts call each other,
# and the ones they call keep counting from there).
: "${CURSORS_STARTED:=$(date +%s)}"
export CURSORS_STARTED
say() {
  local elapsed=$(($(date +%s) - CURSORS_STARTED))
  printf '\033[1m==> [%dm%02ds] %s\033[0m\n' $((elapsed / 60)) $((elapsed % 60)) "$*" >&2
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# `cargo install` for the tools we build from source (wasm-bindgen-cli,
# Trunk, mdBook). They are built to be run here, not shipped: without
# link-time optimisation, with parallel code generation and light
# optimisation, whatever their own release profile asks (Trunk's asks for
# fat LTO and one codegen unit, minutes on one core). They spend their time
# waiting for cargo, the disk and the browser, so nobody notices the
# difference when they run. Measured on this project's 2-core machine:
# Trunk as setup.sh installs it (this profile, no default features) took
# 450 s of CPU, against 543 s for a plain `cargo install trunk`.
install_tool() {
  CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install "$@"
}

# Whether rustup has a nightly toolchain, which the fuzz builds need
# (libFuzzer's coverage instrumentation and sanitizers are nightly flags).
has_nightly() {
  rustup toolchain list 2>/dev/null | grep -q '^nightly'
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

# --- Processes a script starts in the background (cluster.sh, bench.sh) ---
# Each is recorded with `track`; `stop_on_exit` installs the one trap that
# stops whatever is still running when the script ends, however it ends.

STARTED_PIDS=()

# Records background process PID, to be stopped at exit.
track() { STARTED_PIDS+=("$1"); }

# Stops the given processes (SIGTERM, then waits for each) and forgets them.
stop_processes() { # pid...
  local pid kept=() stopping=" $* "
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do
    [[ "$stopping" == *" $pid "* ]] || kept+=("$pid")
  done
  STARTED_PIDS=("${kept[@]}")
}

# The trap: everything still tracked is stopped on exit, Ctrl-C or SIGTERM.
stop_on_exit() {
  trap 'stop_processes "${STARTED_PIDS[@]}"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# A port of 127.0.0.1 that nothing listens on right now. Whoever binds it
# may still lose it to another process; start_redis retries when it does.
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  die "no free port found on 127.0.0.1"
}

# Waits until PORT accepts connections; fails early if process PID (when
# given) has exited. WHAT names it in the error.
wait_for_port() { # port what [pid]
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      die "$2 exited instead of listening on port $1"
    fi
    sleep 0.1
  done
  die "$2 did not listen on port $1"
}

# The ws:// address a cursors-server started with `--addr HOST:0` logged
# in LOG ("listening on http://HOST:PORT"), once it has: within 10 s, or
# fails. The benchmarks start their servers this way.
listening_url() { # log
  local url
  for _ in $(seq 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$1" | sed 's/listening on http/ws/') && [ -n "$url" ] && {
      echo "$url"
      return 0
    }
    sleep 0.1
  done
  return 1
}

# Starts a redis-server on 127.0.0.1 without persistence, in folder DIR
# (its working folder; the log is DIR/redis.log), on PORT or else a free
# port, tracked for stop_on_exit; returns once it answers PING. Sets
# REDIS_PORT and REDIS_PID.
start_redis() { # dir [port]
  local dir="$1" wanted="${2:-}" port
  { command -v redis-server && command -v redis-cli; } >/dev/null \
    || die "redis-server and redis-cli are missing: run scripts/setup.sh --redis"
  mkdir -p "$dir"
  for _ in $(seq 5); do
    port="${wanted:-$(free_port)}"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
      >"$dir/redis.log" 2>&1 &
    REDIS_PID=$!
    track "$REDIS_PID"
    for _ in $(seq 100); do
      # Ours, not a stranger that holds the port: Redis says its pid.
      if timeout 2 redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' \
        | grep -qx "process_id:$REDIS_PID"; then
        REDIS_PORT="$port"
        return
      fi
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_processes "$REDIS_PID"
    # A port asked for is not swapped for another; a free one taken in
    # the meantime is.
    [ -z "$wanted" ] || break
  done
  die "redis-server did not start (log: $dir/redis.log)"
}

# Starts a Redis Cluster of six redis-server nodes on 127.0.0.1 (three
# primaries, a replica each), each in DIR/node-PORT (its log there as
# redis.log, its pid as redis.pid), tracked for stop_on_exit; returns once
# every node says the cluster is ok. A cluster node also listens on its bus
# port, PORT + 10000, so both must be free. A short node timeout (2 s) so
# that a killed primary's replica takes over in seconds. Sets REDIS_PORTS
# (an array) and REDIS_CLUSTER_URL (the form --redis-url takes).
start_redis_cluster() { # dir
  local dir="$1" port node addresses=() found
  { command -v redis-server && command -v redis-cli; } >/dev/null \
    || die "redis-server and redis-cli are missing: run scripts/setup.sh --redis"
  REDIS_PORTS=()
  while [ "${#REDIS_PORTS[@]}" -lt 6 ]; do
    found=false
    for _ in $(seq 50); do
      port=$((20000 + RANDOM % 35000))
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
      (exec 3<>"/dev/tcp/127.0.0.1/$((port + 10000))") 2>/dev/null && continue
      [[ " ${REDIS_PORTS[*]} " == *" $port "* ]] && continue
      found=true
      break
    done
    $found || die "no free pair of ports (PORT, PORT+10000) found on 127.0.0.1"
    node="$dir/node-$port"
    mkdir -p "$node"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$node" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --cluster-replica-validity-factor 0 >"$node/redis.log" 2>&1 &
    track $!
    echo $! >"$node/redis.pid"
    if (wait_for_port "$port" "redis-server (cluster node)" $!) 2>/dev/null; then
      REDIS_PORTS+=("$port")
      addresses+=("127.0.0.1:$port")
    else
      say "port $port was taken meanwhile: trying another"
    fi
  done
  redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/create.log" 2>&1 || die "redis-cli --cluster create failed (log: $dir/create.log)"
  for _ in $(seq 300); do
    local ok=0
    for port in "${REDIS_PORTS[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok' \
        && ok=$((ok + 1))
    done
    if [ "$ok" -eq 6 ]; then
      REDIS_CLUSTER_URL="redis-cluster://127.0.0.1:${REDIS_PORTS[0]}"
      local separator="?"
      for port in "${REDIS_PORTS[@]:1}"; do
        REDIS_CLUSTER_URL+="${separator}node=127.0.0.1:$port"
        separator="&"
      done
      return
    fi
    sleep 0.1
  done
  die "the Redis Cluster did not become ok (logs under $dir)"
}
