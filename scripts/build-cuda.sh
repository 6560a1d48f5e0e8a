#!/usr/bin/env bash
# Configures and builds roiserve's CUDA build (Release) in build-cuda/: nvcc
# compiles the CUDA kernels into libroiserve_ops.so (sm_80 and sm_90 machine
# code, compute_90 PTX) against PyPI's CUDA LibTorch in .venv-cuda, which
# `scripts/install-deps.sh cuda` sets up. Extra arguments go to CMake's
# configure step; with ROISERVE_CUDA_TARGETS="roiserve_ops ..." only those
# targets are built (default: everything). No GPU is needed to build.
set -euo pipefail
cd "$(dirname "$0")/.."
# 2>/dev/null: this torch warns on import that numpy is missing, which it is
# not asked to use here.
torch_prefix=$(.venv-cuda/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)' \
  2>/dev/null) || {
  echo "build-cuda: no CUDA LibTorch in .venv-cuda: run scripts/install-deps.sh cuda" >&2
  exit 1
}
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
command -v nvcc >/dev/null || {
  echo "build-cuda: no nvcc on PATH or in /usr/local/cuda/bin: install the CUDA toolkit" >&2
  exit 1
}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-cuda "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DROISERVE_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix" "$@"
targets=()
for target in ${ROISERVE_CUDA_TARGETS:-}; do
  targets+=(--target "$target")
done
cmake --build build-cuda --parallel "$(nproc)" "${targets[@]}"
