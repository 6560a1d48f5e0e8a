"""The Open Inference Protocol over gRPC (inference.GRPCInferenceService, on
roiserve's gRPC port), called by Triton's own gRPC client from PyPI: health,
metadata, configuration, inference with encoded and raw images (results
equal roiserve.v1 Detect's), statistics, the repository extension with the
admin token, and every rejection, after which the server serves on."""
import numpy as np
import pytest

from inference_protocol_support import (  # noqa: F401  (server, auth_server: fixtures)
    ADMIN_TOKEN, MAX_MESSAGE_BYTES, MODEL, OUTPUTS, USER_TOKEN, auth_server, bearer, big_png, detect, detect_records,
    grpcclient, image_input, infer_error, latency_names, per_image, raw_input, server)
from service_support import DETECT_STAGES, SHIPPED_MODEL, admin_grpc, admin_pb, encode, pb, rgb_pixels, shapes_png


@pytest.fixture(scope="module")
def client(server):
    with grpcclient.InferenceServerClient(server.address) as triton:
        yield triton


def infer(client, inputs, outputs=None, **parameters):
    requested = [grpcclient.InferRequestedOutput(name) for name in outputs] if outputs else None
    return client.infer(MODEL, inputs, outputs=requested, parameters=parameters or None, client_timeout=60)


def parameters_of(result):
    return result.get_response().parameters


def test_health_and_readiness(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, "1")
    assert not client.is_model_ready(MODEL, "2")
    assert not client.is_model_ready("no-such-model")


def test_server_metadata(client):
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "roiserve"
    assert {"binary_tensor_data", "model_repository", "statistics"} <= set(metadata["extensions"])


def test_model_metadata_describes_the_tensors(client):
    metadata = client.get_model_metadata(MODEL, as_json=True)
    assert metadata["name"] == MODEL and metadata["versions"] == ["1"] and metadata["platform"] == "roiserve"
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["inputs"]] == [
        ("IMAGE", "BYTES", ["-1"]), ("RAW", "UINT8", ["-1", "-1", "-1", "3"])]
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["outputs"]] == [
        ("BOXES", "FP32", ["-1", "4"]), ("SCORES", "FP32", ["-1"]), ("LABELS", "INT64", ["-1"]),
        ("CLASS_NAMES", "BYTES", ["-1"]), ("MASKS", "BYTES", ["-1"]), ("IMAGE_INDEX", "INT64", ["-1"])]


def test_model_config(client):
    config = client.get_model_config(MODEL, as_json=True)["config"]
    assert config["name"] == MODEL
    assert config.get("max_batch_size", 0) == 0
    assert [(i["name"], i["data_type"], i["dims"]) for i in config["input"]] == [
        ("IMAGE", "TYPE_STRING", ["-1"]), ("RAW", "TYPE_UINT8", ["-1", "-1", "-1", "3"])]
    assert [o["name"] for o in config["output"]] == OUTPUTS
    assert config["output"][0]["data_type"] == "TYPE_FP32"
    assert config["parameters"]["batcher_max_batch_size"]["string_value"] == "1"
    assert "roi_align" in config["parameters"]["heads"]["string_value"].split(",")


def test_encoded_image_equals_detect(server, client):
    png = shapes_png(0).read_bytes()
    result = infer(client, [image_input(grpcclient, [png])])
    [detections] = per_image(result, 1)
    assert detections, "shapes-v1 image 0 has objects"
    assert detections == detect_records(detect(server, png))
    parameters = parameters_of(result)
    assert latency_names(parameters) == DETECT_STAGES
    assert all(parameters[stage].double_param >= 0 for stage in DETECT_STAGES)
    assert parameters["head"].string_param == "roi_align"
    assert result.get_response().model_name == MODEL


def test_raw_image_equals_detect(server, client):
    pixels = rgb_pixels(1)
    result = infer(client, [raw_input(grpcclient, pixels)])
    [detections] = per_image(result, 1)
    assert detections and detections == detect_records(detect(server, encode(pixels, "PNG")))


def test_several_images_in_one_request(server, client):
    pngs = [shapes_png(i).read_bytes() for i in (0, 2, 3)]
    result = infer(client, [image_input(grpcclient, pngs)])
    assert per_image(result, 3) == [detect_records(detect(server, png)) for png in pngs]
    parameters = parameters_of(result)
    for i in range(3):
        assert latency_names(parameters, f"/{i}") == DETECT_STAGES
    assert "backbone" not in parameters


def test_raw_batch_equals_each_image(server, client):
    pixels = rgb_pixels(2)
    both = np.stack([pixels, pixels[::-1].copy()])
    result = infer(client, [raw_input(grpcclient, both)])
    expected = [detect_records(detect(server, encode(image, "PNG"))) for image in both]
    assert per_image(result, 2) == expected


