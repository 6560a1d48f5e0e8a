"""roiserve-server's API over real gRPC: Detect in every input form, masks,
stage latencies, Compare, DetectStream, the model calls, health, reflection
and /metrics. One server (batching off, so every response is of one image)
serves the whole module."""
import io

import numpy as np
import pytest
import yaml
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from PIL import Image

from service_support import (BOX_STAGES, CALL_TIMEOUT_S, DETECT_STAGES, HEADS, MASK_POOLERS, MASK_STAGES, SERVICE_NAME,
                             SHARED_STAGES, SHIPPED_MODEL, call_error, compare_request, detect_json, detect_request,
                             detection_records, encode, metric_value, pb, raw_image, rgb_pixels, serve, shapes_png,
                             stages, wait_until)

pycocotools_mask = pytest.importorskip(
    "pycocotools.mask", reason="pycocotools is not installed: run with .venv-test/bin/python")

MODEL_YAML = yaml.safe_load((SHIPPED_MODEL / "model.yaml").read_text())


@pytest.fixture(scope="module")
def server():
    yield from serve("--max-batch-size", "1")


@pytest.fixture(scope="module")
def png_response(server):
    """Detect on shapes-v1 image 0 as PNG, with the model's defaults."""
    return server.stub().Detect(detect_request(shapes_png(0).read_bytes(), request_id="png-0"),
                                timeout=CALL_TIMEOUT_S)


def detect(server, image, **options):
    return server.stub().Detect(detect_request(image, **options), timeout=CALL_TIMEOUT_S)


def without_masks(records):
    return [{key: value for key, value in record.items() if key != "segmentation"} for record in records]


def decode_rle(rle):
    return pycocotools_mask.decode({"size": [rle.height, rle.width], "counts": rle.counts.encode()})


# ----- Detect ------------------------------------------------------------------------

def test_detect_answers_with_the_model_defaults_and_echoes_the_request(png_response):
    pixels = rgb_pixels(0)
    response = png_response
    assert response.request_id == "png-0"
    assert response.model == MODEL_YAML["name"]
    assert response.head == MODEL_YAML["roi_heads"]["default_box_head"]
    assert response.mask_pooler == MODEL_YAML["roi_heads"]["mask"]["poolers"][0]
    assert (response.image_height, response.image_width) == pixels.shape[:2]
    assert response.batch_size == 1
    assert 0 < response.num_proposals <= MODEL_YAML["rpn"]["post_nms_top_n_test"]
    assert len(response.proposals_fingerprint) == 16 and int(response.proposals_fingerprint, 16) >= 0
    detections = response.detections
    assert 0 < len(detections) <= MODEL_YAML["postprocess"]["max_detections"]
    scores = [d.score for d in detections]
    assert scores == sorted(scores, reverse=True)
    assert all(s > MODEL_YAML["postprocess"]["score_threshold"] for s in scores)
    for d in detections:
        assert d.class_name == MODEL_YAML["classes"][d.class_id - 1]
        assert 0 <= d.box.x1 <= d.box.x2 <= response.image_width
        assert 0 <= d.box.y1 <= d.box.y2 <= response.image_height


def test_detect_latencies_list_every_stage_in_the_documented_order(png_response):
    assert stages(png_response.latency) == DETECT_STAGES
    milliseconds = {latency.stage: latency.milliseconds for latency in png_response.latency}
    assert all(ms >= 0 for ms in milliseconds.values())
    # total runs from receipt to the response: it spans every other stage.
    assert milliseconds["total"] >= max(ms for stage, ms in milliseconds.items() if stage != "total")


def test_options_select_head_pooler_and_limits(server):
    response = detect(server, shapes_png(0).read_bytes(), head="spp", mask_pooler="roi_pool",
                      score_threshold=0.5, max_detections=2)
    assert (response.head, response.mask_pooler) == ("spp", "roi_pool")
    assert 0 < len(response.detections) <= 2
    assert all(d.score > 0.5 for d in response.detections)


