#!/usr/bin/env bash
# The long run (issue 27): a script, not a test. Two release servers share
# rooms on a Redis Cluster (3 primaries + 3 replicas on free loopback
# ports) while the load generator keeps USERS users moving in ROOMS rooms;
# the second half of the run adds CHURN people joining and leaving a
# second. At half time the primary that holds the heartbeats is killed
# (kill -9) and brought back a minute later (it rejoins as a replica).
# Every 30 s the servers' resident memory goes to target/soak/rss.csv.
#
#   scripts/soak.sh                          # 30 minutes, 2,000 users, 50 joins+leaves/s
#   MINUTES=4 USERS=500 scripts/soak.sh      # a shorter look
#
# At the end it prints the generator's two rows (steady, then with churn:
# delivery, latency, the servers' CPU and memory), whether every observer
# still heard every moving member of its room in the last 5 s, the memory
# samples, and every WARN or ERROR the servers logged. Loopback only; it
# stops by itself.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

MINUTES="${MINUTES:-30}"
USERS="${USERS:-2000}"
ROOMS="${ROOMS:-100}"
RATE="${RATE:-1}"
CHURN="${CHURN:-50}"
dir="target/soak"

stop_on_exit
"$ROOT/scripts/setup.sh" --redis
say "building the server and the load generator (release)"
cargo build --release --locked --quiet -p cursors-server -p cursors-loadgen
rm -rf "$dir"
mkdir -p "$dir"

say "starting a Redis Cluster (3 primaries + 3 replicas)"
start_redis_cluster "$dir/redis"

server_pids=()
urls=()
for number in 1 2; do
  port="$(free_port)"
  target/release/cursors-server --addr "127.0.0.1:$port" --redis-url "$REDIS_CLUSTER_URL" \
    --crowd-threshold 100000 --max-connections-per-ip 100000 >"$dir/server-$number.log" 2>&1 &
  track $!
  server_pids+=("$!")
  urls+=("ws://127.0.0.1:$port")
  wait_for_port "$port" "server $number" "$!"
done
sleep 4 # every server sees the other's heartbeat before users arrive

# The generator measures two windows of half the run each: steady, then
# with churn (see loadgen --help).
half=$((MINUTES * 60 / 2))
say "soaking for $MINUTES min: $USERS users in $ROOMS rooms at $RATE moves/s, then $CHURN joins+leaves/s"
target/release/cursors-loadgen --url "$(IFS=,; echo "${urls[*]}")" \
  --server-pid "$(IFS=,; echo "${server_pids[*]}")" --users "$USERS" --rooms "$ROOMS" \
  --rate "$RATE" --duration "$half" --warmup 10 --churn-rate "$CHURN" --churn-stay 3 \
  --final-check 5 --scenario soak --fanout coalesced --header >"$dir/loadgen.txt" 2>"$dir/loadgen.log" &
generator=$!
track "$generator"

echo "seconds,server_1_rss_kib,server_2_rss_kib" >"$dir/rss.csv"
started=$(date +%s)
killed=""
restarted=false
while kill -0 "$generator" 2>/dev/null; do
  elapsed=$(($(date +%s) - started))
  echo "$elapsed,$(ps -o rss= -p "${server_pids[0]}" | tr -d ' '),$(ps -o rss= -p "${server_pids[1]}" | tr -d ' ')" \
    >>"$dir/rss.csv"
  if [ -z "$killed" ] && [ "$elapsed" -ge "$((10 + half))" ]; then
    # The primary holding the heartbeats' key: its loss touches every server.
    slot="$(redis-cli -p "${REDIS_PORTS[0]}" cluster keyslot cursors:servers | tr -d '\r')"
    killed="$(redis-cli -p "${REDIS_PORTS[0]}" cluster nodes | tr -d '\r' | awk -v slot="$slot" '
      $3 ~ /master/ && $3 !~ /fail/ {
        for (field = 9; field <= NF; field++) {
          split($field, range, "-")
          if (range[2] == "") range[2] = range[1]
          if (slot >= range[1] + 0 && slot <= range[2] + 0) { split($2, address, "[:@]"); print address[2]; exit }
        }
      }')"
    if [ -z "$killed" ]; then
      killed="${REDIS_PORTS[0]}"
    fi
    say "killing the primary on port $killed (kill -9) at ${elapsed}s"
    kill -9 "$(cat "$dir/redis/node-$killed/redis.pid")"
    killed_at=$elapsed
  fi
  if [ -n "$killed" ] && ! $restarted && [ "$elapsed" -ge "$((killed_at + 60))" ]; then
    say "bringing port $killed back at ${elapsed}s"
    node="$dir/redis/node-$killed"
    redis-server --port "$killed" --bind 127.0.0.1 --save "" --appendonly no --dir "$node" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --cluster-replica-validity-factor 0 >>"$node/redis.log" 2>&1 &
    track $!
    echo $! >"$node/redis.pid"
    restarted=true
  fi
  sleep 30
done
wait "$generator" || say "the generator exited with an error (log: $dir/loadgen.log)"

say "the generator's rows (steady window, then the churn window)"
cat "$dir/loadgen.txt"
say "resident memory of each server, KiB (every 30 s; $dir/rss.csv)"
awk -F, '{ printf "%-8s %-18s %s\n", $1, $2, $3 }' "$dir/rss.csv"
say "WARN and ERROR lines the servers logged"
# The logs are coloured: strip the colour codes before looking.
sed -E 's/\x1b\[[0-9;]*m//g' "$dir"/server-*.log | grep -E " (WARN|ERROR) " | cut -c1-200 || echo "(none)"
