"""The HTTP frontend and roiserve's own /v1 JSON routes, on a real server
over loopback: /v1/detect (raw body, multipart, JSON), /v1/compare and
/v1/models answer what gRPC's Detect, Compare and GetModelInfo answer for the
same image and options; every rejection has its HTTP status and a JSON
{"error": ...} body, and the server answers the next valid call; bearer
tokens, TLS and per-route metrics as on the gRPC side."""
import base64
import http.client
import json
import resource

import numpy as np
import pytest
import requests
from google.protobuf import json_format

from service_support import (CALL_TIMEOUT_S, DETECT_STAGES, SHARED_STAGES, ServerProcess, compare_request,
                             detect_request, detection_records, encode, make_certificates, metric_value, pb, serve,
                             shapes_png)

MAX_MESSAGE_BYTES = 4 << 20
MAX_IMAGE_PIXELS = 1 << 20
TOKEN = "http-secret-token"


@pytest.fixture(scope="module")
def server():
    yield from serve("--max-message-bytes", MAX_MESSAGE_BYTES, "--max-image-pixels", MAX_IMAGE_PIXELS)


def url(server, path, scheme="http"):
    return f"{scheme}://{server.http_address}{path}"


def post(server, path, **kwargs):
    kwargs.setdefault("timeout", CALL_TIMEOUT_S)
    return requests.post(url(server, path), **kwargs)


def png(index=0):
    return shapes_png(index).read_bytes()


def grpc_detect_record(server, image, **options):
    response = server.stub().Detect(detect_request(image, **options), timeout=CALL_TIMEOUT_S)
    return {"width": response.image_width, "height": response.image_height,
            "detections": detection_records(response.detections)}


def only_results(record):
    """What two calls on the same image agree on: all but file and timings."""
    return {key: record[key] for key in ("width", "height", "detections")}


def the_image(answer):
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    document = answer.json()
    (image,) = document["images"]
    return document, image


def assert_served_next(server):
    """After a rejection: the next valid call is answered."""
    _, image = the_image(post(server, "/v1/detect", data=png(), headers={"Content-Type": "image/png"}))
    assert image["detections"]


# ----- /v1/detect ----------------------------------------------------------------------

def test_detect_with_the_image_as_the_body_equals_grpc_detect(server):
    answer = post(server, "/v1/detect?head=roi_pool&score_threshold=0.3&request_id=first",
                  data=png(1), headers={"Content-Type": "image/png"})
    document, image = the_image(answer)
    assert (document["model"], document["request_id"]) == ("shapes-v1", "first")
    assert image["detections"], "the shapes-v1 image has objects"
    assert only_results(image) == grpc_detect_record(server, png(1), head="roi_pool", score_threshold=0.3)
    assert list(image["timings_ms"]) == sorted(DETECT_STAGES), "every stage, as roiserve-detect writes them"


def test_detect_multipart_with_a_json_request_part_equals_grpc_detect(server):
    request = {"options": {"head": "spp", "mask_pooler": "roi_pool", "max_detections": 3}, "request_id": "parts"}
    answer = post(server, "/v1/detect", files={"image": ("shape.png", png(2), "image/png"),
                                               "request": (None, json.dumps(request), "application/json")})
    document, image = the_image(answer)
    assert (document["request_id"], image["file"]) == ("parts", "shape.png")
    assert len(image["detections"]) <= 3
    assert only_results(image) == grpc_detect_record(server, png(2), head="spp", mask_pooler="roi_pool",
                                                     max_detections=3)


def test_detect_takes_the_json_of_a_detect_request_with_its_image(server):
    request = {"image": {"encoded": base64.b64encode(png(0)).decode()}, "options": {"mask_format": "MASK_FORMAT_NONE"}}
    _, image = the_image(post(server, "/v1/detect", json=request))
    assert only_results(image) == grpc_detect_record(server, png(0), mask_format=pb.MASK_FORMAT_NONE)
    assert all("segmentation" not in detection for detection in image["detections"])


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/plain;charset=UTF-8",
                                          "application/x-www-form-urlencoded"])
