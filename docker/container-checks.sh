# shellcheck shell=bash
# Sourced (from the build source, after docker/container-setup.sh) by
# docker/test.sh and docker/test-cuda.sh: one server container run as
# deployed and checked end to end. The caller sets `work` (a directory whose
# inputs/ copy_test_inputs filled) and `container` (the container's name), and
# removes the container on exit.

fail() {
  echo "FAILED: $*" >&2
  podman logs "$container" 2>&1 | tail -20 >&2 || true
  exit 1
}

# start_deployed_server IMAGE [SERVER FLAG...]: as deployed: the Kubernetes
# configuration (2 threads for 2 CPUs, JSON logs, a 5 s shutdown delay), a
# read-only root file system, the limits of compose, ports published on
# 127.0.0.1; the flags follow --config. Sets grpc_target, metrics_target and
# started_ns.
start_deployed_server() {
  local image=$1
  shift
  started_ns=$(date +%s%N)
  # Without systemd, podman cannot schedule the periodic health check and
  # says so; `podman healthcheck run` runs the same check on demand.
  podman run -d --name "$container" --cpus 2 --memory 2g --read-only \
    -v "$PWD/deploy/k8s/server.yaml:/etc/roiserve/server.yaml:ro" \
    -p 127.0.0.1::50051 -p 127.0.0.1::9090 "$image" --config /etc/roiserve/server.yaml "$@" \
    2> >(grep -v 'systemd connection' >&2) >/dev/null
  grpc_target=$(podman port "$container" 50051)
  metrics_target=$(podman port "$container" 9090)
  say "started $container from $image: gRPC on $grpc_target, metrics on $metrics_target"
}

# wait_until_serving: until the image's own HEALTHCHECK passes (60 s at
# most). Sets process_to_serving_s (from the container's start to the
# server's 'serving' log line) and run_to_healthy_s (from `podman run` to the
# first passing HEALTHCHECK).
wait_until_serving() {
  until podman healthcheck run "$container" >/dev/null 2>&1; do
    [[ $(podman inspect --format '{{.State.Running}}' "$container") == true ]] ||
      fail "the server exited before it served"
    (($(date +%s%N) - started_ns < 60 * 10 ** 9)) || fail "not SERVING 60 s after the start"
    sleep 0.1
  done
  local healthy_ns serving_time="" container_start_ns
  healthy_ns=$(date +%s%N)
  # The line may reach the container's log a moment after the check passed.
  for _ in $(seq 50); do
    serving_time=$(podman logs "$container" 2>&1 | sed -n 's/.*"time":"\([^"]*\)".*"event":"serving".*/\1/p')
    [[ -n "$serving_time" ]] && break
    sleep 0.1
  done
  [[ -n "$serving_time" ]] || fail "SERVING, but no 'serving' line in the log"
  container_start_ns=$(podman inspect --format '{{.State.StartedAt.UnixNano}}' "$container")
  read -r process_to_serving_s run_to_healthy_s < <(/usr/bin/python3 - "$serving_time" \
      "$container_start_ns" "$started_ns" "$healthy_ns" <<'PY'
import datetime, sys
serving = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
container_start, run, healthy = (int(value) / 1e9 for value in sys.argv[2:])
print(f"{serving - container_start:.2f} {healthy - run:.2f}")
PY
  )
  say "memory after loading: $(podman stats --no-stream --format '{{.MemUsage}}' "$container")"
}

# detect_and_check IMAGE: a real detection: IMAGE's roiserve-client, in a
# container of its own on the host's network, sends the generated shapes-v1
# images through the published port; the detections must match their
# annotations, and /metrics must count the calls.
detect_and_check() {
  local image=$1 images=() path
  mkdir -m 777 "$work/out"
  for path in "$work"/inputs/images/*.png; do images+=("/inputs/images/${path##*/}"); done
  say "detecting ${#images[@]} images through $grpc_target"
  podman run --rm --network host --no-healthcheck -v "$work/inputs:/inputs:ro" -v "$work/out:/out" \
    --entrypoint /opt/roiserve/bin/roiserve-client "$image" \
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
}

# stop_and_check_drain [STOP_TIMEOUT_S]: SIGTERM (the images' STOPSIGNAL,
# sent by podman stop): NOT_SERVING, a short delay, drain, exit 0. podman
# would SIGKILL after STOP_TIMEOUT_S (default 30).
stop_and_check_drain() {
  local timeout_s=${1:-30} stop_started=$SECONDS exit_code events
  podman stop --time "$timeout_s" "$container" 2> >(grep -v 'systemd connection' >&2) >/dev/null
  exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
  events=$(podman logs "$container" 2>&1 | sed -n 's/.*"event":"\([a-z_]*\)".*/\1/p' | tr '\n' ' ')
  say "stopped in $((SECONDS - stop_started)) s (shutdown_delay_s is 5): exit code $exit_code; events: $events"
  [[ $exit_code == 0 ]] || fail "exit code $exit_code after SIGTERM"
  [[ $events == *draining*drained*stopped* ]] || fail "the log shows no drain (draining, drained, stopped)"
}

# image_size_mb IMAGE: as podman image inspect counts it (uncompressed).
image_size_mb() {
  echo $(($(podman image inspect --format '{{.Size}}' "$1") / 1000000))
}

# check_non_root_user IMAGE
check_non_root_user() {
  [[ $(podman image inspect --format '{{.Config.User}}' "$1") == 10001:10001 ]] ||
    fail "$1 does not run as the non-root user 10001"
}
