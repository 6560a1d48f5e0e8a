#!/usr/bin/python3
"""Load through the scale-out rehearsal's load balancer while one replica is
stopped (docker/test-scale-out.sh runs it; Debian's python3-grpcio).

Sends Detect calls from --concurrency threads over one gRPC channel to
--target for --duration-s, runs --stop-command after --stop-after-s, and
reports: calls answered and failed (by status code), each replica's count of
Detect calls answered OK from its own /metrics before the stop and at the
end, HAProxy's view (server state, 2xx responses per replica), and when the
stopped replica left the rotation. Exits 1 when a check fails: a failed
call, a replica that served nothing before the stop, no call answered after
it, or per-replica counts that do not add up to the calls answered.

No call is retried by this client; gRPC itself retries a call only where it
never reached a server (gRFC A6 transparent retries), and HAProxy only
re-sends a call whose connection to a replica failed.

    scale_out_load.py --target 127.0.0.1:PORT --balancer-stats 127.0.0.1:PORT
        --replica replica-a=127.0.0.1:PORT --replica replica-b=127.0.0.1:PORT
        --stop-replica replica-b --stop-command 'podman stop ...' IMAGE...
"""
import argparse
import collections
import csv
import io
import re
import subprocess
import sys
import threading
import time
import urllib.request

import grpc

DETECT = "/roiserve.v1.DetectionService/Detect"
DETECT_OK = re.compile(
    r'^roiserve_requests_total\{(?=[^}]*method="Detect")(?=[^}]*code="OK")[^}]*\} (\S+)$', re.M)


def detect_request(image_bytes):
    """DetectRequest{image: Image{encoded: image_bytes}}, serialized by hand
    (field 1, length-delimited, twice) so that no generated stubs are needed."""
    def length_delimited(field, payload):
        key, size, varint = bytes([field << 3 | 2]), len(payload), bytearray()
        while True:
            varint.append(size & 0x7F | (0x80 if size > 0x7F else 0))
            size >>= 7
            if not size:
                return key + bytes(varint) + payload
    return length_delimited(1, length_delimited(1, image_bytes))


class Recorder:
    """Everything observed, stamped with seconds since the load started."""

    def __init__(self):
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.calls = []           # (start, end, status code name)
        self.replica_counts = {}  # replica -> [(t, Detect OK count)]
        self.balancer = []        # (t, {replica: (status, 2xx responses)})

    def now(self):
        return time.monotonic() - self.started


def send_calls(recorder, stub, requests, deadline_s, until, offset):
    index = offset
    while recorder.now() < until:
        start = recorder.now()
        try:
            stub(requests[index % len(requests)], timeout=deadline_s)
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name
        with recorder.lock:
            recorder.calls.append((start, recorder.now(), code))
        index += 1


def fetch(url):
    return urllib.request.urlopen(url, timeout=2).read().decode()


def watch(recorder, replicas, balancer_stats, until, period_s=0.5):
    """Scrapes every replica's /metrics and HAProxy's CSV statistics."""
    while recorder.now() < until:
        for name, address in replicas.items():
            try:
                count = sum(float(v) for v in DETECT_OK.findall(fetch(f"http://{address}/metrics")))
                recorder.replica_counts.setdefault(name, []).append((recorder.now(), count))
            except OSError:
                pass  # stopped: its last scrape stands
        try:
            rows = csv.DictReader(io.StringIO(fetch(f"http://{balancer_stats}/;csv").lstrip("# ")))
            recorder.balancer.append((recorder.now(), {
                row["svname"]: (row["status"], int(row["hrsp_2xx"] or 0))
                for row in rows if row["pxname"] == "roiserve" and row["svname"] in replicas}))
        except OSError:
            pass
        time.sleep(period_s)


def wait_until_balanced(balancer_stats, replicas, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            rows = csv.DictReader(io.StringIO(fetch(f"http://{balancer_stats}/;csv").lstrip("# ")))
            up = {row["svname"] for row in rows if row["pxname"] == "roiserve" and row["status"] == "UP"}
            if set(replicas) <= up:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"HAProxy did not see {', '.join(replicas)} UP within {timeout_s} s")


