#!/usr/bin/env bash
# Several servers, one room, on your machine: a Redis, two cursors-server
# processes sharing it, and HAProxy in front of them on one port (round
# robin, WebSocket aware). Open http://127.0.0.1:3000/ in a few tabs: they
# land on both servers and still see each other. Kill one server and watch
# its users reconnect to the other with the same name and colour.
#
# With --redis-cluster the servers share a Redis Cluster instead of one
# Redis: six nodes (three primaries, a replica each) on free ports. Kill a
# primary and watch its replica take over while every room carries on.
#
#   scripts/cluster.sh            build, start everything, Ctrl-C stops it
#   PORT=3000 REDIS_PORT=6380 scripts/cluster.sh   (Redis on a free port unless given)
#   scripts/cluster.sh --redis-cluster             (a Redis Cluster, on free ports)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
redis_cluster=false
for arg in "$@"; do
  case "$arg" in
    --redis-cluster) redis_cluster=true ;;
    *) die "unknown option $arg (try --redis-cluster)" ;;
  esac
done
"$ROOT/scripts/setup.sh" --redis --haproxy
"$ROOT/scripts/build-client.sh"
cd "$ROOT"
say "building the server"
cargo build --release -q -p cursors-server

PORT="${PORT:-3000}"
SERVER_PORTS=("${SERVER_1_PORT:-3001}" "${SERVER_2_PORT:-3002}")
run_dir="$ROOT/target/cluster"
mkdir -p "$run_dir"
stop_on_exit

if $redis_cluster; then
  say "starting a Redis Cluster (3 primaries + 3 replicas)"
  rm -rf "$run_dir/redis-cluster"
  start_redis_cluster "$run_dir/redis-cluster"
  redis_url="$REDIS_CLUSTER_URL"
  say "the Redis Cluster is ok: $redis_url"
else
  say "starting Redis"
  start_redis "$run_dir/redis" "${REDIS_PORT:-}"
  redis_url="redis://127.0.0.1:$REDIS_PORT"
  say "Redis answers on 127.0.0.1:$REDIS_PORT"
fi

for index in 0 1; do
  port="${SERVER_PORTS[$index]}"
  say "starting server $((index + 1)) on 127.0.0.1:$port"
  target/release/cursors-server --addr "127.0.0.1:$port" --static-dir "$ROOT/dist" \
    --redis-url "$redis_url" --allowed-origin "http://127.0.0.1:$PORT" \
    >"$run_dir/server-$((index + 1)).log" 2>&1 &
  track $!
  echo $! >"$run_dir/server-$((index + 1)).pid"
  wait_for_port "$port" "server $((index + 1)) (log in $run_dir)" $!
done

cat >"$run_dir/haproxy.cfg" <<CFG
global
  log stdout format raw local0 info

defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  # An upgraded WebSocket is a tunnel: it may stay quiet between pings.
  timeout tunnel 1h

frontend cursors
  bind 127.0.0.1:$PORT
  default_backend servers

backend servers
  balance roundrobin
  # A dead server is taken out within a second, so reconnects go elsewhere.
  option httpchk GET /healthz
  default-server inter 500ms fall 1 rise 2
  server one 127.0.0.1:${SERVER_PORTS[0]} check
  server two 127.0.0.1:${SERVER_PORTS[1]} check
CFG
say "starting HAProxy on 127.0.0.1:$PORT"
haproxy -f "$run_dir/haproxy.cfg" >"$run_dir/haproxy.log" 2>&1 &
haproxy_pid=$!
track "$haproxy_pid"
wait_for_port "$PORT" "haproxy (log in $run_dir)" "$haproxy_pid"

say "open http://127.0.0.1:$PORT/ in a few tabs (or ?room=NAME); logs in $run_dir"
say "kill a server to watch its users move over: kill -9 \$(cat $run_dir/server-1.pid)"
if $redis_cluster; then
  say "the cluster's nodes: redis-cli -p ${REDIS_PORTS[0]} cluster nodes"
  say "kill a primary to watch its replica take over: kill -9 \$(cat $run_dir/redis-cluster/node-PORT/redis.pid)"
fi
say "Ctrl-C stops everything"
wait "$haproxy_pid" || true
