#!/usr/bin/env bash
# The load benchmark: every scenario against a release server, in both
# fan-out modes side by side, printed as Markdown tables, the relay's then
# the crowd's (also saved to target/bench/results.md). A benchmark, not a
# test: it measures, prints and asserts nothing. Loopback only; every run
# is bounded in time.
#
#   scripts/bench.sh            all scenarios (about 12 minutes, 3 to 4 more for the crowd)
#   DURATION=5 scripts/bench.sh shorter runs
#   ONLY=cluster scripts/bench.sh   only the several-servers scenarios
#   ONLY=redis-cluster scripts/bench.sh   two servers on one Redis, then on a Redis Cluster
#   ONLY=single scripts/bench.sh    only the one-server scenarios
#   ONLY=crowd scripts/bench.sh     only the crowd (rooms of 1,000 to 10,000)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DURATION="${DURATION:-10}"
STALL_SECONDS="${STALL_SECONDS:-30}"
say "building the server and the load generator (release)"
cargo build --release -q -p cursors-server -p cursors-loadgen
# 10,000 idle connections need that many descriptors in both processes.
ulimit -n "$(ulimit -Hn)"
mkdir -p target/bench
results=target/bench/results.md
server_log=target/bench/server.log

server_pids=()
urls=()
stop_on_exit
stop_server() {
  stop_processes "${server_pids[@]}"
  server_pids=()
  urls=()
}

add_server() { # fanout mode, then extra server flags
  local fanout="$1" log="${server_log%.log}-${#server_pids[@]}.log"
  shift
  # Only warnings, plus the "listening on" line: logging every connection
  # would be part of what gets measured.
  RUST_LOG="warn,cursors_server=info,cursors_server::ws=warn,cursors_server::room=warn" \
    target/release/cursors-server \
    --addr 127.0.0.1:0 --fanout "$fanout" --static-dir /nonexistent \
    --max-connections 20000 --max-connections-per-ip 20000 "$@" >"$log" 2>&1 &
  server_pids+=($!)
  track $!
  url=$(listening_url "$log") || die "the server did not start: $(cat "$log")"
  urls+=("$url")
}

start_server() { # fanout mode, then extra server flags: one fresh server alone
  stop_server
  add_server "$@"
}

# The relay rows measure rooms where everybody sees everybody, against
# N(N−1)·Hz: above the server's crowd threshold (50 by default) a room
# would show each member only some of the others, so those rows lift it.
EVERYBODY_SEES_EVERYBODY=(--crowd-threshold 100000)

REDIS_PORT=""
start_servers_sharing_redis() { # count
  stop_server
  if [ -z "$REDIS_PORT" ]; then # one Redis for the whole run
    "$ROOT/scripts/setup.sh" --redis
    start_redis target/bench/redis
  fi
  for _ in $(seq "$1"); do
    add_server coalesced --redis-url "redis://127.0.0.1:$REDIS_PORT" "${EVERYBODY_SEES_EVERYBODY[@]}"
  done
  # Let every server see the others' heartbeats before users arrive.
  sleep 4
}

REDIS_CLUSTER_URL=""
start_servers_sharing_redis_cluster() { # count
  stop_server
  if [ -z "$REDIS_CLUSTER_URL" ]; then # one cluster for the whole run
    "$ROOT/scripts/setup.sh" --redis
    rm -rf target/bench/redis-cluster
    start_redis_cluster target/bench/redis-cluster
  fi
  for _ in $(seq "$1"); do
    add_server coalesced --redis-url "$REDIS_CLUSTER_URL" "${EVERYBODY_SEES_EVERYBODY[@]}"
  done
  sleep 4
}

# The generator must keep its schedule: a move it fails to send would be
# charged to the server as a position never delivered. Where allowed, it
# runs at a higher priority than the server, so that when the two cores are
# full it is the server that gets less. Its "sent of schedule" column shows
# whether that was enough.
generator_priority=()
if nice -n -10 true 2>/dev/null; then
  generator_priority=(nice -n -10)
else
  say "cannot raise the generator's priority (not root): watch its 'sent of schedule' column"
fi

header="--header"
loadgen() { # scenario fanout [loadgen args...]
  local scenario="$1" fanout="$2"
  shift 2
  local url_list pid_list
  url_list=$(IFS=,; echo "${urls[*]}")
  pid_list=$(IFS=,; echo "${server_pids[*]}")
  "${generator_priority[@]}" target/release/cursors-loadgen --url "$url_list" --server-pid "$pid_list" \
    --scenario "$scenario" --fanout "$fanout" --duration "$DURATION" $header "$@" | tee -a "$results"
  header=""
}

: >"$results"
say "results go to $results"
ONLY="${ONLY:-all}"
case "$ONLY" in
  all | single | cluster | redis-cluster | crowd) ;;
  *) die "ONLY=$ONLY: expected single, cluster, redis-cluster or crowd" ;;
