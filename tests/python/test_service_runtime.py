"""roiserve-server under load and over its lifetime: deadlines and
cancellation (the work of a dead call is dropped, never run), a full queue,
dynamic batching, and the SIGTERM drain. Each behaviour gets a server
configured for it."""
import contextlib
import itertools
import json
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2

from service_support import (CALL_TIMEOUT_S, FAST_REFUSAL_S, HEADS, MASK_POOLERS, SHIPPED_MODEL, START_TIMEOUT_S,
                             ServerProcess, call_error, client_tool, compare_request, detect_json, detect_request,
                             detection_records, encode, metric_value, pb, pb_grpc, rgb_pixels, run_server, serve,
                             shapes_png, wait_until)

pycocotools_mask = pytest.importorskip(
    "pycocotools.mask", reason="pycocotools is not installed: run with .venv-test/bin/python")

EVERY_VARIANT = [(head, pooler) for head in HEADS for pooler in MASK_POOLERS]


# ----- deadlines and cancellation --------------------------------------------------------

@pytest.fixture(scope="module")
def serial_server():
    """One image per batch: a request waits while the one before it runs."""
    yield from serve("--max-batch-size", "1")


def occupy_worker(server):
    """Starts a Compare of every head and mask pooler on a 640x640 image (the
    slowest request there is; at 320x320 it took 0.18 s on an idle machine,
    under the 0.2 s deadline of a request queued behind it) and returns its
    future once the model's worker runs it, so that the next request waits
    in the queue for most of that."""
    batches = server.metric("roiserve_batch_size_count")
    image = encode(np.tile(rgb_pixels(3), (2, 2, 1)), "PNG")
    slow = server.stub().Compare.future(compare_request(image, EVERY_VARIANT), timeout=CALL_TIMEOUT_S)

    def running():
        metrics = server.metrics()
        return (metric_value(metrics, "roiserve_batch_size_count") == batches + 1
                and metric_value(metrics, "roiserve_inflight_requests", method="Compare") == 1)

    wait_until(running, START_TIMEOUT_S, "the Compare to start running", server.log_tail)
    return slow


def batches_run(before, after):
    """How many batches the model ran between two scrapes of /metrics."""
    return metric_value(after, "roiserve_batch_size_count") - metric_value(before, "roiserve_batch_size_count")


def wait_counted(server, code, method="Detect"):
    """The metrics once the server has answered a `method` call with `code`."""
    def counted():
        metrics = server.metrics()
        return metric_value(metrics, "roiserve_requests_total", method=method, code=code) >= 1 and metrics

    return wait_until(counted, CALL_TIMEOUT_S, f"a {method} call answered {code}", server.log_tail)


def abandoned(before, after, skipped_stage):
    """Requests dropped before `skipped_stage` between two scrapes of /metrics."""
    name = "roiserve_abandoned_requests_total"
    return (metric_value(after, name, skipped_stage=skipped_stage)
            - metric_value(before, name, skipped_stage=skipped_stage))


def test_a_deadline_passing_in_the_queue_is_deadline_exceeded_and_the_work_never_runs(serial_server):
    server = serial_server
    before = server.metrics()
    slow = occupy_worker(server)
    error = call_error(server.stub().Detect, detect_request(shapes_png(0).read_bytes()), timeout=0.2)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert len(slow.result().results) == len(EVERY_VARIANT)
    # The server answers the expired call itself, as DEADLINE_EXCEEDED (not as
    # a cancellation), and drops its work: no batch ran but the Compare's.
    after = wait_counted(server, "DEADLINE_EXCEEDED")
    assert metric_value(after, "roiserve_requests_total", method="Detect", code="CANCELLED") == metric_value(
        before, "roiserve_requests_total", method="Detect", code="CANCELLED")
    assert batches_run(before, after) == 1, "only the Compare ran"
    assert abandoned(before, after, "decode") == 1
    assert "the deadline passed while the request waited" in server.log()


def stages_total(latencies):
    return next(latency.milliseconds for latency in latencies if latency.stage == "total")


