#!/usr/bin/env bash
# Trains the shipped model models/shapes-v1 from scratch, as it was trained:
# stage 1 (backbone, RPN, roi_align box head, roi_align mask head), stage 2
# (roi_pool, ps_roi_pool and spp box heads and the roi_pool mask head on the
# frozen stage-1 backbone), then the gates on the 200-image validation set.
# Each stage resumes from its checkpoint when interrupted: run it again.
#   THREADS=N scripts/train-shapes-v1.sh      (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh
threads=${THREADS:-$(nproc)}
build/tools/roiserve-train --config configs/train/shapes-v1-stage1.yaml --output runs/stage1 \
  --threads "$threads"
build/tools/roiserve-train --config configs/train/shapes-v1-stage2.yaml --output runs/stage2 \
  --threads "$threads"

rm -rf models/shapes-v1
mkdir -p models
cp -r runs/stage2/bundle models/shapes-v1
cp runs/stage1/training.json models/shapes-v1/training-stage1.json
cp runs/stage2/training.json models/shapes-v1/training-stage2.json
build/tools/roiserve-eval --model models/shapes-v1 --threads "$threads" \
  --output models/shapes-v1/evaluation