esac
if [ "$ONLY" = all ] || [ "$ONLY" = single ]; then
for fanout in coalesced immediate; do
  for encoding in json binary; do
    flag=""
    [ "$encoding" = binary ] && flag="--binary"
    for users in 10 50 100 200 300 500; do
      # A fresh server per size, so one overloaded run cannot spill into the next.
      start_server "$fanout" "${EVERYBODY_SEES_EVERYBODY[@]}"
      loadgen "one room" "$fanout" --users "$users" --rooms 1 --rate 60 $flag
    done
  done
  start_server "$fanout" "${EVERYBODY_SEES_EVERYBODY[@]}"
  loadgen "100 rooms of 10" "$fanout" --users 1000 --rooms 100 --rate 60
  start_server "$fanout" "${EVERYBODY_SEES_EVERYBODY[@]}"
  loadgen "one room, baseline for the stall" "$fanout" --users 50 --rate 60 --duration "$STALL_SECONDS"
  start_server "$fanout" "${EVERYBODY_SEES_EVERYBODY[@]}"
  loadgen "one room, 1 reader stalled ${STALL_SECONDS}s" "$fanout" --users 50 --rate 60 \
    --duration "$STALL_SECONDS" --stall-users 1 --stall-after 0 --stall-for "$STALL_SECONDS"
done
start_server coalesced
# Spread over rooms of 10: in one room every join would be announced to all
# 10,000, and sockets not yet read would overflow their queues (1008).
loadgen "10,000 idle connections" "-" --users 10000 --rooms 1000 --rate 0 --duration 5 --warmup 0 --connect-concurrency 256
stop_server
fi

if [ "$ONLY" = all ] || [ "$ONLY" = cluster ]; then
# Several servers: one room whose users alternate between two servers
# sharing a Redis, next to the same room on one server alone and on one
# server with Redis, for the cost of the backplane per delivered position.
# Both servers, Redis and the generator share the same 2 cores here.
for users in 50 100 200; do
  start_server coalesced "${EVERYBODY_SEES_EVERYBODY[@]}"
  loadgen "one room, one server alone" coalesced --users "$users" --rooms 1 --rate 60
  start_servers_sharing_redis 1
  loadgen "one room, one server with Redis" coalesced --users "$users" --rooms 1 --rate 60
  start_servers_sharing_redis 2
  loadgen "one room over two servers" coalesced --users "$users" --rooms 1 --rate 60
done
stop_server
fi

if [ "$ONLY" = all ] || [ "$ONLY" = redis-cluster ]; then
# Two servers sharing rooms through one Redis, then through a Redis Cluster
# (3 primaries + 3 replicas, all on this machine): one room, whose channel
# lives on one shard, and 50 rooms of 10, spread over the three. Only the
# servers' CPU is measured (the generator is given their pids), not Redis's.
for backplane in redis redis-cluster; do
  for users in 50 100; do
    start_servers_sharing_"${backplane//-/_}" 2
    loadgen "one room over two servers, $backplane" coalesced --users "$users" --rooms 1 --rate 60
  done
  start_servers_sharing_"${backplane//-/_}" 2
  loadgen "50 rooms of 10 over two servers, $backplane" coalesced --users 500 --rooms 50 --rate 60
done
stop_server
fi

if [ "$ONLY" = all ] || [ "$ONLY" = crowd ]; then
# The crowd (issue 18): one room, every user's pointer at its own spot of
# the board, a tenth of them moving at 30 Hz; then a second window in which
# 50 people a second join and leave without moving. Its own table (see
# docs/BENCHMARKS.md, "The crowd"). Against the server's default crowd
# threshold and K, then the same scenario in a room of 500 where everybody
# sees everybody, for comparison. Connections come from four loopback
# addresses so that no address runs out of ephemeral ports.
header="--header"
crowd() { # scenario users
  loadgen "$1" coalesced --crowd --users "$2" --rooms 1 --rate 30 --moving-fraction 0.1 \
    --churn-rate 50 --churn-stay 3 --observers-per-room 100 --source-addresses 4 \
    --connect-concurrency 256 --warmup 3
}
for users in 1000 5000 10000; do
  start_server coalesced
  crowd "crowd" "$users"
done
# The room of 10,000 again with the server on one thread: on this 2-core
# box the generator then keeps its core, and the server's CPU is capped at
# one (issue 18's "server ≤ 1 core"), at the cost of updates per second.
start_server coalesced --worker-threads 1
crowd "crowd, server on one thread" 10000
start_server coalesced "${EVERYBODY_SEES_EVERYBODY[@]}"
crowd "everybody sees everybody" 500
stop_server
fi
say "done: $results"