def stage_ends(response):
    """Milliseconds from a Compare's receipt to the end of its decode, of its
    shared stages and of each variant's model stages, in the order they ran
    (every variant's encode comes after the last variant's model stages)."""
    shared = {latency.stage: latency.milliseconds for latency in response.shared_latency}
    decoded = shared["queue_wait"] + shared["decode"]
    ends = [decoded, decoded + shared["preprocess"] + shared["backbone"] + shared["rpn"]]
    for result in response.results:
        ends.append(ends[-1] + sum(latency.milliseconds for latency in result.latency if latency.stage != "encode"))
    return ends


SKIPPABLE_STAGES = ("decode", "preprocess", "box_pool", "encode")


def stages_skipped_by_a_deadline(server, request, aim):
    """Times `request` (a Compare), then sends it again with its deadline
    aim(*stage_ends) ms after receipt. Returns the first stages the server
    then skipped, by its metrics (empty: it answered in time), and what the
    aim was based on."""
    sent = time.perf_counter()
    response = server.stub().Compare(request, timeout=CALL_TIMEOUT_S)
    # Until the server has read the whole request (~1 ms here, tens under
    # ASan), its deadline runs but no stage does; the answer's way back is short.
    in_transit = (time.perf_counter() - sent) * 1000 - stages_total(response.shared_latency)
    ends = stage_ends(response)
    milliseconds = in_transit + aim(*ends)
    basis = f"deadline {milliseconds:.0f} ms, {in_transit:.0f} in transit, stage ends {[round(end) for end in ends]}"
    before = server.metrics()
    try:
        server.stub().Compare(request, timeout=milliseconds / 1000)
        return [], basis
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()

    def answered():
        after = server.metrics()

        def more(code):
            return (metric_value(after, "roiserve_requests_total", method="Compare", code=code)
                    > metric_value(before, "roiserve_requests_total", method="Compare", code=code))

        return (more("DEADLINE_EXCEEDED") or more("OK")) and (after, more("DEADLINE_EXCEEDED"))

    after, dropped = wait_until(answered, CALL_TIMEOUT_S, "the server to answer the expired Compare",
                                server.log_tail)
    assert batches_run(before, after) == 1
    if not dropped:
        # The server's deadline had not passed at its last boundary: the aim,
        # based on a slower way to the server than this call had, overshot,
        # and only the answer came late.
        return [], basis
    return [stage for stage in SKIPPABLE_STAGES if abandoned(before, after, stage)], basis


# Aims at a stage before a test gives up: each is based on the call before,
# and the other tests' load moves a stage by tens of percent between calls.
AIMS = 4

# A deadline inside a stage of a Compare (the last two variants are the
# slowest head, ps_roi_pool), and the first stage that then never runs.
DEADLINE_CASES = {
    "in decoding": (lambda decoded, shared, first, second, last: decoded / 2, "preprocess"),
    "in the shared stages": (lambda decoded, shared, first, second, last: (decoded * shared) ** 0.5, "box_pool"),
    # The third variant never runs.
    "in the second variant": (lambda decoded, shared, first, second, last: (first + second) / 2, "box_pool"),
    # Every variant ran; only the answer is late.
    "in the last variant": (lambda decoded, shared, first, second, last: (second * last) ** 0.5, "encode"),
}


@pytest.mark.parametrize("case", DEADLINE_CASES)
def test_a_deadline_passing_in_any_stage_stops_the_work_at_the_next_stage_boundary(serial_server, case):
    """A Compare of three variants on a 1280x1280 image (every stage lasts
    15 ms at least), with its deadline in one stage: the server drops the work
    at the next boundary (after decoding, after the shared stages, between
    variants), counts it under the first stage it skipped, and serves on.
    Other tests' load moves the stages by tens of percent from one call to
    the next, so a deadline that lands in a neighbouring stage is aimed again
    (AIMS in all)."""
    server = serial_server
    aim, expected = DEADLINE_CASES[case]
    image = encode(np.tile(rgb_pixels(3), (4, 4, 1)), "PNG")
    request = compare_request(image, [("roi_align", "roi_align"), ("ps_roi_pool", "roi_align"),
                                      ("ps_roi_pool", "roi_pool")])
    server.stub().Compare(request, timeout=CALL_TIMEOUT_S)  # the first decode of a size takes twice as long
    tries = [stages_skipped_by_a_deadline(server, request, aim)]
    while tries[-1][0] != [expected] and len(tries) < AIMS:
        tries.append(stages_skipped_by_a_deadline(server, request, aim))
    assert tries[-1][0] == [expected], f"{case}: skipped, aim after aim: {tries}"
    response = server.stub().Detect(detect_request(shapes_png(0).read_bytes()), timeout=CALL_TIMEOUT_S)
    assert len(response.detections) > 0


