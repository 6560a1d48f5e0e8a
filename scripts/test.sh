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
# The same op parity suite against the CUDA kernels, run on the CPU by the host
# emulation (libroiserve_cuda_host.so), plus what only the CUDA code has.
ROISERVE_OPS_LIB="$PWD/build/ops/libroiserve_ops.so" \
ROISERVE_CUDA_HOST_LIB="$PWD/build/ops/libroiserve_cuda_host.so" \
ROISERVE_OPS_NAMESPACE=roiserve_cuda_host \
  .venv-test/bin/python -m pytest -q -n "$threads" -p no:cacheprovider \
    tests/python/test_cuda_host.py tests/python/test_roi_align.py tests/python/test_roi_pool.py \
    tests/python/test_spp.py tests/python/test_ps_ops.py tests/python/test_nms_boxes.py \
    tests/python/test_reduced_precision.py tests/python/test_empty_inputs.py \
    tests/python/test_errors.py tests/python/test_schemas.py tests/python/test_threads.py \
    tests/python/torchvision_op_tests
# The CUDA build (scripts/build-cuda.sh, build-cuda/): nvcc compiles the CUDA
# kernels for sm_80 and sm_90 against PyPI's CUDA LibTorch, and the detector,
# server and tools build against that LibTorch too. This machine has no GPU:
# through the CUDA-built libroiserve_ops.so run the op tests on the CPU, the
# check that every op has a CUDA kernel and the check of its device code.
scripts/install-deps.sh cuda
scripts/build-cuda.sh
ctest --test-dir build-cuda --output-on-failure --parallel "$threads" -L '^ops$'
