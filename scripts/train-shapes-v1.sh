#!/usr/bin/env bash
# Trains the shipped model models/shapes-v1 from scratch, as it was trained
# (configs/train/shapes-v1-joint.yaml: backbone, RPN, all four box heads and
# both mask poolers in one run), then measures the gates on the 200-image
# validation set. The run resumes from its checkpoint when interrupted: run
# the script again.
#   THREADS=N scripts/train-shapes-v1.sh      (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh
threads=${THREADS:-$(nproc)}
build/tools/roiserve-train --config configs/train/shapes-v1-joint.yaml --output runs/joint \
  --threads "$threads"

rm -rf models/shapes-v1
mkdir -p models
cp -r runs/joint/bundle models/shapes-v1
cp runs/joint/training.json models/shapes-v1/training.json
build/tools/roiserve-eval --model models/shapes-v1 --threads "$threads" \
  --output models/shapes-v1/evaluation