def test_a_cancelled_call_is_answered_cancelled_and_its_work_never_runs(serial_server):
    server = serial_server
    before = server.metrics()
    # A call stays in flight until gRPC has released it (OnDone), a little
    # after its client has the answer: wait for the previous tests' to go.
    wait_until(lambda: server.metric("roiserve_inflight_requests", method="Detect") == 0, CALL_TIMEOUT_S,
               "no Detect call in flight", server.log_tail)
    slow = occupy_worker(server)
    call = server.stub().Detect.future(detect_request(shapes_png(0).read_bytes()), timeout=CALL_TIMEOUT_S)
    wait_until(lambda: server.metric("roiserve_inflight_requests", method="Detect") == 1,
               CALL_TIMEOUT_S, "the Detect call to reach the server", server.log_tail)
    assert call.cancel()
    assert call.cancelled()
    assert len(slow.result().results) == len(EVERY_VARIANT)
    after = wait_counted(server, "CANCELLED")
    assert batches_run(before, after) == 1, "only the Compare ran"
    assert abandoned(before, after, "decode") == 1
    assert "the call was cancelled" in server.log()


def test_a_cancelled_stream_drops_its_queued_messages_and_the_server_serves_on(serial_server):
    server = serial_server
    before = server.metrics()
    slow = occupy_worker(server)
    small = encode(rgb_pixels(0)[:64, :64], "PNG")
    hang_up = threading.Event()

    def requests():  # five messages, then the stream stays open until cancelled
        for index in range(5):
            yield detect_request(small, request_id=f"m{index}")
        hang_up.wait(CALL_TIMEOUT_S)

    stream = server.stub().DetectStream(requests(), timeout=CALL_TIMEOUT_S)
    wait_until(lambda: server.metric("roiserve_queue_depth") == 5, CALL_TIMEOUT_S,
               "the five messages to wait in the queue", server.log_tail)
    stream.cancel()
    hang_up.set()
    assert len(slow.result().results) == len(EVERY_VARIANT)

    after = wait_counted(server, "CANCELLED", method="DetectStream")
    dropped = (metric_value(after, "roiserve_requests_total", method="DetectStream.message", code="CANCELLED")
               - metric_value(before, "roiserve_requests_total", method="DetectStream.message", code="CANCELLED"))
    assert dropped == 5
    assert batches_run(before, after) == 1, "only the Compare ran"
    response = server.stub().Detect(detect_request(small), timeout=CALL_TIMEOUT_S)
    assert (response.image_width, response.image_height) == (64, 64)


# ----- a full queue ----------------------------------------------------------------------

def test_a_burst_beyond_the_queue_is_refused_fast_and_the_rest_succeed():
    with ServerProcess("--max-queue-size", "1", "--max-batch-size", "1") as server:
        requests = [detect_request(shapes_png(i % 4).read_bytes(), mask_format=pb.MASK_FORMAT_NONE)
                    for i in range(12)]
        sent, answered, calls = [], {}, []
        for index, request in enumerate(requests):  # all sent before the first can be answered
            sent.append(time.monotonic())
            calls.append(server.stub().Detect.future(request, timeout=CALL_TIMEOUT_S))
            calls[-1].add_done_callback(lambda _, index=index: answered.setdefault(index, time.monotonic()))
        outcomes = [call.exception() for call in calls]
        refused = [index for index, error in enumerate(outcomes) if error is not None]
        served = [call for call, error in zip(calls, outcomes) if error is None]
        assert refused and served
        wait_until(lambda: len(answered) == len(calls), CALL_TIMEOUT_S, "every done callback")
        for index in refused:
            error = outcomes[index]
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
            assert "the model's queue is full (1 requests waiting); retry later" in error.details()
            assert answered[index] - sent[index] < FAST_REFUSAL_S, "refused at once, not after waiting"
        assert all(call.result().detections for call in served)
        assert server.metric("roiserve_requests_total", method="Detect", code="RESOURCE_EXHAUSTED") == len(refused)


