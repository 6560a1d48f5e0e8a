"""roiserve-detect as users run it: real image files in every format it reads,
the shipped model, the detections JSON contract, drawings, and clear errors
for bad input."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tool_support import CLASSES, SHIPPED_MODEL, export_shapes, run_tool

pycocotools_mask = pytest.importorskip(
    "pycocotools.mask", reason="pycocotools is not installed: run with .venv-test/bin/python"
)

STAGES_WITH_MASKS = {"preprocess", "backbone", "rpn", "box_pool", "box_head", "postprocess",
                     "mask_pool", "mask_head", "paste", "total"}
MIN_SCORE = 0.5
# Every head, even the least trained of the shipped model (ps_roi_pool), scores
# some object above this; an untrained head scores none.
SOME_HEAD_SCORE = MIN_SCORE


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Four validation images as PNG files, and their ground truth."""
    directory = tmp_path_factory.mktemp("shapes")
    return directory, export_shapes(directory, 4)


def image_files(shapes):
    directory, coco = shapes
    return [directory / "images" / image["file_name"] for image in coco["images"]]


def detect(tmp_path, images, *flags, name="out.json"):
    output = tmp_path / name
    run_tool("roiserve-detect", "--model", SHIPPED_MODEL, "--threads", 2, *flags, "--json", output,
             *images)
    return json.loads(output.read_text())


def iou(box, truth_xywh):
    x, y, w, h = truth_xywh
    ix = max(0.0, min(box[2], x + w) - max(box[0], x))
    iy = max(0.0, min(box[3], y + h) - max(box[1], y))
    inter = ix * iy
    return inter / ((box[2] - box[0]) * (box[3] - box[1]) + w * h - inter)


def finds(detection, annotation):
    """A confident detection of the object's class whose box overlaps the object's."""
    return (detection["score"] >= MIN_SCORE and detection["category_id"] == annotation["category_id"]
            and iou(detection["bbox"], annotation["bbox"]) >= 0.5)


def found_objects(record, annotations):
    """How many ground-truth objects a confident detection of their class covers."""
    return sum(any(finds(d, a) for d in record["detections"]) for a in annotations)


def test_json_contract_and_the_shipped_model_finds_the_shapes(tmp_path, shapes):
    _, coco = shapes
    files = image_files(shapes)
    document = detect(tmp_path, files)
    assert list(document) == ["images"]
    assert len(document["images"]) == len(files)
    total_objects = total_found = 0
    for record, image, path in zip(document["images"], coco["images"], files):
        assert record["file"] == str(path)
        assert (record["width"], record["height"]) == (image["width"], image["height"])
        assert set(record["timings_ms"]) == STAGES_WITH_MASKS
        assert all(ms >= 0 for ms in record["timings_ms"].values())
        scores = [d["score"] for d in record["detections"]]
        assert scores == sorted(scores, reverse=True)
        for d in record["detections"]:
            assert set(d) == {"bbox", "category_id", "category", "score", "segmentation"}
            x1, y1, x2, y2 = d["bbox"]
            assert 0 <= x1 <= x2 <= image["width"] and 0 <= y1 <= y2 <= image["height"]
            assert d["category"] == CLASSES[d["category_id"] - 1]
            assert d["segmentation"]["size"] == [image["height"], image["width"]]
            mask = pycocotools_mask.decode({**d["segmentation"], "counts": d["segmentation"]["counts"].encode()})
            assert mask.shape == (image["height"], image["width"])
        annotations = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        total_objects += len(annotations)
        total_found += found_objects(record, annotations)
    assert total_found >= 0.9 * total_objects, f"found {total_found} of {total_objects} objects"


def test_confident_masks_cover_their_objects(tmp_path, shapes):
    """Every object found by a confident detection of its class is covered by
    that detection's mask (how many are found is the test above)."""
    _, coco = shapes
    record = detect(tmp_path, image_files(shapes)[:1])["images"][0]
    image_id = coco["images"][0]["id"]
    covered = 0
    for annotation in (a for a in coco["annotations"] if a["image_id"] == image_id):
        if not any(finds(d, annotation) for d in record["detections"]):
            continue
        truth = pycocotools_mask.decode({**annotation["segmentation"],
                                         "counts": annotation["segmentation"]["counts"].encode()})
        best = 0.0
        for d in record["detections"]:
            if d["category_id"] != annotation["category_id"] or d["score"] < MIN_SCORE:
                continue
            mask = pycocotools_mask.decode({**d["segmentation"], "counts": d["segmentation"]["counts"].encode()})
            best = max(best, (mask & truth).sum() / (mask | truth).sum())
        assert best >= 0.6, f"object {annotation['id']}: best mask IoU {best:.2f}"
        covered += 1
    assert covered > 0, "no object of the image was found"


