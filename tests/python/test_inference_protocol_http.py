"""The Open Inference Protocol's REST side (/v2 on roiserve's HTTP port),
called by Triton's own HTTP client from PyPI (JSON with its binary data
extension) and by plain HTTP as curl sends it: health, metadata,
configuration, inference equal to roiserve.v1 Detect's, statistics, the
repository extension with the admin token, and every rejection with its
HTTP status and {"error": ...} body, after which the server serves on."""
import base64
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from inference_protocol_support import (  # noqa: F401  (server, auth_server: fixtures)
    ADMIN_TOKEN, MAX_MESSAGE_BYTES, MODEL, OUTPUTS, USER_TOKEN, auth_server, bearer, big_png, detect, detect_records,
    httpclient, image_input, infer_error, latency_names, per_image, raw_input, server)
from service_support import DETECT_STAGES, SHIPPED_MODEL, encode, pb, rgb_pixels, shapes_png


@pytest.fixture(scope="module")
def client(server):
    triton = httpclient.InferenceServerClient(server.http_address, network_timeout=60, connection_timeout=60)
    yield triton
    triton.close()


def http(server, method, path, body=None, headers=None):
    """(status, headers, body bytes) of a plain HTTP call, as curl makes it."""
    request = urllib.request.Request(f"http://{server.http_address}{path}", data=body, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def infer_json(server, body, model=MODEL, headers=None):
    return http(server, "POST", f"/v2/models/{model}/infer", json.dumps(body).encode(),
                {"Content-Type": "application/json", **(headers or {})})


def png_input_json(png):
    return {"name": "IMAGE", "datatype": "BYTES", "shape": [1], "data": [{"b64": base64.b64encode(png).decode()}]}


def test_health_metadata_and_config(client, server):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL) and not client.is_model_ready("no-such-model")
    assert client.get_server_metadata()["name"] == "roiserve"
    metadata = client.get_model_metadata(MODEL)
    assert [tensor["name"] for tensor in metadata["outputs"]] == OUTPUTS
    assert metadata["inputs"][1] == {"name": "RAW", "datatype": "UINT8", "shape": ["-1", "-1", "-1", "3"]}
    config = client.get_model_config(MODEL)
    assert [tensor["name"] for tensor in config["output"]] == OUTPUTS
    assert http(server, "GET", "/v2/health/live")[0] == 200
    status, _, body = http(server, "GET", "/v2/health/ready")
    assert status == 200 and json.loads(body) == {"ready": True}
    status, _, body = http(server, "GET", f"/v2/models/{MODEL}/versions/1")
    assert status == 200 and json.loads(body)["name"] == MODEL


def test_binary_image_equals_detect(server, client):
    png = shapes_png(0).read_bytes()
    result = client.infer(MODEL, [image_input(httpclient, [png])])
    [detections] = per_image(result, 1)
    assert detections and detections == detect_records(detect(server, png))
    assert latency_names(result.get_response()["parameters"]) == DETECT_STAGES


def test_raw_batch_equals_detect(server, client):
    pixels = np.stack([rgb_pixels(1), rgb_pixels(1)[:, ::-1]])
    result = client.infer(MODEL, [raw_input(httpclient, pixels)], parameters={"head": "spp", "score_threshold": 0.25})
    expected = [detect_records(detect(server, encode(np.ascontiguousarray(image), "PNG"), head="spp",
                                      score_threshold=0.25)) for image in pixels]
    assert per_image(result, 2) == expected


def test_json_outputs_equal_binary_outputs(client):
    inputs = [image_input(httpclient, [shapes_png(2).read_bytes()])]
    binary = client.infer(MODEL, inputs)
    as_json = client.infer(MODEL, inputs, outputs=[httpclient.InferRequestedOutput(name, binary_data=False)
                                                   for name in OUTPUTS])
    assert "binary_data_size" not in json.dumps(as_json.get_response())
    assert per_image(as_json, 1) == per_image(binary, 1)


