#!/usr/bin/env bash
# One command from a fresh machine to the running demo: installs what is
# missing, builds the client and the server in release mode, and serves both
# on one port. Extra arguments go to the server, e.g. --addr 0.0.0.0:3000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-client.sh"
cd "$ROOT"
say "building the server"
cargo build --release -p cursors-server
addr="127.0.0.1:3000"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --addr) addr="${args[$((i + 1))]:-$addr}" ;;
    --addr=*) addr="${args[$i]#--addr=}" ;;
  esac
done
say "open http://$addr/ in two browser tabs (or http://$addr/?room=yours); Ctrl-C stops"
exec "$ROOT/target/release/cursors-server" --static-dir "$ROOT/dist" "$@"