def overlapping_pairs_of_a_class(detections):
    boxes = [(d.class_id, np.array([d.box.x1, d.box.y1, d.box.x2, d.box.y2])) for d in detections]
    return sum(np.maximum(0, np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2])).prod() > 0
               for i, (label_a, a) in enumerate(boxes) for label_b, b in boxes[i + 1:] if label_a == label_b)


def test_an_nms_iou_of_zero_leaves_no_two_boxes_of_a_class_overlapping(server, png_response):
    assert overlapping_pairs_of_a_class(png_response.detections) > 0, "the default NMS IoU (0.5) leaves some"
    response = detect(server, shapes_png(0).read_bytes(), nms_iou=0.0, mask_format=pb.MASK_FORMAT_NONE)
    assert response.detections
    assert overlapping_pairs_of_a_class(response.detections) == 0


# ----- masks -------------------------------------------------------------------------

def test_coco_rle_masks_decode_to_the_image_size_inside_their_boxes(server, png_response):
    response = detect(server, shapes_png(0).read_bytes(), mask_format=pb.MASK_FORMAT_COCO_RLE)
    assert detection_records(response.detections) == detection_records(png_response.detections), \
        "COCO RLE is the default for a model with masks"
    for d in response.detections:
        mask = decode_rle(d.mask.coco_rle)
        assert mask.shape == (response.image_height, response.image_width)
        ys, xs = np.nonzero(mask)
        if len(xs):  # pixel centres of the mask lie in the box
            assert d.box.x1 - 1 <= xs.min() and xs.max() + 0.5 <= d.box.x2 + 1
            assert d.box.y1 - 1 <= ys.min() and ys.max() + 0.5 <= d.box.y2 + 1
    assert any(decode_rle(d.mask.coco_rle).any() for d in response.detections)


def test_png_masks_are_the_rle_masks(server, png_response):
    response = detect(server, shapes_png(0).read_bytes(), mask_format=pb.MASK_FORMAT_PNG)
    assert len(response.detections) == len(png_response.detections)
    for png, rle in zip(response.detections, png_response.detections):
        assert png.mask.WhichOneof("encoding") == "png"
        image = Image.open(io.BytesIO(png.mask.png))
        assert image.size == (response.image_width, response.image_height)
        assert image.mode == "1", "a 1-bit grayscale PNG"
        pixels = np.asarray(image.convert("L"))
        assert set(np.unique(pixels)) <= {0, 255}
        np.testing.assert_array_equal(pixels == 255, decode_rle(rle.mask.coco_rle).astype(bool))


def test_mask_format_none_runs_no_mask_stage_and_returns_no_masks(server, png_response):
    response = detect(server, shapes_png(0).read_bytes(), mask_format=pb.MASK_FORMAT_NONE)
    assert response.mask_pooler == ""
    assert stages(response.latency) == SHARED_STAGES + BOX_STAGES + ["encode", "total"]
    assert not any(d.HasField("mask") for d in response.detections)
    assert detection_records(response.detections) == without_masks(detection_records(png_response.detections))


# ----- image encodings and raw pixels ---------------------------------------------------

def rgba(pixels):
    return np.dstack([pixels, np.arange(pixels[..., 0].size, dtype=np.uint8).reshape(pixels.shape[:2])])


ENCODINGS = {  # name: (the file's bytes from RGB pixels, decodes to exactly the pixels)
    "png": (lambda p: encode(p, "PNG"), True),
    "bmp": (lambda p: encode(p, "BMP"), True),
    "tiff": (lambda p: encode(p, "TIFF"), True),
    "tiff lzw": (lambda p: encode(p, "TIFF", compression="tiff_lzw"), True),
    "webp lossless": (lambda p: encode(p, "WEBP", lossless=True), True),  # a VP8L chunk
    "webp": (lambda p: encode(p, "WEBP", quality=90), False),  # a VP8 chunk
    "webp with alpha": (lambda p: encode(rgba(p), "WEBP", quality=90), False),  # VP8X
    "jpeg": (lambda p: encode(p, "JPEG", quality=90), False),
    "jpeg progressive": (lambda p: encode(p, "JPEG", quality=90, progressive=True), False),  # SOF2
}


