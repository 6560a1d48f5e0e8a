#!/usr/bin/env bash
# Installs the Debian 12 packages roiserve needs, skipping those already there.
#   scripts/install-deps.sh build   compile the libraries and tools
#   scripts/install-deps.sh test    build + everything the test suite needs
#   scripts/install-deps.sh clang   test + clang 14 for the fuzzers and sanitizers
#   scripts/install-deps.sh cuda    build + .venv-cuda: PyPI's CUDA-enabled LibTorch
#                                   (torch wheel and the NVIDIA libraries it links to),
#                                   for -DROISERVE_CUDA=ON with the installed nvcc
set -euo pipefail

# libopenblas0-pthread: without it Debian's LibTorch runs every GEMM on the
# reference BLAS (a 512x12544 -> 1024 linear layer: 5.6 s instead of 79 ms).
# libdnnl-dev: the headers of the oneDNN Debian's LibTorch runs on, through
# which the detector serves its CPU convolutions (cmake/onednn.cmake).
build_packages=(
  g++ cmake ninja-build libtorch-dev libopenblas0-pthread libdnnl-dev libyaml-cpp-dev libcli11-dev
  libopencv-dev
  nlohmann-json3-dev libgtest-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libspdlog-dev prometheus-cpp-dev libcpp-httplib-dev)
# chromium, chromium-driver: the web page's tests run it in a real browser
# (urllib3, certifi, idna and sortedcontainers are Selenium's and trio's, from Debian).
test_packages=(
  python3-torch python3-torchvision python3-numpy python3-pil python3-yaml python3-pytest
  python3-pytest-xdist python3-venv python3-cryptography openssl chromium chromium-driver
  python3-urllib3 python3-certifi python3-idna python3-sortedcontainers python3-packaging)
# libFuzzer, the sanitizer runtimes and clang's OpenMP.
clang_packages=(clang-14 libclang-rt-14-dev libomp-14-dev)

packages=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test) packages+=("${test_packages[@]}") ;;
  clang) packages+=("${test_packages[@]}" "${clang_packages[@]}") ;;
  cuda) packages+=(python3-venv) ;;
  *) echo "usage: $0 [build|test|clang|cuda]" >&2; exit 2 ;;
esac

# The test references from PyPI live in .venv-test, a venv of Debian's python3
# that also sees its torch, torchvision and numpy (the two Pythons never mix):
# pycocotools, the gRPC client side the service tests drive the server with,
# Selenium with its dependencies (it drives chromium for the web page's tests),
# and ONNX Runtime for benchmarks/compare_onnxruntime.py (at import it needs
# numpy and packaging, Debian's, and protobuf, above; not its other declared
# dependencies).
# tritonclient's gRPC and HTTP clients drive the Open Inference Protocol's
# tests; 2.58 runs on the protobuf and grpcio above (2.73 needs protobuf 6);
# its HTTP client imports python-rapidjson and geventhttpclient, and
# that gevent (greenlet, zope.event, zope.interface), brotli and certifi
# (Debian's); its declared urllib3 >= 2 is never imported.
test_venv_packages=(
  pycocotools==2.0.8 protobuf==5.29.3 grpcio==1.68.1 grpcio-tools==1.68.1
  grpcio-health-checking==1.68.1 grpcio-reflection==1.68.1
  selenium==4.27.1 trio==0.35.0 trio-websocket==0.12.2 outcome==1.3.0.post0 sniffio==1.3.1
  attrs==26.1.0 wsproto==1.3.2 h11==0.16.0 websocket-client==1.9.2 typing_extensions==4.16.0
  PySocks==1.7.1 onnxruntime==1.32.0
  tritonclient==2.58.0 python-rapidjson==1.25 geventhttpclient==2.6.1 gevent==26.9.0
  greenlet==3.2.4 zope.event==6.2 zope.interface==8.7 brotli==1.2.1)
make_test_venv() {
  local modules=pycocotools,grpc_tools,grpc_health,grpc_reflection,selenium,onnxruntime
  modules+=,tritonclient.grpc,tritonclient.http
  if ! .venv-test/bin/python -c "import ${modules}" 2>/dev/null; then
    echo "install-deps: setting up .venv-test (${test_venv_packages[*]} from PyPI)"
    [[ -x .venv-test/bin/python ]] || /usr/bin/python3 -m venv --system-site-packages .venv-test
    # --no-deps: numpy stays Debian's (1.24), which torch 1.13 was built for.
    .venv-test/bin/python -m pip install -q --disable-pip-version-check --no-deps \
      "${test_venv_packages[@]}"
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
# The CUDA build's LibTorch: the version the GPU machines run, in a venv of its
# own (it must never meet Debian's torch 1.13). Its cmake prefix is
# $(.venv-cuda/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)').
cuda_torch=torch==2.11.0
make_cuda_venv() {
  if ! .venv-cuda/bin/python -c 'import torch; assert torch.version.cuda' 2>/dev/null; then
    echo "install-deps: setting up .venv-cuda ($cuda_torch with its NVIDIA libraries from PyPI)"
    [[ -x .venv-cuda/bin/python ]] || /usr/bin/python3 -m venv .venv-cuda
    .venv-cuda/bin/python -m pip install -q --disable-pip-version-check "$cuda_torch"
  fi
}

case "${1:-build}" in
  test | clang) make_test_venv ;;
  cuda) make_cuda_venv ;;
esac
exit 0