def test_detect_reads_a_raw_image_whatever_content_type_a_browser_or_curl_sends(server, content_type):
    # curl --data-binary sends application/x-www-form-urlencoded: as a form,
    # a body over 8 KiB would be refused.
    body = png(3)
    assert len(body) > 8192
    headers = {"Content-Type": content_type} if content_type else {}
    _, image = the_image(post(server, "/v1/detect?mask_format=none", data=body, headers=headers))
    assert only_results(image) == grpc_detect_record(server, body, mask_format=pb.MASK_FORMAT_NONE)


def test_query_parameters_apply_over_the_json_request(server):
    request = {"options": {"head": "spp", "score_threshold": 0.9}}
    answer = post(server, "/v1/detect?score_threshold=0.2", files={"image": ("a.png", png(1)),
                                                                   "request": (None, json.dumps(request))})
    _, image = the_image(answer)
    assert only_results(image) == grpc_detect_record(server, png(1), head="spp", score_threshold=0.2)


# ----- /v1/compare -------------------------------------------------------------------------

def test_compare_equals_grpc_compare_with_every_variant_agreement_and_fingerprint(server):
    answer = post(server, "/v1/compare?variants=roi_align/roi_align,spp/roi_pool,ps_roi_pool&request_id=ab",
                  data=png(1), headers={"Content-Type": "image/png"})
    document, image = the_image(answer)
    assert document["request_id"] == "ab"
    expected = server.stub().Compare(
        compare_request(png(1), [("roi_align", "roi_align"), ("spp", "roi_pool"), ("ps_roi_pool", "")]),
        timeout=CALL_TIMEOUT_S)
    assert [(variant["head"], variant["mask_pooler"]) for variant in image["variants"]] == \
        [(result.variant.head, result.variant.mask_pooler) for result in expected.results]
    for variant, result in zip(image["variants"], expected.results):
        assert variant["detections"] == detection_records(result.detections)
        assert variant["num_proposals"] == result.num_proposals
        assert variant["proposals_fingerprint"] == result.proposals_fingerprint != ""
        assert {"box_pool", "box_head", "postprocess", "encode"} <= set(variant["timings_ms"])
    assert len({variant["proposals_fingerprint"] for variant in image["variants"]}) == 1, "equal proposals"
    assert set(image["timings_ms"]) == set(SHARED_STAGES) | {"total"}
    assert [(agreement["a"], agreement["b"], agreement["matched"], agreement["only_a"], agreement["only_b"])
            for agreement in image["agreements"]] == \
        [(agreement.a, agreement.b, agreement.matched, agreement.only_a, agreement.only_b)
         for agreement in expected.agreements]
    assert [agreement["mean_iou"] for agreement in image["agreements"]] == \
        pytest.approx([agreement.mean_iou for agreement in expected.agreements])


def test_compare_multipart_with_a_json_compare_request(server):
    request = {"variants": [{"head": "roi_pool"}, {"head": "spp"}], "options": {"mask_format": "MASK_FORMAT_NONE"},
               "match_iou": 0.7}
    answer = post(server, "/v1/compare", files={"image": ("b.png", png(0)), "request": (None, json.dumps(request))})
    _, image = the_image(answer)
    assert [variant["head"] for variant in image["variants"]] == ["roi_pool", "spp"]
    assert len(image["agreements"]) == 1
    assert all("segmentation" not in detection for variant in image["variants"] for detection in variant["detections"])


# ----- /v1/models and /metrics ----------------------------------------------------------------

