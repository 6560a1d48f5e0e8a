#!/usr/bin/env bash
# Configures and builds roiserve (Release) in build/. Extra arguments go to
# CMake's configure step, e.g. -DCMAKE_PREFIX_PATH=<LibTorch 2.x>.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build --parallel "$(nproc)"
