"""Every way a request can be refused, each with its exact gRPC status code and
a message that says what was wrong. One server serves the module, with its
limits lowered: an oversized message is then cheap to send, and a shapes-v1
image can be over the pixel limit."""
import struct
import time
import zlib

import numpy as np
import pytest

from service_support import (CALL_TIMEOUT_S, FAST_REFUSAL_S, HEADS, MASK_POOLERS, call_error, compare_request,
                             detect_request, encode, pb, raw_image, rgb_pixels, serve, shapes_png)

MAX_MESSAGE_BYTES = 1 << 20
MAX_IMAGE_PIXELS = 100000  # shapes-v1 image 0 (249 x 205) is under it, image 3 (306 x 349) over
MAX_DETECTIONS = 50
BOMB_SIDE = 30000  # 900 million pixels


@pytest.fixture(scope="module")
def server():
    yield from serve("--max-message-bytes", MAX_MESSAGE_BYTES, "--max-image-pixels", MAX_IMAGE_PIXELS,
                     "--max-detections", MAX_DETECTIONS)


def test_the_limits_are_those_configured(server):
    info = server.stub().GetModelInfo(pb.GetModelInfoRequest(), timeout=CALL_TIMEOUT_S)
    assert (info.input.max_message_bytes, info.input.max_image_pixels) == (MAX_MESSAGE_BYTES, MAX_IMAGE_PIXELS)
    assert info.defaults.max_detections_limit == MAX_DETECTIONS
    assert info.defaults.max_detections == MAX_DETECTIONS, "the model's default (100), capped by the limit"


def refusal(server, request, method="Detect"):
    """The error of a call that must fail, with how long it took."""
    started = time.monotonic()
    error = call_error(getattr(server.stub(), method), request)
    return error, time.monotonic() - started


def assert_refused(server, request, code, *message_parts, method="Detect"):
    error, _ = refusal(server, request, method)
    assert error.code().name == code, error.details()
    for part in message_parts:
        assert part in error.details(), f"{part!r} not in {error.details()!r}"
    return error


# ----- encoded images -------------------------------------------------------------------

def test_garbage_bytes_are_an_unsupported_format(server):
    assert_refused(server, detect_request(b"this is not an image at all"), "INVALID_ARGUMENT",
                   "unsupported image format", "JPEG, PNG, BMP, WebP or TIFF")


def test_an_empty_image_is_refused(server):
    assert_refused(server, detect_request(b""), "INVALID_ARGUMENT", "the image is empty")


def test_a_request_without_an_image_is_refused(server):
    assert_refused(server, pb.DetectRequest(), "INVALID_ARGUMENT", "has no image")


TRUNCATABLE = {"png": ("PNG", {}), "jpeg": ("JPEG", {"quality": 90}), "bmp": ("BMP", {}),
               "webp": ("WEBP", {"lossless": True}), "tiff": ("TIFF", {})}


@pytest.mark.parametrize("name", TRUNCATABLE)
def test_an_image_cut_inside_its_header_is_refused(server, name):
    image_format, options = TRUNCATABLE[name]
    whole = encode(rgb_pixels(0), image_format, **options)
    assert_refused(server, detect_request(whole[:16]), "INVALID_ARGUMENT", f"{name} header is truncated")


@pytest.mark.parametrize("name", TRUNCATABLE)
def test_an_image_cut_in_its_pixel_data_is_refused(server, name):
    image_format, options = TRUNCATABLE[name]
    whole = encode(rgb_pixels(0), image_format, **options)
    # libjpeg decodes a cut JPEG without an error (grey rows), so the server
    # looks for the end-of-image marker itself.
    message = "jpeg image is truncated" if name == "jpeg" else f"{name} image could not be decoded"
    assert_refused(server, detect_request(whole[:len(whole) // 2]), "INVALID_ARGUMENT", message)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb(name):
    """A small file whose header declares BOMB_SIDE x BOMB_SIDE pixels."""
    side = BOMB_SIDE
    if name == "png":
        return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                + png_chunk(b"IDAT", zlib.compress(bytes(4096))) + png_chunk(b"IEND", b""))
    if name == "jpeg":  # SOI, a baseline frame header (SOF0) for 3 components, EOI
        return (b"\xff\xd8\xff\xc0" + struct.pack(">HBHHB", 17, 8, side, side, 3)
                + bytes([1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]) + b"\xff\xd9")
    if name == "bmp":  # file header, BITMAPINFOHEADER of a 24-bit image
        return (b"BM" + struct.pack("<IHHI", 54 + 4096, 0, 0, 54)
                + struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0, 2835, 2835, 0, 0) + bytes(4096))
    if name == "webp":  # RIFF, WEBP, a VP8X chunk: flags, width - 1 and height - 1 in 24 bits
        vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (side - 1).to_bytes(3, "little") * 2
        return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    if name == "tiff":  # little-endian header, one IFD: ImageWidth and ImageLength as LONGs
        entries = struct.pack("<HHII", 256, 4, 1, side) + struct.pack("<HHII", 257, 4, 1, side)
        return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2) + entries + struct.pack("<I", 0)
    raise ValueError(name)