def test_models_lists_what_get_model_info_says_per_model(server):
    answer = requests.get(url(server, "/v1/models"), timeout=CALL_TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    (model,) = answer.json()["models"]
    info = json_format.MessageToDict(server.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=CALL_TIMEOUT_S),
                                     preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    assert {key: value for key, value in model.items() if key not in ("is_default", "ready")} == info
    assert (model["is_default"], model["ready"]) == (True, True)


def test_metrics_count_http_requests_per_route_template(server):
    before = server.metrics()
    post(server, "/v1/detect?mask_format=none", data=png(0), headers={"Content-Type": "image/png"})
    missing = requests.get(url(server, "/v2/nothing/here"), timeout=CALL_TIMEOUT_S)
    assert missing.status_code == 404 and "error" in missing.json()
    after = server.metrics()
    for route, code in (("/v1/detect", "200"), ("unmatched", "404")):
        assert metric_value(after, "roiserve_http_requests_total", route=route, code=code) == \
            metric_value(before, "roiserve_http_requests_total", route=route, code=code) + 1
    assert metric_value(after, "roiserve_http_request_duration_seconds_count", route="/v1/detect") >= 1
    assert metric_value(after, "roiserve_requests_total", method="POST /v1/detect", code="OK") >= 1


# ----- rejections ------------------------------------------------------------------------------

def big_png():
    """A PNG over the pixel limit that is small in bytes (the limit is checked before decoding)."""
    side = int(np.sqrt(MAX_IMAGE_PIXELS)) + 8
    return encode(np.zeros((side, side, 3), np.uint8), "PNG")


@pytest.mark.parametrize("path, body, headers, status, message", [
    ("/v1/detect?model=nope", "png", {}, 404, "nope"),
    ("/v1/detect?head=no_such_head", "png", {}, 400, "has no box head 'no_such_head'"),
    ("/v1/detect?score_threshold=2", "png", {}, 400, "score_threshold must be in [0, 1]"),
    ("/v1/detect?score_threshold=high", "png", {}, 400, "score_threshold must be a number"),
    ("/v1/detect?max_detections=-1", "png", {}, 400, "max_detections must be a whole number"),
    ("/v1/detect?mask_format=jpeg", "png", {}, 400, "mask_format must be none, coco_rle or png"),
    ("/v1/detect?scores=0.5", "png", {}, 400, "unknown query parameter 'scores'"),
    ("/v1/detect", b'{"options": {"head": 3}', {"Content-Type": "application/json"}, 400,
     "the request JSON is not a DetectRequest"),
    ("/v1/detect", b"not an image at all", {}, 400, "unsupported image format"),
    ("/v1/detect", b"", {}, 400, "the image is empty"),
    ("/v1/detect", "big", {}, 400, "over this server's limit"),
    ("/v1/detect", "huge", {}, 413, "over this server's limit of 4194304 bytes"),
    ("/v1/compare?variants=spp", "png", {}, 400, "Compare needs 2..8 variants (got 1)"),
    ("/v1/compare?variants=spp,spp", "png", {}, 400, "twice"),
    ("/v1/detect", "png", {"grpc-timeout": "soon"}, 400, "grpc-timeout must be"),
    ("/v1/detect", "png", {"grpc-timeout": "1n"}, 504, "deadline"),
], ids=["unknown-model", "unknown-head", "threshold-range", "threshold-text", "negative-count", "mask-format",
        "unknown-parameter", "malformed-json", "malformed-image", "empty-image", "over-pixel-limit", "oversized-body",
        "one-variant", "repeated-variant", "malformed-timeout", "expired-deadline"])
def test_each_rejection_has_its_status_and_a_json_error_and_the_next_call_is_served(server, path, body, headers,
                                                                                   status, message):
    data = {"png": png(0), "big": big_png(), "huge": b"\0" * (MAX_MESSAGE_BYTES + 1)}.get(body, body)
    answer = post(server, path, data=data, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert message.lower() in answer.json()["error"].lower()
    assert_served_next(server)


def test_multipart_without_an_image_part_is_refused(server):
    answer = post(server, "/v1/detect", files={"request": (None, "{}")})
    assert (answer.status_code, answer.json()) == (400, {"error": "the multipart body has no 'image' part"})


def test_bytes_that_are_not_utf8_in_an_error_are_replaced_not_a_fault(server):
    # The unknown model's name is echoed in the error, and the error is
    # logged: neither the JSON body nor the log line may throw on it.
    answer = post(server, "/v1/detect?model=%FF%FEmodel", data=png(0), headers={"Content-Type": "image/png"})
    assert answer.status_code == 404, answer.text
    assert "\ufffd\ufffdmodel" in answer.json()["error"]
    assert_served_next(server)


def virtual_memory_bytes(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    pytest.fail("no VmSize in /proc/{pid}/status")


def test_an_allocation_that_fails_while_a_request_is_admitted_is_a_status_and_the_server_serves_on():
    # A fault provoked for real: the server's address space is capped just
    # above what it maps once warm, and a request declares a body that is
    # within max_message_bytes but over that cap. Reserving the body throws
    # std::bad_alloc, which must become RESOURCE_EXHAUSTED (429), logged
    # once, and not take the server down.
    with ServerProcess("--max-message-bytes", 1 << 30) as limited:
        assert_served_next(limited)
        pid = limited.process.pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_AS)
        resource.prlimit(pid, resource.RLIMIT_AS, (virtual_memory_bytes(pid) + (256 << 20), hard))
        try:
            connection = http.client.HTTPConnection(limited.http_address, timeout=CALL_TIMEOUT_S)
            connection.putrequest("POST", "/v1/detect")
            connection.putheader("Content-Type", "image/png")
            connection.putheader("Content-Length", str(768 << 20))
            connection.endheaders(png(0)[:64])
            answer = connection.getresponse()
            assert answer.status == 429
            assert json.loads(answer.read()) == {
                "error": "the server ran out of memory while reading the request body"}
            connection.close()
            assert_served_next(limited)
            assert limited.stub().Detect(detect_request(png(0)), timeout=CALL_TIMEOUT_S).detections
        finally:
            resource.prlimit(pid, resource.RLIMIT_AS, (hard, hard))
        assert limited.log().count("ran out of memory") == 1, limited.log_tail()


# ----- tokens and TLS ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    path.write_text(f"{TOKEN}\n")
    yield from serve("--auth-token-file", path)


@pytest.mark.parametrize("authorization, message", [
    (None, "this server needs 'authorization: Bearer <token>' header"),
    ("Bearer not-the-token", "the bearer token is not valid"),
    (TOKEN, "the authorization header must be 'Bearer <token>'"),
], ids=["none", "wrong", "no-scheme"])
def test_routes_need_the_bearer_token_of_the_grpc_side(auth_server, authorization, message):
    headers = {"Content-Type": "image/png", **({"Authorization": authorization} if authorization else {})}
    for method, path in (("POST", "/v1/detect"), ("POST", "/v1/compare?variants=spp,roi_pool"), ("GET", "/v1/models")):
        answer = requests.request(method, url(auth_server, path), data=png(0), headers=headers,
                                  timeout=CALL_TIMEOUT_S)
        assert (answer.status_code, answer.json()) == (401, {"error": message}), path
    served = post(auth_server, "/v1/detect", data=png(0),
                  headers={"Content-Type": "image/png", "Authorization": f"Bearer {TOKEN}"})
    assert served.status_code == 200, served.text
    assert "# TYPE roiserve_http_requests_total counter" in auth_server.metrics(), "/metrics stays open"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def test_the_http_port_serves_tls_with_the_grpc_port_certificate(certificates):
    from service_support import tls_credentials
    with ServerProcess("--tls-cert", certificates["server.crt"], "--tls-key", certificates["server.key"],
                       credentials=tls_credentials(certificates["ca.crt"])) as tls_server:
        answer = requests.post(url(tls_server, "/v1/detect", "https"), data=png(0),
                               headers={"Content-Type": "image/png"}, verify=str(certificates["ca.crt"]),
                               timeout=CALL_TIMEOUT_S)
        _, image = the_image(answer)
        assert only_results(image) == grpc_detect_record(tls_server, png(0))
        metrics = requests.get(url(tls_server, "/metrics", "https"), verify=str(certificates["ca.crt"]),
                               timeout=CALL_TIMEOUT_S)
        assert metrics.status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url(tls_server, "/v1/models"), timeout=CALL_TIMEOUT_S)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url(tls_server, "/v1/models", "https"), verify=str(certificates["other-ca.crt"]),
                         timeout=CALL_TIMEOUT_S)


def test_with_a_client_ca_the_http_port_requires_a_client_certificate_it_signed(certificates):
    from service_support import tls_credentials
    with ServerProcess("--tls-cert", certificates["server.crt"], "--tls-key", certificates["server.key"],
                       "--tls-client-ca", certificates["ca.crt"],
                       credentials=tls_credentials(certificates["ca.crt"], certificates["client.crt"],
                                                   certificates["client.key"])) as mutual:
        models = url(mutual, "/v1/models", "https")
        signed = requests.get(models, verify=str(certificates["ca.crt"]), timeout=CALL_TIMEOUT_S,
                              cert=(str(certificates["client.crt"]), str(certificates["client.key"])))
        assert signed.status_code == 200, signed.text
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(models, verify=str(certificates["ca.crt"]), timeout=CALL_TIMEOUT_S)
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(models, verify=str(certificates["ca.crt"]), timeout=CALL_TIMEOUT_S,
                        cert=(str(certificates["client-expired.crt"]), str(certificates["client.key"])))
