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
  python3-torch python3-torchvision python3-numpy python3-pil python3-yaml python3-pytest
  python3-pytest-xdist python3-venv)

packages=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test) packages+=("${test_packages[@]}") ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

# The test references from PyPI live in .venv-test, a venv of Debian's python3
# that also sees its torch, torchvision and numpy (the two Pythons never mix).
make_test_venv() {
  if ! .venv-test/bin/python -c 'import pycocotools' 2>/dev/null; then
    echo "install-deps: creating .venv-test (pycocotools from PyPI)"
    /usr/bin/python3 -m venv --system-site-packages .venv-test
    # --no-deps: its numpy is Debian's (1.24), which torch 1.13 was built for.
    .venv-test/bin/python -m pip install -q --disable-pip-version-check --no-deps "pycocotools==2.0.8"
  fi
}

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  echo "install-deps: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi
[[ "${1:-build}" == test ]] && make_test_venv
exit 0
