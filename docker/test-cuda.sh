#!/usr/bin/env bash
# The container test of docker/Dockerfile.cuda, on a machine without a GPU,
# offline apart from the Debian mirror and PyPI (the torch and NVIDIA wheels):
# builds the image on the local debian:12 base, reports its size and what
# fills it, and runs in it what runs without a GPU: both programs' --help
# (every library loads), the image's own command (--device cuda) refused at
# start with "no CUDA device found" and exit code 2, and the CUDA-built server
# on --device cpu as deployed, checked as docker/test.sh checks the CPU image
# (HEALTHCHECK, detections against their annotations, metrics, drain on
# SIGTERM). docker/test.sh runs it after the CPU image's test; alone:
#   docker/test-cuda.sh      (as root, or through sudo)
# scripts/gpu-check.sh is the check on a GPU machine.
set -euo pipefail
((EUID == 0)) || exec sudo --preserve-env=ROISERVE_BUILD_FROM,ROISERVE_CONTAINER_CACHE,ROISERVE_DEBIAN_SOURCES,ROISERVE_PIP_CA "$0" "$@"
cd "$(dirname "$0")/.."
source docker/container-setup.sh
source docker/container-checks.sh

install_missing_packages podman runc mmdebstrap python3
work=$(mktemp -d)
container=roiserve-test-cuda-$$
trap 'podman rm -f -t 0 "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
enter_build_source "$work/source"
ensure_base_image
build_roiserve_cuda_image
mkdir -p "$work/inputs"
copy_test_inputs "$work/inputs" cuda

size_mb=$(image_size_mb "$roiserve_cuda_image")
say "image $roiserve_cuda_image: $size_mb MB ($(image_size_mb "$base_image") MB of it the debian:12 base);" \
  "the largest parts (MB):"
podman run --rm --no-healthcheck --entrypoint /bin/sh "$roiserve_cuda_image" -c \
  'du -m -s /opt/pytorch/torch/lib /opt/pytorch/nvidia/*/lib /opt/roiserve /usr/lib/x86_64-linux-gnu' |
  sort -rn | sed 's/^/  /'
check_non_root_user "$roiserve_cuda_image"

help=$(podman run --rm --no-healthcheck "$roiserve_cuda_image" --help) ||
  fail "roiserve-server --help failed"
[[ $help == *--device* ]] || fail "roiserve-server --help does not list --device"
podman run --rm --no-healthcheck --entrypoint /opt/roiserve/bin/roiserve-client \
  "$roiserve_cuda_image" --help >/dev/null || fail "roiserve-client --help failed"
say "roiserve-server --help and roiserve-client --help: every library loads"

# The image's own command asks for --device cuda; without a GPU (and without
# the driver, which the NVIDIA Container Toolkit would mount) the server must
# refuse at start, saying why.
refusal_code=0
refusal=$(podman run --rm --no-healthcheck --read-only "$roiserve_cuda_image" 2>&1 >/dev/null) ||
  refusal_code=$?
[[ $refusal_code == 2 && $refusal == *"no CUDA device found"* ]] ||
  fail "--device cuda without a GPU: exit code $refusal_code, stderr: $refusal"
say "--device cuda without a GPU: exit code 2, '$(grep -m1 'no CUDA device found' <<<"$refusal")'"

start_deployed_server "$roiserve_cuda_image" --device cpu
wait_until_serving
say "SERVING on --device cpu: $process_to_serving_s s from the container's start to the 'serving' log line;" \
  "$run_to_healthy_s s from 'podman run' to the first passing HEALTHCHECK"
detect_and_check "$roiserve_cuda_image"
stop_and_check_drain
say "PASSED: CUDA image $size_mb MB; --help; --device cuda refused without a GPU (exit 2);" \
  "on --device cpu SERVING $process_to_serving_s s after the start, detections checked, clean exit on SIGTERM"
