"""The Open Inference Protocol's side of the service tests: Triton's own
clients (tritonclient from PyPI, gRPC and HTTP) against roiserve-server, and
what they answer in roiserve.v1's terms, so the two APIs can be compared."""
import numpy as np
import pytest

from service_support import DETECT_STAGES, detect_request, encode, serve

grpcclient = pytest.importorskip(
    "tritonclient.grpc", reason="tritonclient is not installed: run with .venv-test/bin/python")
httpclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402  (after the skip)

MODEL = "shapes-v1"
OUTPUTS = ["BOXES", "SCORES", "LABELS", "CLASS_NAMES", "MASKS", "IMAGE_INDEX"]
# The limits of the tests' server, small enough to be passed cheaply.
MAX_IMAGE_PIXELS = 1000 * 1000
MAX_MESSAGE_BYTES = 4 << 20
USER_TOKEN = "user-token"
ADMIN_TOKEN = "admin-token"


# The test modules import these fixtures; each module gets servers of its own.
@pytest.fixture(scope="module")
def server():
    """Batching off (every image runs alone, so results compare bit for bit
    with Detect's), small limits."""
    yield from serve("--max-batch-size", "1", "--max-image-pixels", MAX_IMAGE_PIXELS,
                     "--max-message-bytes", MAX_MESSAGE_BYTES)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A user token and an admin token."""
    directory = tmp_path_factory.mktemp("oip-tokens")
    (directory / "users").write_text(USER_TOKEN + "\n")
    (directory / "admins").write_text(ADMIN_TOKEN + "\n")
    yield from serve("--auth-token-file", directory / "users", "--admin-token-file", directory / "admins")


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def big_png():
    """A PNG of more pixels than MAX_IMAGE_PIXELS (a few kilobytes)."""
    return encode(np.zeros((1001, 1001, 3), np.uint8), "PNG")


def image_input(client_module, images):
    """IMAGE: encoded images, one per element."""
    tensor = client_module.InferInput("IMAGE", [len(images)], "BYTES")
    tensor.set_data_from_numpy(np.array(images, dtype=np.object_))
    return tensor


def raw_input(client_module, pixels):
    """RAW: [H, W, 3] or [N, H, W, 3] uint8."""
    tensor = client_module.InferInput("RAW", list(pixels.shape), "UINT8")
    tensor.set_data_from_numpy(np.ascontiguousarray(pixels, dtype=np.uint8))
    return tensor


def infer_error(call, *args, **kwargs):
    """The InferenceServerException a tritonclient call ends with."""
    try:
        call(*args, **kwargs)
    except InferenceServerException as error:
        return error
    pytest.fail(f"{call} succeeded where an error was expected")


def text(element):
    """A BYTES element as str: bytes from binary data, str from JSON data."""
    return element.decode() if isinstance(element, bytes) else element


def per_image(result, count, masks=True):
    """A tritonclient result as one list of detections per image, each
    detection a dict of the record's fields."""
    boxes = result.as_numpy("BOXES")
    scores = result.as_numpy("SCORES")
    labels = result.as_numpy("LABELS")
    names = result.as_numpy("CLASS_NAMES")
    index = result.as_numpy("IMAGE_INDEX")
    rles = result.as_numpy("MASKS") if masks else None
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    assert labels.dtype == np.int64 and index.dtype == np.int64
    assert boxes.shape == (len(scores), 4)
    images = [[] for _ in range(count)]
    for k in range(len(scores)):
        detection = {"box": boxes[k].tolist(), "score": float(scores[k]), "class_id": int(labels[k]),
                     "class_name": text(names[k])}
        if masks:
            detection["rle"] = text(rles[k])
        images[int(index[k])].append(detection)
    return images


def detect_records(response, masks=True):
    """A roiserve.v1 DetectResponse's detections in per_image's form."""
    records = []
    for detection in response.detections:
        box = detection.box
        record = {"box": np.array([box.x1, box.y1, box.x2, box.y2], np.float32).tolist(),
                  "score": float(np.float32(detection.score)), "class_id": detection.class_id,
                  "class_name": detection.class_name}
        if masks:
            record["rle"] = detection.mask.coco_rle.counts
        records.append(record)
    return records


def detect(server, image, **options):
    return server.stub().Detect(detect_request(image, **options), timeout=60)


def latency_names(parameters, suffix=""):
    """The stage names among a response's parameters, in roiserve.v1's order."""
    return [stage for stage in DETECT_STAGES if stage + suffix in parameters]
