#!/usr/bin/env bash
# Two builds of the server, side by side, under the same load: one big room
# at a time, the builds alternated run by run (old, new, old, new...) so that
# whatever else the machine does falls on both alike. Prints one Markdown
# table: p50 / p99 latency, the server's CPU per delivered position, its
# memory (RSS with everyone connected, and at its peak) and the load average
# when each run started. A benchmark, not a test: it asserts
# nothing. Loopback only; every run is bounded in time.
#
#   scripts/ab-rooms.sh OLD_TREE NEW_TREE
#   PASSES=3 SIZES="300 1000" DURATION=8 scripts/ab-rooms.sh ../old .
#   REDIS_USERS=0 scripts/ab-rooms.sh ...   skip the two-server rows
#
# Each tree is a checkout (a worktree) whose release server is built there
# if missing. One generator drives every run, NEW_TREE's, so that only the
# server differs. The generator runs on core 0 and the servers (and Redis)
# on core 1 (taskset), JSON frames, 16 observers, 60 Hz. The rows over two
# servers share one room of REDIS_USERS (200) through a Redis, next to the
# same room on one server alone; a tree whose server has no --redis-url
# (before the backplane) is left out of them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 2 ] || die "usage: scripts/ab-rooms.sh OLD_TREE NEW_TREE"
OLD_TREE="$(cd "$1" && pwd)"
NEW_TREE="$(cd "$2" && pwd)"
PASSES="${PASSES:-2}"
SIZES="${SIZES-300 500 1000}"
REDIS_USERS="${REDIS_USERS:-200}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-2}"
OBSERVERS="${OBSERVERS:-16}"

build() { # tree
  if [ ! -x "$1/target/release/cursors-server" ] || [ ! -x "$1/target/release/cursors-loadgen" ]; then
    say "building the release server and generator in $1"
    (cd "$1" && cargo build --release -q -p cursors-server -p cursors-loadgen)
  fi
}
build "$OLD_TREE"
build "$NEW_TREE"
LOADGEN="$NEW_TREE/target/release/cursors-loadgen"
command -v taskset >/dev/null || die "taskset (util-linux) is missing"
# Other work on the machine (builds) gets less than the runs, where allowed
# (as root), as in bench.sh.
priority=()
nice -n -10 true 2>/dev/null && priority=(nice -n -10)
ulimit -n "$(ulimit -Hn)"

run_dir="$NEW_TREE/target/ab-rooms"
mkdir -p "$run_dir"
stop_on_exit
server_pids=()
urls=()

# These are rooms where everybody sees everybody: a server that knows the
# crowd (issue 18) is told never to make one.
everybody_sees_everybody() { # tree
  if "$1/target/release/cursors-server" --help | grep -q -- --crowd-threshold; then
    echo "--crowd-threshold 100000"
  fi
}

add_server() { # tree, then extra server flags
  local tree="$1" log="$run_dir/server-${#server_pids[@]}.log" url
  shift
  # shellcheck disable=SC2046 # one flag and its value, or nothing
  set -- $(everybody_sees_everybody "$tree") "$@"
  RUST_LOG="warn,cursors_server=info,cursors_server::ws=warn,cursors_server::room=warn" \
    "${priority[@]}" taskset -c 1 "$tree/target/release/cursors-server" \
    --addr 127.0.0.1:0 --static-dir /nonexistent \
    --max-connections 20000 --max-connections-per-ip 20000 "$@" >"$log" 2>&1 &
  server_pids+=($!)
  track $!
  url=$(listening_url "$log") || die "the server of $tree did not start: $(cat "$log")"
  urls+=("$url")
}

stop_servers() {
  [ ${#server_pids[@]} -eq 0 ] || stop_processes "${server_pids[@]}"
  server_pids=()
  urls=()
}

REDIS_PORT=""
has_redis() { "$1/target/release/cursors-server" --help | grep -q -- --redis-url; }

# One run: prints "p50 | p99 | ns per delivered | RSS | valid" from the generator's row.
measure() { # users
  local url_list pid_list row
  url_list=$(IFS=,; echo "${urls[*]}")
  pid_list=$(IFS=,; echo "${server_pids[*]}")
  # Connecting a thousand users, warm-up and the window, with room to spare.
  row=$(timeout $((DURATION + WARMUP + 60)) "${priority[@]}" taskset -c 0 "$LOADGEN" \
    --url "$url_list" --server-pid "$pid_list" --users "$1" --rooms 1 --rate 60 \
    --observers-per-room "$OBSERVERS" --duration "$DURATION" --warmup "$WARMUP" | tail -n 1) \
    || { echo "- | - | - | - | generator failed"; return; }
  # Columns of the generator's table (docs/BENCHMARKS.md): p50 12, p99 13,
  # µs per delivered 18, RSS 19, valid 25 (awk counts the empty field before
  # the first |).
  echo "$row" | awk -F'|' '{
    ns = ($19 ~ /[0-9]/) ? sprintf("%.1f", $19 * 1000) : "-";
    gsub(/ /, "", $13); gsub(/ /, "", $14); gsub(/ /, "", $20); gsub(/^ +| +$/, "", $26);
    printf "%s | %s | %s | %s | %s\n", $13, $14, ns, $20, $26 }'
}

row() { # pass label tree servers users
  local pass="$1" label="$2" tree="$3" servers="$4" users="$5" load
  load=$(cut -d' ' -f1 /proc/loadavg)
  stop_servers
  if [ "$servers" = 1 ]; then
    add_server "$tree"
  else
    if [ -z "$REDIS_PORT" ]; then
      start_redis "$run_dir/redis"
      taskset -p -c 1 "$REDIS_PID" >/dev/null
    fi
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    for _ in $(seq "$servers"); do
      add_server "$tree" --redis-url "redis://127.0.0.1:$REDIS_PORT"
    done
    # Let each server see the other's heartbeat before users arrive.
    sleep 4
  fi
  echo "| $pass | $label | $users | $servers | $(measure "$users") | $load |"
  stop_servers
}

say "old: $OLD_TREE ($(git -C "$OLD_TREE" rev-parse --short HEAD 2>/dev/null || echo "?")), new: $NEW_TREE ($(git -C "$NEW_TREE" rev-parse --short HEAD 2>/dev/null || echo "?"))"
echo "| pass | build | users | servers | p50 ms | p99 ms | server CPU ns per delivered | server RSS MiB (connected→peak) | valid | load (1 min) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for pass in $(seq "$PASSES"); do
  for users in $SIZES; do
    row "$pass" old "$OLD_TREE" 1 "$users"
    row "$pass" new "$NEW_TREE" 1 "$users"
  done
  if [ "$REDIS_USERS" != 0 ]; then
    for label in old new; do
      tree="$OLD_TREE"
      [ "$label" = new ] && tree="$NEW_TREE"
      has_redis "$tree" || continue
      row "$pass" "$label" "$tree" 1 "$REDIS_USERS"
      row "$pass" "$label" "$tree" 2 "$REDIS_USERS"
    done
  fi
done