@pytest.fixture(scope="module")
def encoded_files(tmp_path_factory):
    """Image 0 in every encoding, and roiserve-detect's records of those files."""
    directory = tmp_path_factory.mktemp("encodings")
    files = {}
    for index, (name, (make, _)) in enumerate(ENCODINGS.items()):
        files[name] = directory / f"image{index}"
        files[name].write_bytes(make(rgb_pixels(0)))
    records = detect_json(directory, list(files.values()))["images"]
    return files, dict(zip(files, records))


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_encoding_is_accepted_and_detected_as_roiserve_detect_does(server, png_response, encoded_files, name):
    files, expected = encoded_files
    response = detect(server, files[name].read_bytes())
    assert (response.image_width, response.image_height) == (expected[name]["width"], expected[name]["height"])
    assert detection_records(response.detections) == expected[name]["detections"]
    if ENCODINGS[name][1]:
        assert detection_records(response.detections) == detection_records(png_response.detections)


RAW_FORMS = {  # name: the pixels of image 0 as sent
    "uint8 hwc": lambda p: raw_image(p, layout=pb.RawImage.HWC),
    "uint8 chw": lambda p: raw_image(p, layout=pb.RawImage.CHW),
    "unspecified layout and type (hwc uint8)": lambda p: raw_image(
        p, layout=pb.RawImage.LAYOUT_UNSPECIFIED, data_type=pb.RawImage.DATA_TYPE_UNSPECIFIED),
    # k / 255 as float32, scaled back and rounded, is k again.
    "float32 hwc": lambda p: raw_image(p.astype(np.float32) / 255, layout=pb.RawImage.HWC),
    "float32 chw": lambda p: raw_image(p.astype(np.float32) / 255, layout=pb.RawImage.CHW),
    # Out-of-range floats are clamped: -1 reads as 0 and 2 as 255.
    "float32 clamped": lambda p: raw_image(np.where(p == 0, -1, np.where(p == 255, 2, p / 255)).astype(np.float32)),
    "rgba (alpha dropped)": lambda p: raw_image(rgba(p)),
    "rgba png (alpha dropped)": lambda p: encode(rgba(p), "PNG"),
}


@pytest.mark.parametrize("form", RAW_FORMS)
def test_raw_pixels_are_detected_as_the_encoded_image(server, png_response, form):
    response = detect(server, RAW_FORMS[form](rgb_pixels(0)))
    assert (response.image_width, response.image_height) == (png_response.image_width, png_response.image_height)
    assert detection_records(response.detections) == detection_records(png_response.detections)


def test_gray_is_replicated_to_rgb_in_raw_pixels_png_and_16_bit_png(server):
    gray = np.asarray(Image.open(shapes_png(0)).convert("L"))
    as_png = detection_records(detect(server, encode(gray[..., None], "PNG")).detections)
    assert as_png, "gray image 0 still has detections"
    assert detection_records(detect(server, raw_image(gray[..., None])).detections) == as_png
    assert detection_records(detect(server, raw_image(np.repeat(gray[..., None], 3, axis=2))).detections) == as_png
    # 16-bit samples are scaled to 8 bits: k * 257 becomes k again.
    sixteen_bit = io.BytesIO()
    Image.fromarray(gray.astype(np.uint16) * 257, "I;16").save(sixteen_bit, "PNG")
    assert detection_records(detect(server, sixteen_bit.getvalue()).detections) == as_png


def test_jpeg_exif_orientation_is_applied(server):
    pixels = rgb_pixels(0)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored image is to be turned 90 degrees clockwise
    rotated = io.BytesIO()
    Image.fromarray(pixels).save(rotated, "JPEG", quality=95, exif=exif.tobytes())
    response = detect(server, rotated.getvalue(), mask_format=pb.MASK_FORMAT_NONE)
    assert (response.image_width, response.image_height) == (pixels.shape[0], pixels.shape[1])


