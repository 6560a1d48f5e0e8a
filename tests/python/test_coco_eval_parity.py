"""roiserve's COCO masks and COCO evaluation (detector/eval) against
pycocotools, the reference, on random cases.

The C++ code runs in roiserve_coco_eval_cli (JSON on stdin and stdout, see
tests/cpp/detector/coco_eval_cli.cpp), found through ROISERVE_COCO_EVAL_CLI.
RLE strings, areas, boxes, polygon rasterizations, IoUs and the precision and
recall arrays must be identical; the 12 summary numbers must agree to 1e-12.

pycocotools comes from PyPI, into the venv that `scripts/install-deps.sh test`
makes (it sees Debian's numpy and torch):
    ROISERVE_COCO_EVAL_CLI=build/tests/roiserve_coco_eval_cli \\
        .venv-test/bin/python -m pytest tests/python/test_coco_eval_parity.py -q
"""
import contextlib
import copy
import io
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "pycocotools",
    reason="pycocotools is not installed: run the suite with .venv-test/bin/python "
    "(scripts/install-deps.sh test creates it)",
)
from pycocotools import _mask  # noqa: E402  (rleFrPoly for any number of points)
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

CLI_VARIABLE = "ROISERVE_COCO_EVAL_CLI"
STAT_TOLERANCE = 1e-12
NUM_BATCHES = 8


