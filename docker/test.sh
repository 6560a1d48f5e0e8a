#!/usr/bin/env bash
# The container test of docker/Dockerfile, offline on Debian 12 (only the
# machine's Debian mirror is used): installs podman and mmdebstrap when
# missing, builds a local debian:12 base and the image, runs the image with
# its ports published on 127.0.0.1, waits for SERVING through the image's own
# HEALTHCHECK, sends generated shapes-v1 images through roiserve-client (from
# the image, in a second container) and checks the detections against their
# annotations, stops the server with SIGTERM and checks that it drained and
# exited 0. Reports the image size and the time from start to SERVING. Then
# docker/test-cuda.sh builds and tests docker/Dockerfile.cuda (also offline:
# the Debian mirror and PyPI), unless ROISERVE_CUDA_IMAGE=0.
#   docker/test.sh           (as root: rootful podman, apt-get; or through sudo)
# Not part of CI: the first image builds compile the server (tens of minutes
# on 2 cores each). docs/DEPLOYMENT.md describes the runs and their results.
set -euo pipefail
((EUID == 0)) || exec sudo --preserve-env=ROISERVE_BUILD_FROM,ROISERVE_CONTAINER_CACHE,ROISERVE_DEBIAN_SOURCES,ROISERVE_PIP_CA,ROISERVE_CUDA_IMAGE "$0" "$@"
cd "$(dirname "$0")/.."
readonly repository=$PWD
source docker/container-setup.sh
source docker/container-checks.sh

readonly image_size_goal_mb=400 serving_goal_s=5 stop_timeout_s=30

install_missing_packages podman runc mmdebstrap python3
work=$(mktemp -d)
container=roiserve-test-$$
trap 'podman rm -f -t 0 "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
enter_build_source "$work/source"
ensure_base_image
build_roiserve_image

mkdir -p "$work/inputs"
copy_test_inputs "$work/inputs"

size_mb=$(image_size_mb "$roiserve_image")
say "image $roiserve_image: $size_mb MB ($(image_size_mb "$base_image") MB of it the debian:12 base)," \
  "goal <= $image_size_goal_mb MB"
check_non_root_user "$roiserve_image"

start_deployed_server "$roiserve_image"
wait_until_serving
say "SERVING: $process_to_serving_s s from the container's start to the server's 'serving' log line" \
  "(goal <= $serving_goal_s s); $run_to_healthy_s s from 'podman run' to the first passing HEALTHCHECK"
detect_and_check "$roiserve_image"
stop_and_check_drain "$stop_timeout_s"
say "PASSED: image $size_mb MB (goal $image_size_goal_mb), SERVING $process_to_serving_s s after the start" \
  "(goal $serving_goal_s), detections checked, clean exit on SIGTERM"

if [[ ${ROISERVE_CUDA_IMAGE:-1} != 0 ]]; then
  "$repository/docker/test-cuda.sh"
fi