@pytest.mark.parametrize("name", ["png", "jpeg", "bmp", "webp", "tiff"])
def test_a_pixel_bomb_is_refused_fast_from_its_header(server, name):
    data = bomb(name)
    assert len(data) < 5000
    error, seconds = refusal(server, detect_request(data))
    assert error.code().name == "INVALID_ARGUMENT"
    # The header check's message (decoding would have failed differently).
    assert f"{name} image is {BOMB_SIDE}x{BOMB_SIDE} = {BOMB_SIDE ** 2} pixels" in error.details()
    assert f"over this server's limit of {MAX_IMAGE_PIXELS}" in error.details()
    assert seconds < FAST_REFUSAL_S, "refused before decoding or queueing"


def test_an_image_over_the_pixel_limit_is_refused(server):
    assert_refused(server, detect_request(shapes_png(3).read_bytes()), "INVALID_ARGUMENT",
                   f"png image is 306x349 = 106794 pixels, over this server's limit of {MAX_IMAGE_PIXELS}")


# ----- raw pixels --------------------------------------------------------------------

def small_pixels():
    return rgb_pixels(0)[:32, :48]


def test_raw_data_one_byte_short_is_refused(server):
    raw = raw_image(small_pixels())
    raw.data = raw.data[:-1]
    assert_refused(server, detect_request(raw), "INVALID_ARGUMENT",
                   "raw image data has 4607 bytes, but 32x48x3 uint8 needs 4608")


def test_raw_float32_with_the_size_of_uint8_data_is_refused(server):
    raw = raw_image(small_pixels())
    raw.data_type = pb.RawImage.FLOAT32
    assert_refused(server, detect_request(raw), "INVALID_ARGUMENT", "has 4608 bytes", "float32 needs 18432")


@pytest.mark.parametrize("channels", [0, 2, 5])
def test_raw_channel_counts_other_than_1_3_4_are_refused(server, channels):
    raw = raw_image(small_pixels())
    raw.channels = channels
    assert_refused(server, detect_request(raw), "INVALID_ARGUMENT",
                   f"raw image needs 1, 3 or 4 channels (got {channels})")


def test_raw_image_of_zero_height_is_refused(server):
    raw = raw_image(small_pixels())
    raw.height = 0
    assert_refused(server, detect_request(raw), "INVALID_ARGUMENT", "height and width > 0", "0x48")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_raw_float_pixels_that_are_not_finite_are_refused(server, value):
    pixels = small_pixels().astype(np.float32) / 255
    pixels[5, 7, 1] = value
    assert_refused(server, detect_request(raw_image(pixels)), "INVALID_ARGUMENT",
                   "raw float32 image has NaN or infinite samples")


@pytest.mark.parametrize("field, value", [("layout", 7), ("data_type", 9)])
def test_raw_unknown_layout_or_data_type_is_refused(server, field, value):
    raw = raw_image(small_pixels())
    setattr(raw, field, value)
    assert_refused(server, detect_request(raw), "INVALID_ARGUMENT", f"raw image has an unknown {field} {value}")


def test_raw_pixel_bomb_is_refused_fast(server):
    raw = pb.RawImage(height=BOMB_SIDE, width=BOMB_SIDE, channels=3, data=b"\0" * 16)
    error, seconds = refusal(server, detect_request(raw))
    assert error.code().name == "INVALID_ARGUMENT"
    assert f"raw image is {BOMB_SIDE}x{BOMB_SIDE}" in error.details() and "limit" in error.details()
    assert seconds < FAST_REFUSAL_S


# ----- options -----------------------------------------------------------------------

def png():
    return shapes_png(0).read_bytes()


def test_unknown_head_is_refused_naming_the_heads_there_are(server):
    assert_refused(server, detect_request(png(), head="fpn_magic"), "INVALID_ARGUMENT",
                   "no box head 'fpn_magic'", "(it has: " + ", ".join(sorted(HEADS)) + ")")