def test_parameters_are_detect_options(server, client):
    png = shapes_png(3).read_bytes()
    result = infer(client, [image_input(grpcclient, [png])], head="roi_pool", score_threshold=0.3,
                   nms_iou=0.4, max_detections=3, mask_format="none")
    assert "MASKS" not in [output.name for output in result.get_response().outputs]
    [detections] = per_image(result, 1, masks=False)
    expected = detect(server, png, head="roi_pool", score_threshold=0.3, nms_iou=0.4, max_detections=3,
                      mask_format=pb.MASK_FORMAT_NONE)
    assert detections == detect_records(expected, masks=False)
    assert 0 < len(detections) <= 3
    assert parameters_of(result)["head"].string_param == "roi_pool"


def test_requested_outputs_only_and_no_mask_stages_without_masks(client):
    result = infer(client, [image_input(grpcclient, [shapes_png(0).read_bytes()])], outputs=["SCORES", "BOXES"])
    assert sorted(output.name for output in result.get_response().outputs) == ["BOXES", "SCORES"]
    assert result.as_numpy("BOXES").shape == (len(result.as_numpy("SCORES")), 4)
    assert "mask_pool" not in parameters_of(result) and "box_head" in parameters_of(result)


def test_statistics_count_inferences(client):
    before = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]
    infer(client, [image_input(grpcclient, [shapes_png(1).read_bytes()] * 2)])
    after = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]
    count = lambda stats, key: int(stats.get(key, 0))  # noqa: E731  (proto JSON omits zeros)
    assert count(after, "inference_count") == count(before, "inference_count") + 2
    assert count(after, "execution_count") == count(before, "execution_count") + 2  # batches of 1
    stats = after["inference_stats"]
    for key in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        assert int(stats[key]["count"]) >= 2 and int(stats[key]["ns"]) > 0, key
    assert int(stats["compute_infer"]["ns"]) < int(stats["success"]["ns"])
    assert [int(batch["batch_size"]) for batch in after["batch_stats"]] == [1]
    assert int(after["last_inference"]) > 0
    every = client.get_inference_statistics("", as_json=True)["model_stats"]
    assert [stats["name"] for stats in every] == [MODEL]


def bytes_input(name, datatype, shape, values):
    tensor = grpcclient.InferInput(name, shape, datatype)
    tensor.set_data_from_numpy(values)
    return tensor