def test_lossless_formats_give_identical_detections(tmp_path, shapes):
    png = image_files(shapes)[0]
    rgb = Image.open(png).convert("RGB")
    copies = [png]
    for suffix, options in ((".bmp", {}), (".tiff", {}), (".webp", {"lossless": True})):
        path = tmp_path / ("copy" + suffix)
        rgb.save(path, **options)
        copies.append(path)
    grey_rgba = tmp_path / "rgba.png"
    rgb.convert("RGBA").save(grey_rgba)
    copies.append(grey_rgba)
    records = detect(tmp_path, copies)["images"]
    for record in records[1:]:
        assert record["detections"] == records[0]["detections"], record["file"]


def test_jpeg_still_finds_the_shapes(tmp_path, shapes):
    _, coco = shapes
    path = tmp_path / "image.jpg"
    Image.open(image_files(shapes)[1]).convert("RGB").save(path, quality=90)
    record = detect(tmp_path, [path])["images"][0]
    image_id = coco["images"][1]["id"]
    annotations = [a for a in coco["annotations"] if a["image_id"] == image_id]
    assert found_objects(record, annotations) >= len(annotations) - 1


def test_every_head_and_pooler_and_the_options(tmp_path, shapes):
    files = image_files(shapes)[:2]
    for head in ("roi_align", "roi_pool", "ps_roi_pool", "spp"):
        for pooler in ("roi_align", "roi_pool"):
            records = detect(tmp_path, files, "--head", head, "--mask-pooler", pooler)["images"]
            assert any(d["score"] >= SOME_HEAD_SCORE for r in records for d in r["detections"]), (head, pooler)
    boxes_only = detect(tmp_path, files, "--no-masks", "--score-threshold", 0.5, "--max-detections", 3)
    for record in boxes_only["images"]:
        assert "mask_pool" not in record["timings_ms"]
        assert len(record["detections"]) <= 3
        assert all("segmentation" not in d and d["score"] > 0.5 for d in record["detections"])


def test_draw_writes_an_annotated_png_per_image(tmp_path, shapes):
    files = image_files(shapes)[:2]
    duplicate = tmp_path / "elsewhere" / files[0].name
    duplicate.parent.mkdir()
    shutil.copy(files[0], duplicate)
    drawings = tmp_path / "drawn"
    detect(tmp_path, [*files, duplicate], "--draw", drawings)
    written = sorted(p.name for p in drawings.iterdir())
    assert written == sorted([files[0].stem + ".png", files[1].stem + ".png", files[0].stem + "-2.png"])
    original = np.asarray(Image.open(files[0]).convert("RGB"))
    drawn = np.asarray(Image.open(drawings / (files[0].stem + ".png")))
    assert drawn.shape == original.shape
    assert (drawn != original).any()


@pytest.mark.parametrize(
    "setup, flags, message",
    [
        ("garbage", [], "cannot read image"),
        ("truncated", [], "cannot read image"),
        ("missing", [], "No such file or directory"),
        ("png", ["--head", "fpn_magic"], "has no box head 'fpn_magic'"),
        ("png", ["--mask-pooler", "ps_roi_align"], "has no mask pooler 'ps_roi_align'"),
        ("png", ["--threads", "0"], "--threads"),
        ("png", ["--score-threshold", "1.5"], "--score-threshold"),
        ("none", [], "images is required"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, shapes, setup, flags, message):
    png = image_files(shapes)[0]
    images = {
        "png": [png],
        "garbage": [tmp_path / "garbage.png"],
        "truncated": [tmp_path / "truncated.png"],
        "missing": [tmp_path / "missing.png"],
        "none": [],
    }[setup]
    (tmp_path / "garbage.png").write_bytes(b"this is not an image")
    (tmp_path / "truncated.png").write_bytes(png.read_bytes()[:200])
    output = tmp_path / "out.json"
    completed = run_tool("roiserve-detect", "--model", SHIPPED_MODEL, *flags, "--json", output, *images,
                         check=False)
    assert completed.returncode != 0
    assert message in completed.stderr, completed.stderr
    if setup in ("garbage", "truncated", "missing"):
        assert str(images[0]) in completed.stderr
    assert not output.exists(), "no partial output on error"


def test_missing_model_is_a_clear_error(tmp_path, shapes):
    completed = run_tool("roiserve-detect", "--model", tmp_path / "nowhere", "--json", tmp_path / "o.json",
                         image_files(shapes)[0], check=False)
    assert completed.returncode != 0
    assert "nowhere" in completed.stderr and "is not a directory" in completed.stderr