def test_unknown_mask_pooler_is_refused_naming_the_poolers_there_are(server):
    assert_refused(server, detect_request(png(), mask_pooler="ps_roi_align"), "INVALID_ARGUMENT",
                   "no mask pooler 'ps_roi_align'", "(it has: " + ", ".join(MASK_POOLERS) + ")")


def test_unknown_model_is_not_found(server):
    assert_refused(server, detect_request(png(), model="no-such-model"), "NOT_FOUND",
                   "no model named 'no-such-model'", "loaded: shapes-v1")


def test_model_info_of_an_unknown_model_is_not_found(server):
    assert_refused(server, pb.GetModelInfoRequest(name="no-such-model"), "NOT_FOUND",
                   "no model named 'no-such-model'", method="GetModelInfo")


@pytest.mark.parametrize("options, message", [
    ({"score_threshold": 1.5}, "score_threshold must be in [0, 1] (got 1.5"),
    ({"score_threshold": -0.25}, "score_threshold must be in [0, 1] (got -0.25"),
    ({"score_threshold": float("nan")}, "score_threshold must be in [0, 1] (got nan"),
    ({"nms_iou": 2.0}, "nms_iou must be in [0, 1] (got 2"),
    ({"max_detections": 0}, f"max_detections must be in 1..{MAX_DETECTIONS} (got 0)"),
    ({"max_detections": MAX_DETECTIONS + 1}, f"max_detections must be in 1..{MAX_DETECTIONS} (got 51)"),
    ({"mask_format": 9}, "unknown mask_format 9"),
], ids=["score over 1", "score under 0", "score nan", "nms_iou over 1", "max_detections 0",
        "max_detections over the limit", "unknown mask format"])
def test_out_of_range_options_are_refused(server, options, message):
    assert_refused(server, detect_request(png(), **options), "INVALID_ARGUMENT", message)


# ----- Compare -----------------------------------------------------------------------

@pytest.mark.parametrize("variants, message", [
    ([("roi_align", "")], "Compare needs 2..8 variants (got 1)"),
    ([(head, pooler) for head in HEADS for pooler in MASK_POOLERS] + [("spp", "")],
     "Compare needs 2..8 variants (got 9)"),
    ([("roi_align", "roi_align"), ("spp", ""), ("roi_align", "roi_align")],
     "Compare lists the variant (head roi_align, mask pooler roi_align) twice"),
    # The empty head and pooler are the model's defaults, roi_align and roi_align.
    ([("", ""), ("roi_align", "roi_align")], "Compare lists the variant (head roi_align, mask pooler roi_align) twice"),
    ([("roi_align", ""), ("fpn_magic", "")], "no box head 'fpn_magic'"),
], ids=["one variant", "over the limit", "duplicate", "duplicate by default", "unknown head"])
def test_bad_compare_variants_are_refused(server, variants, message):
    assert_refused(server, compare_request(png(), variants), "INVALID_ARGUMENT", message, method="Compare")


def test_compare_variants_equal_without_masks_are_duplicates(server):
    # Without masks the pooler plays no part: these two are one variant.
    request = compare_request(png(), [("spp", "roi_align"), ("spp", "roi_pool")], mask_format=pb.MASK_FORMAT_NONE)
    assert_refused(server, request, "INVALID_ARGUMENT", "Compare lists the variant (head spp) twice", method="Compare")


@pytest.mark.parametrize("field, value, message", [
    ("match_iou", 0.0, "match_iou must be in (0, 1] (got 0"),
    ("match_iou", 1.5, "match_iou must be in (0, 1] (got 1.5"),
    ("agreement_min_score", 2.0, "agreement_min_score must be in [0, 1] (got 2"),
])
def test_out_of_range_agreement_options_are_refused(server, field, value, message):
    request = compare_request(png(), [("roi_align", ""), ("spp", "")])
    setattr(request, field, value)
    assert_refused(server, request, "INVALID_ARGUMENT", message, method="Compare")


# ----- message size ------------------------------------------------------------------

def test_a_message_over_the_size_limit_is_resource_exhausted(server):
    oversized = detect_request(png() + bytes(MAX_MESSAGE_BYTES))
    assert oversized.ByteSize() > MAX_MESSAGE_BYTES
    error = assert_refused(server, oversized, "RESOURCE_EXHAUSTED", "larger than max")
    assert str(MAX_MESSAGE_BYTES) in error.details()