REJECTIONS = {
    "unknown model": ("StatusCode.NOT_FOUND", "no-such-model",
                      lambda: [image_input(grpcclient, [shapes_png(0).read_bytes()])], {}, "no-such-model"),
    "IMAGE not BYTES": ("StatusCode.INVALID_ARGUMENT", MODEL,
                        lambda: [bytes_input("IMAGE", "FP32", [1], np.zeros(1, np.float32))], {},
                        "input IMAGE must be BYTES (got FP32)"),
    "RAW not UINT8": ("StatusCode.INVALID_ARGUMENT", MODEL,
                      lambda: [bytes_input("RAW", "FP32", [4, 4, 3], np.zeros((4, 4, 3), np.float32))], {},
                      "input RAW must be UINT8 (got FP32)"),
    "RAW with 4 channels": ("StatusCode.INVALID_ARGUMENT", MODEL,
                            lambda: [raw_input(grpcclient, np.zeros((8, 8, 4), np.uint8))], {},
                            "input RAW must have shape [H, W, 3] or [N, H, W, 3] (got [8, 8, 4])"),
    "unknown input": ("StatusCode.INVALID_ARGUMENT", MODEL,
                      lambda: [bytes_input("PIXELS", "UINT8", [2], np.zeros(2, np.uint8))], {},
                      "unknown input 'PIXELS'"),
    "two inputs": ("StatusCode.INVALID_ARGUMENT", MODEL,
                   lambda: [image_input(grpcclient, [b"x"]), raw_input(grpcclient, np.zeros((4, 4, 3), np.uint8))],
                   {}, "the request must have one input"),
    "malformed image": ("StatusCode.INVALID_ARGUMENT", MODEL,
                        lambda: [image_input(grpcclient, [b"this is not an image"])], {}, "image"),
    "image over the pixel limit": ("StatusCode.INVALID_ARGUMENT", MODEL, lambda: [image_input(grpcclient, [big_png()])],
                                   {}, "1001x1001"),
    "unknown head": ("StatusCode.INVALID_ARGUMENT", MODEL,
                     lambda: [image_input(grpcclient, [shapes_png(0).read_bytes()])], {"head": "no_head"}, "no_head"),
    "unknown parameter": ("StatusCode.INVALID_ARGUMENT", MODEL,
                          lambda: [image_input(grpcclient, [shapes_png(0).read_bytes()])], {"score_treshold": 0.5},
                          "unknown parameter 'score_treshold'"),
    "parameter of the wrong type": ("StatusCode.INVALID_ARGUMENT", MODEL,
                                    lambda: [image_input(grpcclient, [shapes_png(0).read_bytes()])],
                                    {"score_threshold": "high"}, "parameter score_threshold must be a number"),
    "threshold out of range": ("StatusCode.INVALID_ARGUMENT", MODEL,
                               lambda: [image_input(grpcclient, [shapes_png(0).read_bytes()])],
                               {"score_threshold": 1.5}, "score_threshold must be in [0, 1]"),
    "one bad image of two": ("StatusCode.INVALID_ARGUMENT", MODEL,
                             lambda: [image_input(grpcclient, [shapes_png(0).read_bytes(), b"junk"])], {},
                             "image 1: "),
    "message over the size limit": ("StatusCode.RESOURCE_EXHAUSTED", MODEL,
                                    lambda: [image_input(grpcclient, [bytes(MAX_MESSAGE_BYTES + 1)])], {}, ""),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_rejections_then_the_server_serves_on(client, case):
    status, model, inputs, parameters, message = REJECTIONS[case]
    error = infer_error(client.infer, model, inputs(), parameters=parameters or None, client_timeout=60)
    assert error.status() == status, error
    assert message in error.message(), error.message()
    result = infer(client, [image_input(grpcclient, [shapes_png(0).read_bytes()])], outputs=["SCORES"])
    assert len(result.as_numpy("SCORES")) > 0


def test_unknown_output_and_unknown_model_metadata(client):
    error = infer_error(client.infer, MODEL, [image_input(grpcclient, [shapes_png(0).read_bytes()])],
                        outputs=[grpcclient.InferRequestedOutput("HEATMAP")], client_timeout=60)
    assert error.status() == "StatusCode.INVALID_ARGUMENT" and "unknown output 'HEATMAP'" in error.message()
    error = infer_error(client.get_model_metadata, "no-such-model")
    assert error.status() == "StatusCode.NOT_FOUND" and "no-such-model" in error.message()
    error = infer_error(client.get_model_config, MODEL, "7")
    assert error.status() == "StatusCode.NOT_FOUND" and "version" in error.message()


# ----- tokens and the repository extension ------------------------------------------------

@pytest.mark.parametrize("headers,status", [
    (None, "StatusCode.UNAUTHENTICATED"), (bearer("wrong-token"), "StatusCode.UNAUTHENTICATED")],
    ids=["no token", "wrong token"])
def test_calls_need_a_token(auth_server, headers, status):
    with grpcclient.InferenceServerClient(auth_server.address) as client:
        assert client.is_server_live(headers=headers), "liveness is for probes: no token"
        for call in (lambda: client.get_model_metadata(MODEL, headers=headers),
                     lambda: client.infer(MODEL, [image_input(grpcclient, [shapes_png(0).read_bytes()])],
                                          headers=headers, client_timeout=60),
                     lambda: client.get_inference_statistics(MODEL, headers=headers)):
            error = infer_error(call)
            assert error.status() == status and "wrong-token" not in error.message()
        result = client.infer(MODEL, [image_input(grpcclient, [shapes_png(0).read_bytes()])],
                              headers=bearer(USER_TOKEN), client_timeout=60)
        assert len(result.as_numpy("SCORES")) > 0


def test_repository_load_and_unload_need_the_admin_token(auth_server):
    stub = admin_grpc.ModelAdminServiceStub(auth_server.channel())
    stub.LoadModel(admin_pb.LoadModelRequest(name="second", path=str(SHIPPED_MODEL)),
                   metadata=[("authorization", f"Bearer {ADMIN_TOKEN}")], timeout=120)
    with grpcclient.InferenceServerClient(auth_server.address) as client:
        user, admin = bearer(USER_TOKEN), bearer(ADMIN_TOKEN)
        error = infer_error(client.unload_model, "second", headers=user)
        assert error.status() == "StatusCode.PERMISSION_DENIED"
        assert client.is_model_ready("second", headers=user)
        client.unload_model("second", headers=admin)
        assert not client.is_model_ready("second", headers=user)
        index = {model["name"]: model for model in client.get_model_repository_index(headers=user, as_json=True)["models"]}
        assert index[MODEL]["state"] == "READY"
        assert index["second"]["state"] == "UNAVAILABLE" and index["second"]["reason"] == "unloaded"
        error = infer_error(client.load_model, "never-seen", headers=admin)
        assert error.status() == "StatusCode.NOT_FOUND" and "path" in error.message()
        client.load_model("second", headers=admin)  # the bundle it was served from
        assert client.is_model_ready("second", headers=user)
        result = client.infer("second", [image_input(grpcclient, [shapes_png(0).read_bytes()])], headers=user,
                              client_timeout=60)
        assert len(result.as_numpy("SCORES")) > 0
        client.load_model(MODEL, headers=admin)  # a served model: loaded again
        assert client.is_model_ready(MODEL, headers=user)
        error = infer_error(client.unload_model, MODEL, headers=admin)
        assert error.status() == "StatusCode.FAILED_PRECONDITION", "the default model stays"