def count_at(series, t):
    """The last scraped count at or before t (0 before the first scrape)."""
    return max((count for when, count in series if when <= t), default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="the load balancer's gRPC address")
    parser.add_argument("--balancer-stats", required=True, help="HAProxy's statistics address")
    parser.add_argument("--replica", action="append", required=True, metavar="NAME=HOST:PORT",
                        help="a replica's HAProxy server name and /metrics address")
    parser.add_argument("--stop-replica", required=True, help="the replica --stop-command stops")
    parser.add_argument("--stop-command", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration-s", type=float, default=40)
    parser.add_argument("--stop-after-s", type=float, default=15)
    parser.add_argument("--deadline-s", type=float, default=30)
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    replicas = dict(item.split("=", 1) for item in args.replica)
    requests = [detect_request(open(path, "rb").read()) for path in args.images]

    wait_until_balanced(args.balancer_stats, replicas)
    channel = grpc.insecure_channel(args.target)
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = channel.unary_unary(DETECT)  # bytes in, bytes out: the answer is not parsed
    recorder = Recorder()
    threads = [threading.Thread(target=send_calls, args=(recorder, stub, requests, args.deadline_s,
                                                         args.duration_s, n))
               for n in range(args.concurrency)]
    threads.append(threading.Thread(target=watch, args=(recorder, replicas, args.balancer_stats,
                                                        args.duration_s + 2)))
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, args.stop_after_s - recorder.now()))
    stopped_at = recorder.now()
    stop = subprocess.run(args.stop_command, shell=True, capture_output=True, text=True)
    exited_at = recorder.now()
    for thread in threads:
        thread.join()
    channel.close()

    calls = recorder.calls
    codes = collections.Counter(code for _, _, code in calls)
    ok = codes.pop("OK", 0)
    failed = sum(codes.values())
    after_stop = [call for call in calls if call[0] >= stopped_at]
    out_at = next((t for t, servers in recorder.balancer if t >= stopped_at
                   and not servers.get(args.stop_replica, ("UP",))[0].startswith("UP")), None)
    print(f"  load: {args.concurrency} concurrent Detect calls for {args.duration_s:.0f} s through "
          f"{args.target}, {len(args.images)} images in turn")
    print(f"  {stopped_at:5.1f} s  SIGTERM to {args.stop_replica} ({args.stop_command})")
    if out_at is not None:
        print(f"  {out_at:5.1f} s  HAProxy: {args.stop_replica} out of the rotation (health NOT_SERVING)")
    print(f"  {exited_at:5.1f} s  {args.stop_replica} exited"
          f"{'' if stop.returncode == 0 else f' (stop command failed: {stop.stderr.strip()})'}")
    print(f"  calls: {len(calls)}, {ok} OK, {failed} failed"
          f"{' (' + ', '.join(f'{n} {code}' for code, n in codes.items()) + ')' if failed else ''}; "
          f"{len(after_stop)} started after the SIGTERM, "
          f"{sum(1 for call in after_stop if call[2] == 'OK')} of them OK")
    print('  Detect calls answered OK per replica (its own /metrics; HAProxy\'s 2xx count):')
    final_balancer = recorder.balancer[-1][1] if recorder.balancer else {}
    per_replica_total = 0
    for name in replicas:
        series = recorder.replica_counts.get(name, [])
        last_t, last = series[-1] if series else (0, 0)
        per_replica_total += last
        print(f"    {name}: {count_at(series, stopped_at):.0f} before the SIGTERM, "
              f"{last:.0f} at its last scrape ({last_t:.1f} s); "
              f"HAProxy {final_balancer.get(name, ('?', 0))[1]}, {final_balancer.get(name, ('?',))[0]}")

    checks = {
        "no call failed": failed == 0,
        "every replica answered calls before the stop": all(
            count_at(recorder.replica_counts.get(name, []), stopped_at) > 0 for name in replicas),
        "calls were answered after the stop": any(call[2] == "OK" for call in after_stop),
        "the replicas' counts add up to the calls answered": per_replica_total == ok,
        "the stop command succeeded": stop.returncode == 0,
    }
    for check, passed in checks.items():
        print(f"  {'ok  ' if passed else 'FAIL'} {check}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
