#!/usr/bin/env bash
# The container test of docker/Dockerfile, offline on Debian 12 (only the
# machine's Debian mirror is used): installs podman and mmdebstrap when
# missing, builds a local debian:12 base and the image, runs the image with
# its ports published on 127.0.0.1, waits for SERVING through the image's own
# HEALTHCHECK, sends generated shapes-v1 images through roiserve-client (from
# the image, in a second container) and checks the detections against their
# annotations, stops the server with SIGTERM and checks that it drained and
# exited 0. Reports the image size and the time from start to SERVING.
#   docker/test.sh           (as root: rootful podman, apt-get; or through sudo)
# Not part of CI: the first image build compiles the server (tens of minutes
# on 2 cores). docs/DEPLOYMENT.md describes the run and its results.
set -euo pipefail
((EUID == 0)) || exec sudo --preserve-env=ROISERVE_BUILD_FROM,ROISERVE_CONTAINER_CACHE,ROISERVE_DEBIAN_SOURCES "$0" "$@"
cd "$(dirname "$0")/.."
source docker/container-setup.sh

readonly image_size_goal_mb=400 serving_goal_s=5 stop_timeout_s=30

install_missing_packages podman runc mmdebstrap python3
work=$(mktemp -d)
container=roiserve-test-$$
trap 'podman rm -f -t 0 "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
enter_build_source "$work/source"
ensure_base_image
build_roiserve_image

fail() {
  echo "FAILED: $*" >&2
  podman logs "$container" 2>&1 | tail -20 >&2 || true
  exit 1
}
mkdir -p "$work/inputs"
copy_test_inputs "$work/inputs"

size_bytes=$(podman image inspect --format '{{.Size}}' "$roiserve_image")
size_mb=$((size_bytes / 1000000))
base_mb=$(($(podman image inspect --format '{{.Size}}' "$base_image") / 1000000))
say "image $roiserve_image: $size_mb MB ($base_mb MB of it the debian:12 base), goal <= $image_size_goal_mb MB"
[[ $(podman image inspect --format '{{.Config.User}}' "$roiserve_image") == 10001:10001 ]] ||
  fail "the image does not run as the non-root user 10001"

# As deployed: the Kubernetes configuration (2 threads for 2 CPUs, JSON logs,
# a 5 s shutdown delay), a read-only root file system, the limits of compose.
started_ns=$(date +%s%N)
# Without systemd, podman cannot schedule the periodic health check and says
# so; `podman healthcheck run` below runs the same check on demand.
podman run -d --name "$container" --cpus 2 --memory 2g --read-only \
  -v "$PWD/deploy/k8s/server.yaml:/etc/roiserve/server.yaml:ro" \
  -p 127.0.0.1::50051 -p 127.0.0.1::9090 "$roiserve_image" --config /etc/roiserve/server.yaml \
  2> >(grep -v 'systemd connection' >&2) >/dev/null
grpc_target=$(podman port "$container" 50051)
metrics_target=$(podman port "$container" 9090)
say "started $container: gRPC on $grpc_target, metrics on $metrics_target"

until podman healthcheck run "$container" >/dev/null 2>&1; do
  [[ $(podman inspect --format '{{.State.Running}}' "$container") == true ]] ||
    fail "the server exited before it served"
  (($(date +%s%N) - started_ns < 60 * 10 ** 9)) || fail "not SERVING 60 s after the start"
  sleep 0.1
done
healthy_ns=$(date +%s%N)
# The server's own record of when it turned SERVING (the line may reach the
# container's log a moment after the health check passed), and the
# container's start.
serving_time=
for _ in $(seq 50); do
  serving_time=$(podman logs "$container" 2>&1 | sed -n 's/.*"time":"\([^"]*\)".*"event":"serving".*/\1/p')
  [[ -n "$serving_time" ]] && break
  sleep 0.1
done
[[ -n "$serving_time" ]] || fail "SERVING, but no 'serving' line in the log"
container_start_ns=$(podman inspect --format '{{.State.StartedAt.UnixNano}}' "$container")
read -r process_to_serving_s run_to_healthy_s < <(/usr/bin/python3 - "$serving_time" "$container_start_ns" \
    "$started_ns" "$healthy_ns" <<'PY'
import datetime, sys
serving = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
container_start, run, healthy = (int(value) / 1e9 for value in sys.argv[2:])
print(f"{serving - container_start:.2f} {healthy - run:.2f}")
PY
)
say "SERVING: $process_to_serving_s s from the container's start to the server's 'serving' log line" \
  "(goal <= $serving_goal_s s); $run_to_healthy_s s from 'podman run' to the first passing HEALTHCHECK"
say "memory after loading: $(podman stats --no-stream --format '{{.MemUsage}}' "$container")"

# A real detection: the image's roiserve-client, in a container of its own on
# the host's network, through the published port.
mkdir -m 777 "$work/out"
images=()
for path in "$work"/inputs/images/*.png; do images+=("/inputs/images/${path##*/}"); done
say "detecting ${#images[@]} images through $grpc_target"
podman run --rm --network host --no-healthcheck -v "$work/inputs:/inputs:ro" -v "$work/out:/out" \
  --entrypoint /opt/roiserve/bin/roiserve-client "$roiserve_image" \
  --target "$grpc_target" --deadline-ms 60000 --json /out/detections.json "${images[@]}" >/dev/null ||
  fail "roiserve-client failed"
/usr/bin/python3 docker/check_detections.py "$work/out/detections.json" "$work/inputs/instances.json" ||
  fail "the detections do not match the annotations"
/usr/bin/python3 - "$metrics_target" "${#images[@]}" <<'PY' || fail "metrics do not count the calls"
import re, sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=10).read().decode()
ok = sum(float(value) for value in re.findall(
    r'^roiserve_requests_total\{(?=[^}]*method="Detect")(?=[^}]*code="OK")[^}]*\} (\S+)', text, re.M))
print(f"  /metrics: roiserve_requests_total{{method=\"Detect\",code=\"OK\"}} = {ok:.0f}")
sys.exit(0 if ok == int(sys.argv[2]) else 1)
PY

# SIGTERM (the image's STOPSIGNAL, sent by podman stop): NOT_SERVING, a short
# delay, drain, exit 0. podman would SIGKILL after stop_timeout_s.
stop_started=$SECONDS
podman stop --time "$stop_timeout_s" "$container" 2> >(grep -v 'systemd connection' >&2) >/dev/null
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
events=$(podman logs "$container" 2>&1 | sed -n 's/.*"event":"\([a-z_]*\)".*/\1/p' | tr '\n' ' ')
say "stopped in $((SECONDS - stop_started)) s (shutdown_delay_s is 5): exit code $exit_code; events: $events"
[[ $exit_code == 0 ]] || fail "exit code $exit_code after SIGTERM"
[[ $events == *draining*drained*stopped* ]] || fail "the log shows no drain (draining, drained, stopped)"
say "PASSED: image $size_mb MB (goal $image_size_goal_mb), SERVING $process_to_serving_s s after the start" \
  "(goal $serving_goal_s), detections checked, clean exit on SIGTERM"
