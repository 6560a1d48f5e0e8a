#!/usr/bin/env bash
# README command (2) and CI: installs what is missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
threads=$(nproc)
# Test processes run side by side on few cores: idle OpenMP workers must sleep,
# not spin (spinning made single tests take seconds instead of milliseconds).
export OMP_WAIT_POLICY=PASSIVE
# C++ tests (GoogleTest, through CTest).
ctest --test-dir build --output-on-failure --parallel "$threads"
# Python parity tests against torchvision 0.14 and pycocotools, on Debian's own
# python3 (the one python3-torch and python3-torchvision are installed for),
# through .venv-test, which adds pycocotools from PyPI.
ROISERVE_OPS_LIB="$PWD/build/ops/libroiserve_ops.so" \
ROISERVE_COCO_EVAL_CLI="$PWD/build/tests/roiserve_coco_eval_cli" \
ROISERVE_STAGE_DUMP="$PWD/build/tests/roiserve_stage_dump" \
  .venv-test/bin/python -m pytest tests/python -q -n "$threads" -p no:cacheprovider