# ----- dynamic batching ------------------------------------------------------------------

@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """Four images of one size (cropped shapes-v1 images) sent at once to a
    server that batches up to 4 and waits up to 50 ms for a batch to fill;
    their responses, and roiserve-detect's records of the same files."""
    directory = tmp_path_factory.mktemp("batched")
    files = []
    for index in range(4):
        files.append(directory / f"crop{index}.png")
        files[-1].write_bytes(encode(rgb_pixels(index)[:200, :240], "PNG"))
    expected = detect_json(directory, files)["images"]
    with ServerProcess("--max-batch-size", "4", "--max-queue-delay-ms", "50") as server:
        requests = [detect_request(path.read_bytes()) for path in files]  # all made before any is sent
        calls = [server.stub().Detect.future(request, timeout=CALL_TIMEOUT_S) for request in requests]
        responses = [call.result() for call in calls]
    return responses, expected


def test_concurrent_requests_share_a_batch(batched):
    responses, _ = batched
    sizes = [response.batch_size for response in responses]
    assert max(sizes) > 1, sizes
    # A batch of k images is reported by each of its k responses.
    assert all(sizes.count(size) % size == 0 for size in set(sizes)), sizes


# Batched images run through the backbone in one tensor, whose convolutions
# may sum in another order than one image's: results agree with roiserve-detect
# (one image at a time) to float rounding, not bit for bit. Measured: scores
# within 1e-6, boxes within 3e-5 px.
SCORE_TOLERANCE = 1e-4
BOX_TOLERANCE_PX = 0.01
MIN_MASK_IOU = 0.98


def test_batched_results_equal_roiserve_detect_within_rounding(batched):
    responses, expected = batched
    for response, record in zip(responses, expected):
        got = detection_records(response.detections)
        assert [d["category_id"] for d in got] == [d["category_id"] for d in record["detections"]]
        for mine, theirs in zip(got, record["detections"]):
            assert mine["score"] == pytest.approx(theirs["score"], abs=SCORE_TOLERANCE)
            assert mine["bbox"] == pytest.approx(theirs["bbox"], abs=BOX_TOLERANCE_PX)
            masks = [pycocotools_mask.decode({**d["segmentation"], "counts": d["segmentation"]["counts"].encode()})
                     for d in (mine, theirs)]
            union = np.logical_or(*masks).sum()
            assert union == 0 or np.logical_and(*masks).sum() / union >= MIN_MASK_IOU


def test_requests_of_one_batch_each_run_with_their_own_score_threshold():
    """Two requests batched together whose score thresholds print alike to six
    decimals (the batch's old grouping key rounded them together, and both ran
    with the first one's): one just below a detection's score keeps it, one at
    the score drops it."""
    image = shapes_png(0).read_bytes()
    options = dict(head="roi_align", mask_format=pb.MASK_FORMAT_NONE)
    with ServerProcess("--max-batch-size", "2", "--max-queue-delay-ms", "2000") as server:
        def batch_of_two(first_threshold, second_threshold):
            requests = [detect_request(image, score_threshold=threshold, **options)
                        for threshold in (first_threshold, second_threshold)]
            calls = [server.stub().Detect.future(request, timeout=CALL_TIMEOUT_S) for request in requests]
            responses = [call.result() for call in calls]
            assert [response.batch_size for response in responses] == [2, 2]
            return [[detection.score for detection in response.detections] for response in responses]

        # The reference is computed as the pair below will be: batched with
        # another image, its head run on its image alone.
        reference, _ = batch_of_two(0.0, 0.5)
        # Scores are float32, compared with the threshold in float32: the float
        # just below a score keeps it, the score itself does not.
        straddled = [(score, float(np.nextafter(np.float32(score), np.float32(0)))) for score in reference]
        pair = next(((score, below) for score, below in straddled if f"{score:.6f}" == f"{below:.6f}"), None)
        assert pair, f"no score to put two thresholds around: {reference}"
        score, below = pair
        for first, second in ((below, score), (score, below)):
            scores = dict(zip((first, second), batch_of_two(first, second)))
            assert scores[below].count(score) == reference.count(score) >= 1, (below, scores[below])
            assert score not in scores[score], (score, scores[score])
            assert len(scores[below]) == len(scores[score]) + reference.count(score)


