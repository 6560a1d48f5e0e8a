#!/usr/bin/env bash
# README command (1): installs what is missing, builds, and runs roiserve-server
# on the shipped model (models/shapes-v1): gRPC on 0.0.0.0:50051, Prometheus
# metrics on 0.0.0.0:9090, until Ctrl-C or SIGTERM.
#   scripts/run.sh [roiserve-server flags]    serve (e.g. --config configs/server.yaml)
#   scripts/run.sh --demo                     serve on a free loopback port, send four
#                                             generated images through roiserve-client,
#                                             print the detections, stop
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh

if [[ "${1:-}" != --demo ]]; then
  echo "roiserve: serving models/shapes-v1; try: build/tools/roiserve-client --target localhost:50051 IMAGE..."
  exec build/server/roiserve-server "$@"
fi

out=runs/demo
rm -rf "$out"
mkdir -p "$out"
build/tools/roiserve-shapes --count 4 --output "$out/data" >/dev/null
build/server/roiserve-server --listen 127.0.0.1:0 --http-listen '' --ports-file "$out/ports.json" \
  2>"$out/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 300); do [[ -s "$out/ports.json" ]] && break; sleep 0.1; done
target=$(sed -n 's/.*"grpc":"\([^"]*\)".*/\1/p' "$out/ports.json")
until build/tools/roiserve-client --target "$target" --health >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.2
done
build/tools/roiserve-client --target "$target" --draw "$out/drawn" "$out"/data/images/*.png
kill -TERM "$server"
wait "$server"
trap - EXIT
echo "drawings: $out/drawn/, server log: $out/server.log"