# ----- Compare ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compare_every_head(server):
    request = compare_request(shapes_png(0).read_bytes(), [(head, "") for head in HEADS])
    request.request_id = "compare-0"
    return server.stub().Compare(request, timeout=CALL_TIMEOUT_S)


def test_compare_runs_every_head_on_the_same_proposals(server, compare_every_head, png_response):
    results = compare_every_head.results
    assert [r.variant.head for r in results] == list(HEADS)
    assert all(r.variant.mask_pooler == MASK_POOLERS[0] for r in results), "defaults filled in"
    # The same proposals for every head, and the same as a Detect of the image.
    assert {(r.num_proposals, r.proposals_fingerprint) for r in results} == {
        (png_response.num_proposals, png_response.proposals_fingerprint)}
    assert compare_every_head.request_id == "compare-0"
    assert (compare_every_head.image_width, compare_every_head.image_height) == (
        png_response.image_width, png_response.image_height)


@pytest.mark.parametrize("index", range(len(HEADS)), ids=HEADS)
def test_each_compare_variant_equals_detect_with_its_head(server, compare_every_head, index):
    result = compare_every_head.results[index]
    alone = detect(server, shapes_png(0).read_bytes(), head=result.variant.head)
    assert alone.proposals_fingerprint == result.proposals_fingerprint
    assert detection_records(result.detections) == detection_records(alone.detections)


def test_compare_latencies_split_into_shared_and_per_variant_stages(compare_every_head):
    assert stages(compare_every_head.shared_latency) == SHARED_STAGES + ["total"]
    for result in compare_every_head.results:
        assert stages(result.latency) == BOX_STAGES + MASK_STAGES + ["encode"]


def test_compare_agreement_covers_every_pair_of_confident_detections(compare_every_head):
    results = compare_every_head.results
    pairs = [(a.a, a.b) for a in compare_every_head.agreements]
    assert pairs == [(a, b) for a in range(len(results)) for b in range(a + 1, len(results))]
    for agreement in compare_every_head.agreements:
        # Detections under the default agreement_min_score (0.5) take no part.
        confident_a = sum(d.score >= 0.5 for d in results[agreement.a].detections)
        confident_b = sum(d.score >= 0.5 for d in results[agreement.b].detections)
        assert agreement.matched + agreement.only_a == confident_a
        assert agreement.matched + agreement.only_b == confident_b
        if agreement.matched:
            assert 0.5 <= agreement.mean_iou <= 1


def test_compare_of_one_head_with_two_mask_poolers_agrees_completely(server):
    request = compare_request(shapes_png(0).read_bytes(), [("roi_pool", "roi_align"), ("roi_pool", "roi_pool")])
    request.agreement_min_score = 0.0
    response = server.stub().Compare(request, timeout=CALL_TIMEOUT_S)
    first, second = response.results
    assert without_masks(detection_records(first.detections)) == without_masks(detection_records(second.detections))
    (agreement,) = response.agreements
    assert (agreement.matched, agreement.only_a, agreement.only_b) == (len(first.detections), 0, 0)
    assert (agreement.mean_iou, agreement.mean_score_delta) == (1.0, 0.0)
    alone = detect(server, shapes_png(0).read_bytes(), head="roi_pool", mask_pooler="roi_pool")
    assert detection_records(second.detections) == detection_records(alone.detections)


def test_compare_applies_shared_options_to_every_variant(server):
    response = server.stub().Compare(
        compare_request(shapes_png(0).read_bytes(), [("roi_align", ""), ("spp", "")],
                        score_threshold=0.5, max_detections=3, mask_format=pb.MASK_FORMAT_NONE),
        timeout=CALL_TIMEOUT_S)
    for result in response.results:
        assert result.variant.mask_pooler == ""
        assert stages(result.latency) == BOX_STAGES + ["encode"]
        assert 0 < len(result.detections) <= 3
        assert all(d.score > 0.5 and not d.HasField("mask") for d in result.detections)


