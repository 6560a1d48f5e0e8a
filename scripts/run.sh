#!/usr/bin/env bash
# README command (1): installs what is missing, builds, and runs roiserve on
# the shipped model. Until the gRPC service lands, "runs" means the detector
# through roiserve-detect: shapes-v1 validation images written as PNG files,
# detected, drawn, and the detections JSON summarized.
#   scripts/run.sh [roiserve-detect flags, e.g. --head spp]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh
out=runs/demo
rm -rf "$out"
build/tools/roiserve-shapes --count 4 --output "$out/data"
build/tools/roiserve-detect --model models/shapes-v1 --threads "$(nproc)" "$@" \
  --draw "$out/drawn" --json "$out/detections.json" "$out"/data/images/*.png
python3 - "$out/detections.json" <<'PY'
import json, sys
for image in json.load(open(sys.argv[1]))["images"]:
    found = ", ".join(f"{d['category']} {d['score']:.2f}" for d in image["detections"] if d["score"] >= 0.5)
    print(f"{image['file']}: {image['timings_ms']['total']:.1f} ms: {found}")
PY
echo "detections: $out/detections.json, drawings: $out/drawn/"
