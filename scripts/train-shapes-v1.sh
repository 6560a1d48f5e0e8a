#!/usr/bin/env bash
# Trains the shipped model models/shapes-v1 from scratch, as it was trained
# (configs/train/shapes-v1-joint.yaml: backbone, RPN, all four box heads and
# both mask poolers together; then shapes-v1-joint-continued.yaml and
# shapes-v1-joint-long.yaml, two more learning-rate cycles of the same), then
# measures the gates on the 200-image validation set. Each run resumes from
# its checkpoint when interrupted: run the script again.
#   THREADS=N scripts/train-shapes-v1.sh      (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh
threads=${THREADS:-$(nproc)}
build/tools/roiserve-train --config configs/train/shapes-v1-joint.yaml --output runs/joint \
  --threads "$threads"
build/tools/roiserve-train --config configs/train/shapes-v1-joint-continued.yaml \
  --output runs/joint-continued --threads "$threads"
build/tools/roiserve-train --config configs/train/shapes-v1-joint-long.yaml \
  --output runs/joint-long --threads "$threads"

rm -rf models/shapes-v1
mkdir -p models
cp -r runs/joint-long/bundle models/shapes-v1
cp runs/joint/training.json models/shapes-v1/training-1-joint.json
cp runs/joint-continued/training.json models/shapes-v1/training-2-joint-continued.json
cp runs/joint-long/training.json models/shapes-v1/training-3-joint-long.json
build/tools/roiserve-eval --model models/shapes-v1 --threads "$threads" \
  --output models/shapes-v1/evaluation