# ----- DetectStream ---------------------------------------------------------------------

def test_stream_answers_in_order_and_a_bad_message_gets_its_own_error(server):
    images = [shapes_png(i).read_bytes() for i in range(3)]
    requests = [
        detect_request(images[0], request_id="first"),
        detect_request(b"not an image", request_id="garbage"),
        detect_request(images[1], request_id="second", mask_format=pb.MASK_FORMAT_NONE),
        detect_request(images[1], request_id="bad head", head="fpn_magic"),
        detect_request(images[1], request_id="bad model", model="no-such-model"),
        detect_request(images[2], request_id="third", head="ps_roi_pool"),
    ]
    responses = list(server.stub().DetectStream(iter(requests), timeout=CALL_TIMEOUT_S))
    assert [r.index for r in responses] == list(range(len(requests)))
    assert [r.request_id for r in responses] == [r.request_id for r in requests]
    outcomes = [r.WhichOneof("outcome") for r in responses]
    assert outcomes == ["result", "error", "result", "error", "error", "result"]
    errors = {r.request_id: r.error for r in responses if r.HasField("error")}
    assert (errors["garbage"].code, errors["garbage"].code_name) == (3, "INVALID_ARGUMENT")
    assert "unsupported image format" in errors["garbage"].message
    assert (errors["bad head"].code_name, errors["bad model"].code_name) == ("INVALID_ARGUMENT", "NOT_FOUND")
    assert "fpn_magic" in errors["bad head"].message and "no-such-model" in errors["bad model"].message
    for response, request in zip(responses, requests):
        if response.HasField("result"):
            assert response.result.request_id == request.request_id
            alone = server.stub().Detect(request, timeout=CALL_TIMEOUT_S)
            assert detection_records(response.result.detections) == detection_records(alone.detections)


def test_stream_longer_than_its_in_flight_window_is_answered_in_full(server):
    # The server works on at most 8 messages of a stream at once (the default
    # max_stream_in_flight) and reads on as they are answered. Small images of
    # four sizes tell which request a response answers.
    sizes = [(64, 64), (64, 80), (80, 64), (72, 96)]
    small = [encode(rgb_pixels(i)[:height, :width], "PNG") for i, (height, width) in enumerate(sizes)]
    requests = [detect_request(small[i % 4], request_id=f"r{i}", mask_format=pb.MASK_FORMAT_NONE)
                for i in range(20)]
    responses = list(server.stub().DetectStream(iter(requests), timeout=CALL_TIMEOUT_S))
    assert [(r.index, r.request_id, r.WhichOneof("outcome")) for r in responses] == [
        (i, f"r{i}", "result") for i in range(20)]
    assert [(r.result.image_height, r.result.image_width) for r in responses] == [sizes[i % 4] for i in range(20)]
    for i in range(4, 20):
        assert detection_records(responses[i].result.detections) == detection_records(
            responses[i % 4].result.detections)


def test_empty_stream_ends_with_ok_and_no_response(server):
    assert list(server.stub().DetectStream(iter([]), timeout=CALL_TIMEOUT_S)) == []


# ----- models ------------------------------------------------------------------------

def test_list_models_names_the_default_model(server):
    (model,) = server.stub().ListModels(pb.ListModelsRequest(), timeout=CALL_TIMEOUT_S).models
    assert (model.name, model.description) == (MODEL_YAML["name"], MODEL_YAML["description"])
    assert model.is_default and model.ready


