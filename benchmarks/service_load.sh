#!/usr/bin/env bash
# Throughput and latency of roiserve-server on the shipped model, over
# loopback: roiserve-loadgen at concurrency 1, 4 and 16, unary and streaming,
# with dynamic batching off (batch 1) and on (batch 4, no added delay: a batch
# takes what queued while the last one ran). The inputs are eight shapes-v1
# validation images padded or cropped to 320 x 320, as from one camera (only
# images of one size share a batch). Needs a build (scripts/build.sh) and
# Debian's python3-pil.
#   benchmarks/service_load.sh [--requests N] [--threads N] [--json-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=200 threads=$(nproc) json_dir=
while (($#)); do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --json-dir) json_dir=$2; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--threads N] [--json-dir DIR]" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
build/tools/roiserve-shapes --seed 2 --count 8 --output "$work/data" >/dev/null
/usr/bin/python3 - "$work/data/images" <<'PY'
import pathlib, sys
from PIL import Image
for path in pathlib.Path(sys.argv[1]).glob("*.png"):
    square = Image.new("RGB", (320, 320))
    square.paste(Image.open(path).convert("RGB"))
    square.save(path)
PY
export OMP_WAIT_POLICY=PASSIVE

for setting in "off 1" "on 4"; do
  set -- $setting
  rm -f "$work/ports.json"
  build/server/roiserve-server --listen 127.0.0.1:0 --http-listen '' --threads "$threads" \
    --max-batch-size "$2" --max-queue-delay-ms 0 --max-queue-size 64 --log-level warn \
    --ports-file "$work/ports.json" &
  server=$!
  for _ in $(seq 100); do [[ -s "$work/ports.json" ]] && break; sleep 0.1; done
  target=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["grpc"])' "$work/ports.json")
  until build/tools/roiserve-client --target "$target" --health >/dev/null 2>&1; do sleep 0.2; done
  for mode in unary stream; do
    echo "== dynamic batching $1 (max batch $2), $mode calls, $threads threads"
    flags=()
    [[ $mode == stream ]] && flags+=(--stream)
    [[ -n "$json_dir" ]] && flags+=(--json "$json_dir/batching-$1-$mode.json")
    build/benchmarks/roiserve-loadgen --target "$target" --requests "$requests" \
      --concurrency 1,4,16 "${flags[@]}" "$work"/data/images/*.png
  done
  kill -TERM "$server"
  wait "$server"
done
