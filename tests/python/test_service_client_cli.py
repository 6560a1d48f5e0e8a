"""roiserve-client against a real server: its detections JSON equals
roiserve-detect's on the same files (batching off: bit for bit), Compare and
streams, the model calls, the health probe, and its exit codes and messages."""
import json

import numpy as np
import pytest
from google.protobuf.json_format import MessageToDict
from PIL import Image

from service_support import (BOX_STAGES, CALL_TIMEOUT_S, DETECT_STAGES, MASK_STAGES, SERVICE_NAME, SHARED_STAGES,
                             client_tool, detect_json, pb, serve, shapes_dataset)



@pytest.fixture(scope="module")
def server():
    yield from serve("--max-batch-size", "1")


@pytest.fixture(scope="module")
def files():
    return shapes_dataset()[0]


@pytest.fixture(scope="module")
def detected(tmp_path_factory, files):
    """roiserve-detect's JSON of the four images, with the model's defaults."""
    return detect_json(tmp_path_factory.mktemp("detect"), files)


def client(server, *args):
    return client_tool("--target", server.address, *args)


def client_json(server, tmp_path, *args):
    """roiserve-client --json: the document, after checking it exited 0."""
    output = tmp_path / "client.json"
    completed = client(server, *args, "--json", output)
    assert completed.returncode == 0, completed.stderr
    return json.loads(output.read_text())


def without_timings(records):
    return [{key: value for key, value in record.items() if key != "timings_ms"} for record in records]


@pytest.mark.parametrize("mode", [[], ["--stream"]], ids=["unary", "stream"])
def test_client_json_equals_roiserve_detect(server, tmp_path, files, detected, mode):
    document = client_json(server, tmp_path, *mode, *files)
    assert list(document) == ["images"]
    assert without_timings(document["images"]) == without_timings(detected["images"])
    for record in document["images"]:
        assert set(record["timings_ms"]) == set(DETECT_STAGES)


@pytest.mark.parametrize("flags", [
    ["--head", "spp", "--mask-pooler", "roi_pool", "--score-threshold", "0.3", "--nms-iou", "0.4",
     "--max-detections", "4"],
    ["--head", "ps_roi_pool", "--no-masks"],
], ids=["head pooler thresholds", "no masks"])
def test_client_options_reach_the_server(server, tmp_path, files, flags):
    document = client_json(server, tmp_path, *flags, files[1])
    expected = detect_json(tmp_path, [files[1]], *flags)
    assert without_timings(document["images"]) == without_timings(expected["images"])
    (record,) = document["images"]
    assert record["detections"], "the options leave some detections"
    if "--no-masks" in flags:
        assert set(record["timings_ms"]) == set(DETECT_STAGES) - set(MASK_STAGES)
        assert all("segmentation" not in d for d in record["detections"])


def test_client_compare_prints_variants_agreements_and_timings(server, tmp_path, files, detected):
    completed = client(server, "--compare", "roi_align,spp/roi_pool", files[0])
    assert completed.returncode == 0, completed.stderr
    (image,) = json.loads(completed.stdout)["images"]
    assert (image["file"], image["width"], image["height"]) == (str(files[0]), detected["images"][0]["width"],
                                                                 detected["images"][0]["height"])
    assert set(image["timings_ms"]) == set(SHARED_STAGES + ["total"])
    assert [(v["head"], v["mask_pooler"]) for v in image["variants"]] == [("roi_align", "roi_align"),
                                                                           ("spp", "roi_pool")]
    for variant in image["variants"]:
        assert set(variant["timings_ms"]) == set(BOX_STAGES + MASK_STAGES + ["encode"])
    assert image["variants"][0]["detections"] == detected["images"][0]["detections"]
    spp = detect_json(tmp_path, [files[0]], "--head", "spp", "--mask-pooler", "roi_pool")
    assert image["variants"][1]["detections"] == spp["images"][0]["detections"]
    (agreement,) = image["agreements"]
    assert (agreement["a"], agreement["b"]) == (0, 1)
    confident = sum(d["score"] >= 0.5 for d in image["variants"][0]["detections"])
    assert agreement["matched"] + agreement["only_a"] == confident
    # --json writes the same document.
    written = client_json(server, tmp_path, "--compare", "roi_align,spp/roi_pool", files[0])
    assert without_timings(written["images"][0]["variants"]) == without_timings(image["variants"])