def test_model_info_describes_classes_heads_defaults_and_limits(server):
    info = server.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=CALL_TIMEOUT_S)
    assert info == server.stub().GetModelInfo(pb.GetModelInfoRequest(name=MODEL_YAML["name"]), timeout=CALL_TIMEOUT_S)
    assert (info.name, info.format_version, info.device) == (MODEL_YAML["name"], MODEL_YAML["format_version"], "cpu")
    assert [(c.id, c.name) for c in info.classes] == list(enumerate(MODEL_YAML["classes"], start=1))
    assert sorted(info.heads) == sorted(HEADS) == sorted(MODEL_YAML["roi_heads"]["box_heads"])
    assert list(info.mask_poolers) == MODEL_YAML["roi_heads"]["mask"]["poolers"]
    defaults = info.defaults
    postprocess = MODEL_YAML["postprocess"]
    assert (defaults.head, defaults.mask_pooler) == (MODEL_YAML["roi_heads"]["default_box_head"], MASK_POOLERS[0])
    assert defaults.score_threshold == pytest.approx(postprocess["score_threshold"])
    assert defaults.nms_iou == pytest.approx(postprocess["nms_iou"])
    assert (defaults.max_detections, defaults.max_detections_limit) == (postprocess["max_detections"], 1000)
    rules = info.input
    assert list(rules.mean) == pytest.approx(MODEL_YAML["preprocess"]["mean"])
    assert list(rules.std) == pytest.approx(MODEL_YAML["preprocess"]["std"])
    assert (rules.resize, rules.size_divisible) == (MODEL_YAML["preprocess"]["resize"],
                                                    MODEL_YAML["preprocess"]["size_divisible"])
    assert (rules.max_image_pixels, rules.max_message_bytes) == (4096 * 4096, 64 << 20)
    assert sorted(rules.encodings) == sorted(["jpeg", "png", "bmp", "webp", "tiff"])
    assert info.batching.max_batch_size == 1, "--max-batch-size reaches the model"


# ----- health, reflection, metrics ---------------------------------------------------------

@pytest.mark.parametrize("service", ["", SERVICE_NAME])
def test_health_check_is_serving(server, service):
    answer = server.health().Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_S)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_of_an_unknown_service_is_not_found(server):
    error = call_error(server.health().Check, health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert error.code().name == "NOT_FOUND"


def test_reflection_lists_the_services_and_describes_the_api(server):
    database = ProtoReflectionDescriptorDatabase(server.channel())
    assert set(database.get_services()) >= {SERVICE_NAME, "grpc.health.v1.Health"}
    service = DescriptorPool(database).FindServiceByName(SERVICE_NAME)
    assert sorted(m.name for m in service.methods) == sorted(
        ["Detect", "DetectStream", "Compare", "ListModels", "GetModelInfo"])
    assert service.methods_by_name["Detect"].input_type.full_name == "roiserve.v1.DetectRequest"


def test_metrics_count_requests_by_method_and_code(server):
    before = server.metrics()
    image = encode(rgb_pixels(1)[:64, :64], "PNG")
    server.stub().Detect(detect_request(image), timeout=CALL_TIMEOUT_S)
    call_error(server.stub().Detect, detect_request(b"not an image"))
    call_error(server.stub().GetModelInfo, pb.GetModelInfoRequest(name="no-such-model"))
    after = server.metrics()

    def increase(name, **labels):
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    model = MODEL_YAML["name"]
    assert increase("roiserve_requests_total", method="Detect", model=model, code="OK") == 1
    assert increase("roiserve_requests_total", method="Detect", model=model, code="INVALID_ARGUMENT") == 1
    assert increase("roiserve_requests_total", method="GetModelInfo", code="NOT_FOUND") == 1
    assert increase("roiserve_request_duration_seconds_count", method="Detect", model=model) == 2
    assert increase("roiserve_batch_size_count", model=model) == 1
    assert increase("roiserve_stage_duration_seconds_count", model=model, stage="backbone") == 1
    for series in (f'roiserve_queue_depth{{model="{model}"}} 0', f'roiserve_model_ready{{model="{model}"}} 1'):
        assert series in after.splitlines()
    # A call leaves the in-flight gauge when gRPC releases it (OnDone), a
    # little after its client has the answer.
    wait_until(lambda: server.metric("roiserve_inflight_requests", method="Detect") == 0, CALL_TIMEOUT_S,
               "no Detect call in flight", server.log_tail)
