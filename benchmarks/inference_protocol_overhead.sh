#!/usr/bin/env bash
# What the Open Inference Protocol costs over roiserve.v1 Detect, over
# loopback on the shipped model: roiserve-loadgen sends the same images as
# Detect, as ModelInfer (gRPC) and as /v2/models/shapes-v1/infer (REST with
# binary data), one call at a time, the three protocols taking turns for
# --rounds rounds so that they share the machine's load. Its "overhead50"
# column is the p50 of end-to-end latency minus the model's stages and the
# image decode: the difference between two protocols' is what one adds.
# Batching off, so every request runs alone. Needs a build (scripts/build.sh).
#   benchmarks/inference_protocol_overhead.sh [--build DIR] [--requests N] [--rounds N] [--threads N] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build requests=300 rounds=10 threads=$(nproc) json=
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--requests N] [--rounds N] [--threads N] [--json FILE]" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$build"/tools/roiserve-shapes --seed 2 --count 4 --output "$work/data" >/dev/null
export OMP_WAIT_POLICY=PASSIVE
"$build"/server/roiserve-server --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --threads "$threads" \
  --max-batch-size 1 --log-level warn --ports-file "$work/ports.json" &
server=$!
for _ in $(seq 600); do [[ -s "$work/ports.json" ]] && break; sleep 0.1; done
port() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/ports.json" "$1"; }
target=$(port grpc) http_target=$(port http)
flags=()
[[ -n "$json" ]] && flags+=(--json "$json")
# The load generator's warm-up waits for the model: the server answers
# UNAVAILABLE while it loads, so wait for ModelInfer to answer first.
until "$build"/benchmarks/roiserve-loadgen --target "$target" --protocol model-infer --model shapes-v1 \
    --concurrency 1 --requests 1 --warmup 0 "$work"/data/images/*.png >/dev/null 2>&1; do sleep 0.5; done
"$build"/benchmarks/roiserve-loadgen --target "$target" --http-target "$http_target" --model shapes-v1 \
  --protocol detect,model-infer,rest-infer --rounds "$rounds" --requests "$requests" --concurrency 1 \
  "${flags[@]}" "$work"/data/images/*.png