# ----- startup failures -------------------------------------------------------------------

def test_a_setting_out_of_range_exits_2_naming_it():
    completed = run_server("--model", SHIPPED_MODEL, "--max-batch-size", "0")
    assert completed.returncode == 2
    assert "'batching of" in completed.stderr and "max_batch_size' is 0; it must be in 1..256" in completed.stderr


def test_a_missing_model_bundle_exits_1_naming_it(tmp_path):
    completed = run_server("--model", tmp_path / "nowhere")
    assert completed.returncode == 1
    assert f"cannot load model bundle '{tmp_path / 'nowhere'}'" in completed.stdout + completed.stderr


def cut_in_half(path):
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


@pytest.mark.parametrize("corrupt, file, message", [
    (cut_in_half, "weights.pt", "not a readable PyTorch file"),
    (lambda path: path.write_text("model: [unclosed\n"), "model.yaml", "not valid YAML"),
], ids=["weights-cut-in-half", "model-yaml-not-yaml"])
def test_a_corrupt_model_bundle_exits_1_naming_the_file(tmp_path, corrupt, file, message):
    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_MODEL, bundle)
    corrupt(bundle / file)
    completed = run_server("--model", bundle)
    assert completed.returncode == 1
    assert f"cannot load model bundle '{bundle}': {bundle / file}: {message}" in completed.stdout + completed.stderr


# ----- SIGTERM: the drain -------------------------------------------------------------------

# Far longer than the drain takes: a server that waited for it would fail the
# bounded wait for its exit rather than pass slowly.
LONG_GRACE_S = "300"


def test_sigterm_lets_in_flight_calls_finish_refuses_new_ones_and_exits_0():
    with ServerProcess("--shutdown-grace-s", LONG_GRACE_S) as server:
        image = shapes_png(3).read_bytes()
        calls = [server.stub().Compare.future(compare_request(image, [(head, "") for head in HEADS]),
                                              timeout=CALL_TIMEOUT_S) for _ in range(4)]
        wait_until(lambda: server.metric("roiserve_inflight_requests", method="Compare") == 4, CALL_TIMEOUT_S,
                   "4 Compare calls in flight", server.log_tail)
        server.signal_stop()

        def refused():
            try:  # on a new connection: accepted until the server stops listening
                pb_grpc.DetectionServiceStub(server.channel()).ListModels(pb.ListModelsRequest(), timeout=5)
            except grpc.RpcError as error:
                # A call that reaches the server in the instant its gRPC core
                # starts shutting down is cancelled by the core (CANCELLED,
                # which the API does not document); after that, every new
                # call is UNAVAILABLE.
                return error if error.code() != grpc.StatusCode.CANCELLED else None

        error = wait_until(refused, CALL_TIMEOUT_S, "new calls to be refused", server.log_tail)
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        assert server.process.poll() is None, "refused while draining, not because the server is gone"
        error = call_error(server.stub().Detect, detect_request(image))  # and on the connection in use
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        for call in calls:
            assert [result.variant.head for result in call.result().results] == list(HEADS)
        server.close_channels()
        assert server.wait_exit() == 0
        log = server.log()
        assert log.index("event=draining") < log.rindex("method=Compare code=OK"), "calls finished while draining"
        assert "event=stopped" in log


def test_health_watch_turns_not_serving_when_the_server_drains():
    with ServerProcess("--shutdown-grace-s", LONG_GRACE_S) as server:
        watches = [server.health().Watch(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_S)
                   for service in ("", "roiserve.v1.DetectionService")]
        assert [next(watch).status for watch in watches] == [health_pb2.HealthCheckResponse.SERVING] * 2
        server.signal_stop()
        assert [next(watch).status for watch in watches] == [health_pb2.HealthCheckResponse.NOT_SERVING] * 2
        probe = client_tool("--target", server.address, "--health")
        assert probe.returncode == 1 and "SERVING" not in probe.stdout, (probe.stdout, probe.stderr)
        # gRPC's health service never ends a Watch itself: the client hangs up.
        for watch in watches:
            watch.cancel()
        server.close_channels()
        assert server.wait_exit() == 0


# ----- a restart under load -------------------------------------------------------------------