def test_curl_style_json_request(server):
    png = shapes_png(3).read_bytes()
    status, headers, body = infer_json(server, {"id": "curl-1", "inputs": [png_input_json(png)],
                                                "parameters": {"mask_format": "none"},
                                                "outputs": [{"name": "BOXES"}, {"name": "CLASS_NAMES"}]})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["id"] == "curl-1" and answer["model_name"] == MODEL
    assert [output["name"] for output in answer["outputs"]] == ["BOXES", "CLASS_NAMES"]
    boxes, names = answer["outputs"]
    expected = detect(server, png, mask_format=pb.MASK_FORMAT_NONE)
    assert boxes["shape"] == [len(expected.detections), 4]
    assert np.array_equal(np.float32(boxes["data"]).reshape(-1, 4),
                          np.float32([[d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in expected.detections]))
    assert names["data"] == [d.class_name for d in expected.detections]


def test_statistics_and_repository_index(client, server):
    client.infer(MODEL, [image_input(httpclient, [shapes_png(0).read_bytes()])])
    stats = client.get_inference_statistics(MODEL)["model_stats"][0]
    assert int(stats["inference_count"]) >= 1 and int(stats["inference_stats"]["success"]["count"]) >= 1
    assert [model["name"] for model in client.get_inference_statistics()["model_stats"]] == [MODEL]
    assert client.get_model_repository_index() == [{"name": MODEL, "version": "1", "state": "READY"}]


REJECTIONS = {
    "unknown model": (404, "no-such-model", {"inputs": [png_input_json(b"x")]}, "no-such-model"),
    "IMAGE not BYTES": (400, MODEL, {"inputs": [{"name": "IMAGE", "datatype": "FP32", "shape": [1], "data": [1.0]}]},
                        "input IMAGE must be BYTES (got FP32)"),
    "RAW of wrong shape": (400, MODEL, {"inputs": [{"name": "RAW", "datatype": "UINT8", "shape": [2, 2],
                                                    "data": [1, 2, 3, 4]}]}, "input RAW must have shape"),
    "RAW shorter than its shape": (400, MODEL, {"inputs": [{"name": "RAW", "datatype": "UINT8", "shape": [2, 2, 3],
                                                            "data": [1, 2, 3]}]}, "elements where its shape says 12"),
    "malformed image": (400, MODEL, {"inputs": [png_input_json(b"not an image")]}, "image"),
    "image over the pixel limit": (400, MODEL, {"inputs": [png_input_json(big_png())]}, "1001x1001"),
    "unknown parameter": (400, MODEL, {"inputs": [png_input_json(b"x")], "parameters": {"treshold": 1}},
                          "unknown parameter 'treshold'"),
    "no inputs": (400, MODEL, {"outputs": []}, "no \"inputs\""),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_rejections_then_the_server_serves_on(server, client, case):
    status, model, body, message = REJECTIONS[case]
    answer_status, _, answer = infer_json(server, body, model=model)
    assert answer_status == status, answer
    assert message in json.loads(answer)["error"]
    assert len(client.infer(MODEL, [image_input(httpclient, [shapes_png(0).read_bytes()])]).as_numpy("SCORES")) > 0


def test_malformed_and_oversized_bodies(server, client):
    status, _, answer = http(server, "POST", f"/v2/models/{MODEL}/infer", b"{not json",
                             {"Content-Type": "application/json"})
    assert status == 400 and "not JSON" in json.loads(answer)["error"]
    status, _, answer = http(server, "POST", f"/v2/models/{MODEL}/infer", b'{"inputs": []}',
                             {"Inference-Header-Content-Length": "99"})
    assert status == 400 and "Inference-Header-Content-Length" in json.loads(answer)["error"]
    status, _, answer = http(server, "POST", f"/v2/models/{MODEL}/infer", bytes(MAX_MESSAGE_BYTES + 1),
                             {"Content-Type": "application/octet-stream"})
    assert status == 413 and "limit" in json.loads(answer)["error"]
    error = infer_error(client.infer, MODEL, [image_input(httpclient, [b"junk"])])
    assert error.status() == "400"
    assert len(client.infer(MODEL, [image_input(httpclient, [shapes_png(0).read_bytes()])]).as_numpy("SCORES")) > 0


# ----- tokens and the repository extension ------------------------------------------------

def test_tokens(auth_server):
    assert http(auth_server, "GET", "/v2/health/live")[0] == 200, "probes need no token"
    assert http(auth_server, "GET", "/v2/health/ready")[0] == 200
    for headers in ({}, bearer("wrong-token")):
        status, _, answer = infer_json(auth_server, {"inputs": [png_input_json(shapes_png(0).read_bytes())]},
                                       headers=headers)
        assert status == 401 and "wrong-token" not in answer.decode()
        assert http(auth_server, "GET", f"/v2/models/{MODEL}", headers=headers)[0] == 401
    status, _, _ = infer_json(auth_server, {"inputs": [png_input_json(shapes_png(0).read_bytes())]},
                              headers=bearer(USER_TOKEN))
    assert status == 200


def test_repository_load_and_unload_with_the_admin_token(auth_server):
    client = httpclient.InferenceServerClient(auth_server.http_address, network_timeout=120)
    user, admin = bearer(USER_TOKEN), bearer(ADMIN_TOKEN)
    try:
        status, _, answer = http(auth_server, "POST", "/v2/repository/models/second/load",
                                 json.dumps({"parameters": {"path": str(SHIPPED_MODEL)}}).encode(), admin)
        assert status == 200, answer
        assert client.is_model_ready("second", headers=user)
        error = infer_error(client.unload_model, "second", headers=user)
        assert error.status() == "403"
        client.unload_model("second", headers=admin)
        assert not client.is_model_ready("second", headers=user)
        index = client.get_model_repository_index(headers=user)
        assert {"name": "second", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"} in index
        status, _, answer = http(auth_server, "POST", "/v2/repository/models/second/load",
                                 json.dumps({"parameters": {"config": "{}"}}).encode(), admin)
        assert status == 400 and "config" in json.loads(answer)["error"]
        client.load_model("second", headers=admin)
        assert client.is_model_ready("second", headers=user)
    finally:
        client.close()