@pytest.fixture(scope="module")
def cli():
    """Runs one request through roiserve_coco_eval_cli and returns its response."""
    path = os.environ.get(CLI_VARIABLE)
    if not path:
        pytest.skip(
            f"{CLI_VARIABLE} is not set: point it at roiserve_coco_eval_cli "
            "(e.g. build/tests/roiserve_coco_eval_cli) to compare with pycocotools"
        )
    if not Path(path).is_file():
        pytest.fail(f"{CLI_VARIABLE}={path} is not a file: build the roiserve_coco_eval_cli target")

    def run(request):
        completed = subprocess.run(
            [path], input=json.dumps(request), capture_output=True, text=True, check=False
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    return run


# --- pycocotools side --------------------------------------------------------


def coco_encode(mask):
    """pycocotools' RLE dict of a [H, W] 0/1 mask, counts as str."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)[:, :, None]))[0]
    return as_text(rle)


def as_text(rle):
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def coco_polygons(polygons, height, width):
    """One RLE per polygon (rleFrPoly) and their union, as pycocotools' annToRLE makes it."""
    parts = _mask.frPoly([np.asarray(p, dtype=np.float64) for p in polygons], height, width)
    return [as_text(p) for p in parts], as_text(mask_utils.merge(parts))


def column_major_counts(mask):
    """An uncompressed COCO RLE's counts, as crowd annotations store them."""
    flat = mask.flatten(order="F").astype(np.int64)
    boundaries = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(boundaries).tolist()
    return [0] + counts if flat.size and flat[0] else counts


# --- random inputs -----------------------------------------------------------


def random_rle(rng, height, width):
    """A random mask's RLE; sometimes with empty runs inserted, which encoding
    never makes but strings can hold."""
    mask = random_mask(rng, height, width)
    if rng.random() < 0.7:
        return coco_encode(mask)
    counts = column_major_counts(mask) or [0]
    for _ in range(int(rng.integers(1, 4))):
        position = int(rng.integers(1, len(counts) + 1))
        counts[position:position] = [0, 0]
    uncompressed = {"size": [height, width], "counts": counts}
    return as_text(_mask.frUncompressedRLE([uncompressed], height, width)[0])



def random_mask(rng, height, width):
    kind = rng.integers(5)
    if kind == 0:  # noise of any density
        return (rng.random((height, width)) < rng.random()).astype(np.uint8)
    if kind == 1:  # blobs: thresholded coarse noise, upsampled
        coarse = rng.random((height // 4 + 2, width // 4 + 2))
        fine = np.kron(coarse, np.ones((4, 4)))[:height, :width]
        return (fine < rng.uniform(0.2, 0.8)).astype(np.uint8)
    if kind == 2:  # a rectangle
        mask = np.zeros((height, width), np.uint8)
        y0, y1 = np.sort(rng.integers(0, height + 1, 2))
        x0, x1 = np.sort(rng.integers(0, width + 1, 2))
        mask[y0:y1, x0:x1] = 1
        return mask
    if kind == 3:
        return np.zeros((height, width), np.uint8)
    return np.ones((height, width), np.uint8)


def random_coordinates(rng, count, height, width):
    """Polygon vertices, flat [x0, y0, ...], of varied awkwardness."""
    kind = rng.integers(6)
    center = rng.uniform([-0.2 * width, -0.2 * height], [1.2 * width, 1.2 * height])
    radius = rng.uniform(0.5, 0.6 * max(height, width))
    if kind == 0:  # star-shaped around a centre
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = radius * rng.uniform(0.3, 1.0, count)
        points = center + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
    elif kind == 1:  # anywhere: self-intersecting
        points = rng.uniform([-5, -5], [width + 5, height + 5], (count, 2))
    elif kind == 2:  # on coarse grids, where pixel centres and fine-grid points coincide
        step = rng.choice([1.0, 0.5, 0.2, 0.1, 0.25])
        points = np.round(rng.uniform([-3, -3], [width + 3, height + 3], (count, 2)) / step) * step
    elif kind == 3:  # repeated vertices
        points = rng.uniform([0, 0], [width, height], (count, 2))
        points = points[np.sort(rng.integers(0, count, count))]
    elif kind == 4:  # far outside, or huge
        points = rng.uniform(-3000, 3000, (count, 2))
    else:  # a thin sliver
        start = rng.uniform([0, 0], [width, height])
        direction = rng.normal(size=2)
        points = start + np.outer(rng.uniform(0, radius, count), direction)
        points += rng.normal(scale=0.3, size=(count, 2))
    return [float(v) for v in points.reshape(-1)]


def random_score(rng, previous):
    kind = rng.integers(4)
    if kind == 0 and previous:
        return previous[int(rng.integers(len(previous)))]  # an exact tie
    if kind == 1:
        return float(np.round(rng.random(), 1))  # coarse: many ties
    return float(rng.random())


def object_polygons(rng, height, width, center=None, radius=None):
    """One or two star-shaped polygons, as an object's COCO segmentation."""
    if center is None:
        center = rng.uniform([0, 0], [width, height])
        radius = rng.choice([rng.uniform(2, 12), rng.uniform(12, 40), rng.uniform(40, 120)])
    polygons = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        count = int(rng.integers(3, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = radius * rng.uniform(0.4, 1.0, count)
        part_center = center + rng.normal(scale=radius / 3, size=2)
        points = part_center + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
        polygons.append([float(v) for v in points.reshape(-1)])
    return polygons, center, radius


def random_area(rng, mask_area, box):
    kind = rng.integers(6)
    if kind == 0:
        return float(box[2] * box[3])
    if kind == 1:
        return float(rng.choice([32.0**2, 96.0**2, 32.0**2 + 1e-9, 96.0**2 - 0.5, 0.0]))
    if kind == 2:
        return float(rng.uniform(0, 20000))
    return float(mask_area)


def random_dataset(rng):
    """A COCO ground-truth dict and results for both IoU types."""
    num_images = int(rng.integers(1, 7))
    num_categories = int(rng.choice([1, 2, 3, 4, 12], p=[0.2, 0.3, 0.25, 0.15, 0.1]))
    category_ids = [int(c) for c in rng.choice(np.arange(1, 100), num_categories, replace=False)]
    image_ids = [int(i) for i in rng.choice(np.arange(1, 1000), num_images, replace=False)]
    images, annotations, box_results, mask_results = [], [], [], []
    scores = []
    annotation_ids = iter(rng.permutation(np.arange(1, 10000)))
    for image_id in image_ids:
        height, width = int(rng.integers(16, 240)), int(rng.integers(16, 320))
        images.append({"id": image_id, "height": height, "width": width})
        objects = []
        num_objects = 0 if rng.random() < 0.15 else int(rng.integers(0, 9))
        for _ in range(num_objects):
            polygons, center, radius = object_polygons(rng, height, width)
            rle = mask_utils.merge(_mask.frPoly([np.asarray(p) for p in polygons], height, width))
            box = [float(v) for v in mask_utils.toBbox(rle)]
            if rng.random() < 0.3:
                box = [box[0] + rng.normal(), box[1] + rng.normal(), box[2] * rng.uniform(0.9, 1.1),
                       box[3] * rng.uniform(0.9, 1.1)]
            category = int(rng.choice(category_ids))
            crowd = bool(rng.random() < 0.12)
            if crowd:
                mask = mask_utils.decode(rle)
                segmentation = {"size": [height, width], "counts": column_major_counts(mask)}
            elif rng.random() < 0.1:
                segmentation = as_text(rle)
            else:
                segmentation = polygons
            annotations.append({
                "id": int(next(annotation_ids)), "image_id": image_id, "category_id": category,
                "bbox": box, "area": random_area(rng, mask_utils.area(rle), box),
                "iscrowd": int(crowd), "segmentation": segmentation,
            })
            objects.append((category, polygons, center, radius))
        num_detections = int(rng.integers(100, 130)) if rng.random() < 0.05 else int(rng.integers(0, 13))
        for _ in range(num_detections):
            if objects and rng.random() < 0.7:
                category, polygons, center, radius = objects[int(rng.integers(len(objects)))]
                if rng.random() < 0.15:
                    category = int(rng.choice(category_ids))
                if rng.random() < 0.6:  # the object's outline, moved and scaled a little
                    shift = rng.normal(scale=radius * rng.choice([0.01, 0.05, 0.15]), size=2)
                    scale = rng.uniform(0.9, 1.1)
                    polygons = [[float(v) for v in
                                 ((np.reshape(p, (-1, 2)) - center) * scale + center + shift).reshape(-1)]
                                for p in polygons]
                else:  # another outline around about the same place
                    center = center + rng.normal(scale=radius * 0.1, size=2)
                    polygons, _, _ = object_polygons(rng, height, width, center, radius)
            else:
                category = int(rng.choice(category_ids))
                polygons, _, _ = object_polygons(rng, height, width)
            rle = mask_utils.merge(_mask.frPoly([np.asarray(p) for p in polygons], height, width))
            box = [float(v) for v in mask_utils.toBbox(rle)]
            box = [box[0] + rng.normal(scale=0.5), box[1] + rng.normal(scale=0.5),
                   max(0.0, box[2] + rng.normal()), max(0.0, box[3] + rng.normal())]
            score = random_score(rng, scores)
            scores.append(score)
            common = {"image_id": image_id, "category_id": category, "score": score}
            box_results.append({**common, "bbox": box})
            mask_results.append({**common, "segmentation": as_text(rle)})
    if not box_results:  # pycocotools' loadRes needs at least one result
        image = images[0]
        common = {"image_id": image["id"], "category_id": category_ids[0], "score": 0.5}
        box_results.append({**common, "bbox": [1.0, 1.0, 5.0, 5.0]})
        rle = _mask.frBbox(np.array([[1.0, 1.0, 5.0, 5.0]]), image["height"], image["width"])[0]
        mask_results.append({**common, "segmentation": as_text(rle)})
    dataset = {
        "images": images,
        "categories": [{"id": c, "name": str(c)} for c in category_ids],
        "annotations": annotations,
    }
    return dataset, {"bbox": box_results, "segm": mask_results}


def pycocotools_evaluation(dataset, results, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = copy.deepcopy(dataset)
        truth.createIndex()
        detections = truth.loadRes(copy.deepcopy(results))
        evaluation = COCOeval(truth, detections, iou_type)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval["precision"]
    category_ap = []
    for k in range(precision.shape[2]):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        category_ap.append(float(np.mean(values)) if values.size else -1.0)
    return {
        "stats": evaluation.stats,
        "precision": precision,
        "recall": evaluation.eval["recall"],
        "category_ids": evaluation.params.catIds,
        "category_ap": category_ap,
    }


# --- tests -------------------------------------------------------------------


@pytest.mark.parametrize("batch", range(NUM_BATCHES))
def test_evaluation_matches_pycocotools(cli, batch):
    rng = np.random.default_rng(1000 + batch)
    cases = []
    for _ in range(12):
        dataset, results = random_dataset(rng)
        for iou_type in ("bbox", "segm"):
            cases.append((dataset, results[iou_type], iou_type))
    requests = [{**dataset, "detections": results, "iou_type": iou_type}
                for dataset, results, iou_type in cases]
    responses = cli({"evaluations": requests})["evaluations"]
    for index, ((dataset, results, iou_type), ours) in enumerate(zip(cases, responses)):
        where = f"batch {batch} case {index // 2} ({iou_type})"
        theirs = pycocotools_evaluation(dataset, results, iou_type)
        precision = np.array(ours["precision"]).reshape(theirs["precision"].shape)
        recall = np.array(ours["recall"]).reshape(theirs["recall"].shape)
        np.testing.assert_array_equal(precision, theirs["precision"], err_msg=where)
        np.testing.assert_array_equal(recall, theirs["recall"], err_msg=where)
        np.testing.assert_allclose(ours["stats"], theirs["stats"], rtol=0, atol=STAT_TOLERANCE,
                                   err_msg=where)
        assert ours["category_ids"] == [int(c) for c in theirs["category_ids"]], where
        np.testing.assert_allclose(ours["category_ap"], theirs["category_ap"], rtol=0,
                                   atol=STAT_TOLERANCE, err_msg=where)


def test_evaluation_covers_every_kind_of_stat(cli):
    """The random cases reach every summary number with values other than -1,
    0 and 1, so that the parity above says something about each."""
    rng = np.random.default_rng(1000)
    seen = np.zeros(12, bool)
    requests = []
    for _ in range(12):
        dataset, results = random_dataset(rng)
        requests.append({**dataset, "detections": results["segm"], "iou_type": "segm"})
    for response in cli({"evaluations": requests})["evaluations"]:
        stats = np.array(response["stats"])
        seen |= (stats > 0) & (stats < 1)
    assert seen.all(), seen


def test_encoding_matches_pycocotools(cli):
    rng = np.random.default_rng(1)
    sizes = [(1, 1), (1, 17), (23, 1), (0, 5), (5, 0), (4, 4)] + [
        tuple(int(v) for v in rng.integers(1, 70, 2)) for _ in range(150)
    ]
    masks = [random_mask(rng, h, w) for h, w in sizes]
    ops = [{"op": "encode", "height": m.shape[0], "width": m.shape[1],
            "mask": m.reshape(-1).tolist()} for m in masks]
    for mask, ours in zip(masks, cli({"rle_ops": ops})["rle_ops"]):
        rle = coco_encode(mask)
        assert ours["counts"] == rle["counts"], mask.shape
        assert ours["area"] == int(mask_utils.area(rle))
        assert ours["bbox"] == mask_utils.toBbox(rle).tolist()


def test_decoding_and_strings_match_pycocotools(cli):
    rng = np.random.default_rng(2)
    masks = [random_mask(rng, *(int(v) for v in rng.integers(1, 60, 2))) for _ in range(100)]
    ops = [{"op": "decode", "height": m.shape[0], "width": m.shape[1],
            "counts": coco_encode(m)["counts"]} for m in masks]
    for mask, ours in zip(masks, cli({"rle_ops": ops})["rle_ops"]):
        np.testing.assert_array_equal(np.array(ours["mask"]).reshape(mask.shape), mask)

    # Large images: long runs, several characters per count, large negative deltas.
    ops, expected = [], []
    for _ in range(12):
        height, width = int(rng.integers(500, 3000)), int(rng.integers(500, 3000))
        mask = np.zeros((height, width), np.uint8)
        for _ in range(int(rng.integers(0, 6))):
            y, x = rng.integers(0, height), rng.integers(0, width)
            mask[y:y + int(rng.integers(1, 400)), x:x + int(rng.integers(1, 400))] = 1
        rle = coco_encode(mask)
        ops.append({"op": "string_info", "height": height, "width": width, "counts": rle["counts"]})
        expected.append((rle, mask_utils.area(rle), mask_utils.toBbox(rle).tolist()))
    for (rle, area, box), ours in zip(expected, cli({"rle_ops": ops})["rle_ops"]):
        assert ours["counts"] == rle["counts"]
        assert ours["area"] == area
        assert ours["bbox"] == box


def test_patch_encoding_matches_pycocotools(cli):
    rng = np.random.default_rng(3)
    ops, expected = [], []
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(1, 80, 2))
        patch = random_mask(rng, *(int(v) for v in rng.integers(0, 40, 2)))
        top = int(rng.integers(-patch.shape[0] - 5, height + 5))
        left = int(rng.integers(-patch.shape[1] - 5, width + 5))
        full = np.zeros((height, width), np.uint8)
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + patch.shape[0], height), min(left + patch.shape[1], width)
        if y0 < y1 and x0 < x1:
            full[y0:y1, x0:x1] = patch[y0 - top:y1 - top, x0 - left:x1 - left]
        ops.append({"op": "encode_patch", "height": height, "width": width, "top": top,
                    "left": left, "patch_height": patch.shape[0], "patch_width": patch.shape[1],
                    "patch": patch.reshape(-1).tolist()})
        expected.append(coco_encode(full)["counts"])
    for counts, ours in zip(expected, cli({"rle_ops": ops})["rle_ops"]):
        assert ours["counts"] == counts


def test_polygon_rasterization_matches_pycocotools(cli):
    rng = np.random.default_rng(4)
    ops, expected = [], []
    for _ in range(600):
        if rng.random() < 0.1:
            height, width = int(rng.integers(200, 600)), int(rng.integers(200, 600))
        else:
            height, width = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        polygons = [random_coordinates(rng, int(rng.integers(1, 13)), height, width)
                    for _ in range(int(rng.integers(1, 4)))]
        ops.append({"op": "polygons", "height": height, "width": width, "polygons": polygons})
        expected.append(coco_polygons(polygons, height, width))
    for (parts, merged), ours in zip(expected, cli({"rle_ops": ops})["rle_ops"]):
        assert ours["counts"] == [p["counts"] for p in parts]
        assert ours["merged"] == merged["counts"]


def test_box_rasterization_matches_pycocotools(cli):
    rng = np.random.default_rng(5)
    ops, expected = [], []
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(1, 60, 2))
        box = rng.uniform([-10, -10, 0, 0], [width + 5, height + 5, width, height])
        if rng.random() < 0.3:
            box = np.round(box * 2) / 2
        ops.append({"op": "bbox", "height": height, "width": width, "box": box.tolist()})
        expected.append(as_text(_mask.frBbox(box[None, :], height, width)[0])["counts"])
    for counts, ours in zip(expected, cli({"rle_ops": ops})["rle_ops"]):
        assert ours["counts"] == counts


def test_merge_and_iou_match_pycocotools(cli):
    rng = np.random.default_rng(6)
    ops, expected = [], []
    for _ in range(150):
        height, width = (int(v) for v in rng.integers(1, 50, 2))
        rles = [random_rle(rng, height, width) for _ in range(int(rng.integers(1, 5)))]
        ops.append({"op": "merge", "height": height, "width": width,
                    "rles": [r["counts"] for r in rles]})
        expected.append(as_text(mask_utils.merge(rles))["counts"])

        detections = [random_rle(rng, height, width) for _ in range(int(rng.integers(1, 5)))]
        truths = [random_rle(rng, height, width) for _ in range(int(rng.integers(1, 5)))]
        crowd = [bool(c) for c in rng.random(len(truths)) < 0.4]
        ops.append({"op": "rle_iou", "height": height, "width": width,
                    "dt": [r["counts"] for r in detections], "gt": [r["counts"] for r in truths],
                    "iscrowd": crowd})
        expected.append(np.asarray(mask_utils.iou(detections, truths, crowd)).tolist())

        boxes_dt = rng.uniform([-5, -5, -2, -2], [40, 40, 30, 30], (int(rng.integers(1, 6)), 4))
        boxes_gt = rng.uniform([-5, -5, -2, -2], [40, 40, 30, 30], (int(rng.integers(1, 6)), 4))
        crowd = [bool(c) for c in rng.random(len(boxes_gt)) < 0.4]
        ops.append({"op": "box_iou", "dt": boxes_dt.tolist(), "gt": boxes_gt.tolist(),
                    "iscrowd": crowd})
        expected.append(np.asarray(mask_utils.iou(boxes_dt, boxes_gt, crowd)).tolist())
    for theirs, ours in zip(expected, cli({"rle_ops": ops})["rle_ops"]):
        if isinstance(theirs, str):
            assert ours["counts"] == theirs
        else:
            assert ours["iou"] == theirs
