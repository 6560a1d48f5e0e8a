#!/usr/bin/env bash
# The scale-out test, offline on Debian 12: docker/compose.scale-out.yaml
# under podman-compose (two roiserve replicas behind HAProxy). Sends Detect
# calls through HAProxy, stops one replica with SIGTERM midway, and checks
# that calls spread over both replicas (each replica's /metrics), that no
# call failed while the stopped replica drained, and that it exited 0.
#   docker/test-scale-out.sh [--duration-s 40] [--stop-after-s 15] [--concurrency 4]
# As root (rootful podman, apt-get), or through sudo. Not part of CI: see
# docker/test.sh. All traffic stays on loopback and the test's own container
# network, and stops after --duration-s.
set -euo pipefail
((EUID == 0)) || exec sudo --preserve-env=ROISERVE_BUILD_FROM,ROISERVE_CONTAINER_CACHE,ROISERVE_DEBIAN_SOURCES "$0" "$@"
cd "$(dirname "$0")/.."
source docker/container-setup.sh

project=roiserve-scale-out
compose=(podman-compose -p "$project" -f docker/compose.scale-out.yaml)
replica_a=${project}_replica-a_1 replica_b=${project}_replica-b_1 balancer=${project}_load-balancer_1

# dnsname: the replicas' names resolve on the compose network (HAProxy finds
# them by name); python3-grpcio: the load client.
install_missing_packages podman runc mmdebstrap podman-compose \
  golang-github-containernetworking-plugin-dnsname python3 python3-grpcio

work=$(mktemp -d)
cleanup() {
  "${compose[@]}" down >/dev/null 2>&1 || true
  # podman-compose 1.0.3's down leaves the project's network behind.
  podman network rm "${project}_default" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
enter_build_source "$work/source"
ensure_base_image
build_roiserve_image
build_image localhost/roiserve-load-balancer docker/load-balancer/Dockerfile docker/load-balancer

mkdir -p "$work/inputs"
copy_test_inputs "$work/inputs"

"${compose[@]}" down >/dev/null 2>&1 || true
say "starting $project: replica-a, replica-b, load-balancer"
"${compose[@]}" up -d --no-build >"$work/compose-up.log" 2>&1 || {
  cat "$work/compose-up.log" >&2
  exit 1
}
for replica in "$replica_a" "$replica_b"; do
  deadline=$((SECONDS + 120))
  until podman healthcheck run "$replica" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { podman logs "$replica" 2>&1 | tail -20 >&2; exit 1; }
    sleep 0.5
  done
done
say "both replicas SERVING; load through HAProxy on $(podman port "$balancer" 50051)"

/usr/bin/python3 docker/scale_out_load.py "$@" \
  --target "$(podman port "$balancer" 50051)" --balancer-stats "$(podman port "$balancer" 8404)" \
  --replica "replica-a=$(podman port "$replica_a" 9090)" \
  --replica "replica-b=$(podman port "$replica_b" 9090)" \
  --stop-replica replica-b --stop-command "podman stop --time 30 $replica_b" \
  "$work"/inputs/images/*.png && load_passed=true || load_passed=false

exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$replica_b")
events=$(podman logs "$replica_b" 2>&1 | sed -n 's/.*"event":"\([a-z_]*\)".*/\1/p' | tr '\n' ' ')
say "replica-b: exit code $exit_code; events: $events"
[[ $load_passed == true && $exit_code == 0 ]] || { echo "FAILED" >&2; exit 1; }
say "PASSED"