def answered_calls(server):
    """request_id -> (code, error) of every Detect call the server's JSON log records."""
    calls = {}
    for line in server.log().splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "request" and event["method"] == "Detect":
                calls[event["request_id"]] = (event["code"], event.get("error", ""))
    return calls


def test_a_restart_under_load_loses_no_call_the_server_accepted():
    """Two clients call Detect without pause while the server is stopped with
    SIGTERM and a new one started on its port. A client retries a call that
    fails (with a new request_id), as one behind a load balancer would. Every
    call a server accepted is answered OK and reaches its client; the others
    are refused UNAVAILABLE by the draining server (or by the new one while
    it loads its model), or never reached one; every request succeeds in the
    end."""
    image = encode(rgb_pixels(0)[:96, :96], "PNG")
    flags = ("--shutdown-grace-s", LONG_GRACE_S, "--log-format", "json")
    outcomes = {}  # request_id -> (client-side code, details)
    succeeded = []  # per client: requests that ended OK
    abandoned_requests = []  # failed when the test was already over
    stop = threading.Event()

    def client(name, address):
        channel = grpc.insecure_channel(address)
        stub = pb_grpc.DetectionServiceStub(channel)
        done = 0
        for request_index in itertools.count():
            if stop.is_set():
                break
            for attempt in itertools.count():
                request_id = f"{name}-{request_index}-{attempt}"
                try:  # wait_for_ready: while no server listens, the call waits for one
                    stub.Detect(detect_request(image, request_id=request_id, mask_format=pb.MASK_FORMAT_NONE),
                                timeout=CALL_TIMEOUT_S, wait_for_ready=True)
                    outcomes[request_id] = ("OK", "")
                    done += 1
                    break
                except grpc.RpcError as error:
                    outcomes[request_id] = (error.code().name, error.details())
                    if stop.is_set():
                        abandoned_requests.append(request_id)
                        break
                    time.sleep(0.02)
        succeeded.append(done)
        channel.close()

    with contextlib.ExitStack() as cleanup:
        first = cleanup.enter_context(ServerProcess(*flags))
        cleanup.callback(stop.set)  # the clients end before a server stops, when the test fails
        clients = [threading.Thread(target=client, args=(f"c{index}", first.address), daemon=True)
                   for index in range(2)]
        for thread in clients:
            thread.start()
        wait_until(lambda: first.metric("roiserve_requests_total", method="Detect", code="OK") >= 10,
                   CALL_TIMEOUT_S, "the first server to serve 10 calls", first.log_tail)
        first.close_channels()
        first.signal_stop()
        assert first.wait_exit() == 0
        second = cleanup.enter_context(ServerProcess(*flags, listen=first.address))
        cleanup.callback(stop.set)
        wait_until(lambda: second.metric("roiserve_requests_total", method="Detect", code="OK") >= 10,
                   CALL_TIMEOUT_S, "the second server to serve 10 calls", second.log_tail)
        stop.set()
        for thread in clients:
            thread.join(CALL_TIMEOUT_S)
        assert not any(thread.is_alive() for thread in clients), "a call hung"
        logged = {**answered_calls(first), **answered_calls(second)}

    assert not abandoned_requests, "every request succeeds in the end"
    for request_id, (code, error) in logged.items():
        assert code in ("OK", "UNAVAILABLE"), (request_id, code, error)
        assert code == "OK" or error in ("the server is shutting down", "the server is loading its models"), (
            request_id, error)
        assert outcomes[request_id][0] == code, f"{request_id}: the server answered {code}, the client got " \
                                                f"{outcomes[request_id]}"
    for request_id, (code, details) in outcomes.items():
        assert code in ("OK", "UNAVAILABLE", "CANCELLED"), (request_id, code, details)
        # A failed call not logged never reached a server's handler (the old
        # one's gRPC core had shut down, or its connection had closed).
        if code == "OK":
            assert request_id in logged, request_id
    assert len(succeeded) == 2 and sum(succeeded) >= 20
    refused = [request_id for request_id, (code, _) in logged.items() if code == "UNAVAILABLE"]
    print(f"restart under load: {len(outcomes)} calls, {sum(succeeded)} requests served, "
          f"{len(refused)} refused by the draining server, "
          f"{sum(code != 'OK' and request_id not in logged for request_id, (code, _) in outcomes.items())} "
          f"reached no server")
