#!/usr/bin/env bash
# Installs the Debian 12 packages roiserve needs, skipping those already there.
#   scripts/install-deps.sh build   compile the libraries and tools
#   scripts/install-deps.sh test    build + everything the test suite needs
set -euo pipefail

# libopenblas0-pthread: without it Debian's LibTorch runs every GEMM on the
# reference BLAS (a 512x12544 -> 1024 linear layer: 5.6 s instead of 79 ms).
build_packages=(
  g++ cmake ninja-build libtorch-dev libopenblas0-pthread libyaml-cpp-dev libcli11-dev libopencv-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev)
test_packages=(
  python3-torch python3-torchvision python3-numpy python3-pytest python3-pytest-xdist)

packages=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test) packages+=("${test_packages[@]}") ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
((EUID == 0)) || sudo=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