@pytest.mark.parametrize("mode", [[], ["--stream"]], ids=["unary", "stream"])
def test_a_bad_image_among_good_ones_exits_1_naming_it_and_its_status(server, tmp_path, files, detected, mode):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    output = tmp_path / "partial.json"
    completed = client(server, *mode, "--json", output, files[0], bad, files[1])
    assert completed.returncode == 1
    assert completed.stderr == (f"roiserve-client: {bad}: INVALID_ARGUMENT: unsupported image format "
                                f"(the bytes are not JPEG, PNG, BMP, WebP or TIFF)\n")
    # The good images are still answered and written.
    written = json.loads(output.read_text())["images"]
    assert without_timings(written) == without_timings(detected["images"][:2])


def test_without_json_the_client_prints_a_summary_per_image(server, files, detected):
    completed = client(server, files[0])
    assert completed.returncode == 0, completed.stderr
    count = len(detected["images"][0]["detections"])
    assert completed.stdout.startswith(f"{files[0]}: {count} detections, ")
    assert " ms on the server:" in completed.stdout


@pytest.mark.parametrize("args, message", [
    (["--head", "fpn_magic", "{image}"],
     "{image}: INVALID_ARGUMENT: model 'shapes-v1' has no box head 'fpn_magic' "
     "(it has: ps_roi_pool, roi_align, roi_pool, spp)"),
    (["--model-info", "--model", "no-such-model"],
     "GetModelInfo: NOT_FOUND: no model named 'no-such-model' (loaded: shapes-v1)"),
    (["--compare", "roi_align", "{image}"], "{image}: INVALID_ARGUMENT: Compare needs 2..8 variants (got 1)"),
    (["--deadline-ms", "1", "{image}"], "{image}: DEADLINE_EXCEEDED: "),
], ids=["unknown head", "unknown model", "one compare variant", "deadline"])
def test_an_rpc_error_exits_1_with_the_status_name_and_message(server, files, args, message):
    completed = client(server, *(arg.format(image=files[0]) for arg in args))
    assert completed.returncode == 1
    assert completed.stderr.startswith("roiserve-client: " + message.format(image=files[0])), completed.stderr


def test_health_exits_0_when_serving(server):
    for service in ([], ["--health-service", SERVICE_NAME]):
        completed = client(server, "--health", *service)
        assert (completed.returncode, completed.stdout) == (0, "SERVING\n"), completed.stderr


def test_health_of_an_unknown_service_exits_1(server):
    completed = client(server, "--health", "--health-service", "no.such.Service")
    assert completed.returncode == 1
    assert completed.stderr.startswith("roiserve-client: health: NOT_FOUND: ")


def test_health_of_an_unreachable_server_exits_1():
    completed = client_tool("--target", "127.0.0.1:1", "--health", "--deadline-ms", "5000")
    assert completed.returncode == 1
    assert completed.stderr.startswith("roiserve-client: health: UNAVAILABLE: ")


@pytest.mark.parametrize("args, message", [
    (["--no-such-flag"], "--no-such-flag"),
    (["--deadline-ms", "-1", "{image}"], "--deadline-ms"),
    (["{missing}"], "roiserve-client: cannot read '{missing}'"),
    ([], "roiserve-client: give image files (or --health, --list-models)"),
], ids=["unknown flag", "negative deadline", "missing file", "no image"])
def test_bad_flags_and_files_exit_2(server, tmp_path, files, args, message):
    fill = {"image": files[0], "missing": tmp_path / "missing.png"}
    completed = client(server, *(arg.format(**fill) for arg in args))
    assert completed.returncode == 2, completed.stderr
    assert message.format(**fill) in completed.stderr


def test_list_models_and_model_info_print_the_messages_as_json(server):
    listed = client(server, "--list-models")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == MessageToDict(
        server.stub().ListModels(pb.ListModelsRequest(), timeout=CALL_TIMEOUT_S), preserving_proto_field_name=True)
    info = client(server, "--model-info")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout) == MessageToDict(
        server.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=CALL_TIMEOUT_S), preserving_proto_field_name=True)


def test_draw_writes_an_annotated_copy_of_each_image(server, tmp_path, files):
    completed = client(server, "--draw", tmp_path / "drawn", files[0])
    assert completed.returncode == 0, completed.stderr
    original = np.asarray(Image.open(files[0]).convert("RGB"))
    drawn = np.asarray(Image.open(tmp_path / "drawn" / files[0].name).convert("RGB"))
    assert drawn.shape == original.shape
    assert (drawn != original).any()
