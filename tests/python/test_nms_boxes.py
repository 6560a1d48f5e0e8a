"""nms, batched_nms and the box utilities against torchvision 0.14
(torchvision.ops.nms / batched_nms / box_area / box_iou / clip_boxes_to_image /
remove_small_boxes, and detection._utils.BoxCoder's encode_single /
decode_single)."""
import math

import pytest
import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import boxes as tv_boxes

import roi_cases as rc

IOU_THRESHOLDS = (-0.1, 0.0, 0.3, 0.5, 0.7, 1.0)
SCORE_KINDS = ("distinct", "ties", "all_equal")

# batched_nms and the box utilities are composite (no device kernels), defined
# in torch.ops.roiserve only: the run against that namespace covers them.
composite = pytest.mark.skipif(rc.OPS_NAMESPACE == rc.CUDA_HOST_NAMESPACE,
                               reason="composite op: only in torch.ops.roiserve")


def random_boxes(rng, gen, count, dtype, *, dyadic=False, degenerate=True):
    """[count, 4] boxes (x1, y1, x2, y2) in about [0, 64]: some duplicated,
    some of zero or negative extent. dyadic: coordinates on a quarter grid, so
    that any shifted copy (batched_nms's coordinate trick) is exact."""
    if count == 0:
        return torch.zeros(0, 4, dtype=dtype)
    corner = torch.rand(count, 2, generator=gen, dtype=torch.float64) * 48
    size = torch.rand(count, 2, generator=gen, dtype=torch.float64) * 24
    boxes = torch.cat([corner, corner + size], 1)
    if dyadic:
        boxes = (boxes * 4).round() / 4
    if degenerate and count > 2:
        for _ in range(rng.randint(0, count // 8 + 1)):
            i = rng.randrange(count)
            kind = rng.choice(("zero_width", "point", "reversed"))
            if kind == "zero_width":
                boxes[i, 2] = boxes[i, 0]
            elif kind == "point":
                boxes[i, 2:] = boxes[i, :2]
            else:
                boxes[i] = boxes[i, [2, 3, 0, 1]]
    if count > 2:
        # Exact duplicates: IoU 1 with each other.
        for _ in range(rng.randint(0, count // 8 + 1)):
            boxes[rng.randrange(count)] = boxes[rng.randrange(count)]
    return boxes.to(dtype)


def random_scores(gen, count, dtype, kind):
    if kind == "distinct":
        return (torch.randperm(count, generator=gen).to(torch.float64) / max(count, 1)).to(dtype)
    if kind == "ties":
        return torch.randint(0, 5, (count,), generator=gen).to(dtype) / 4
    if kind == "all_equal":
        return torch.full((count,), 0.5, dtype=dtype)
    raise ValueError(kind)


@pytest.mark.parametrize("score_kind", SCORE_KINDS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_nms_matches_torchvision(dtype, score_kind, torch_gen, py_rng):
    # Equal scores keep index order in both (stable sort), so even with ties
    # the kept indices must come back in the same order.
    for trial in range(60):
        count = py_rng.choice((0, 1, 2, py_rng.randint(3, 40), py_rng.randint(40, 400)))
        boxes = random_boxes(py_rng, torch_gen, count, dtype)
        scores = random_scores(torch_gen, count, dtype, score_kind)
        for threshold in IOU_THRESHOLDS:
            ours = rc.rv().nms(boxes, scores, threshold)
            expected = rc.tv().nms(boxes, scores, threshold)
            rc.assert_bitwise_equal(
                ours, expected, f"nms trial={trial} N={count} iou_threshold={threshold}")


def batched_case(py_rng, torch_gen, count, dtype, score_kind, num_classes, idx_dtype):
    boxes = random_boxes(py_rng, torch_gen, count, dtype, dyadic=True)
    scores = random_scores(torch_gen, count, dtype, score_kind)
    idxs = torch.randint(0, num_classes, (count,), generator=torch_gen).to(idx_dtype)
    return boxes, scores, idxs


def assert_sorted_by_score_then_index(keep, scores, what):
    order = sorted(keep.tolist(), key=lambda i: (-scores[i].item(), i))
    assert keep.tolist() == order, what


@composite
@pytest.mark.parametrize("idx_dtype", [torch.int64, torch.int32], ids=rc.dtype_id)
@pytest.mark.parametrize("score_kind", SCORE_KINDS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_batched_nms_matches_torchvision_small(dtype, score_kind, idx_dtype, torch_gen, py_rng):
    # Up to 1000 boxes: torchvision offsets each category's boxes and runs one
    # nms. Quarter-grid coordinates keep the offset boxes' IoUs exact, so the
    # kept set must be identical; torchvision's single stable sort also orders
    # ties by index, as roiserve promises.
    for trial in range(25):
        count = py_rng.choice((0, 1, py_rng.randint(2, 50), py_rng.randint(50, 1000)))
        boxes, scores, idxs = batched_case(
            py_rng, torch_gen, count, dtype, score_kind, py_rng.randint(1, 6), idx_dtype)
        # Not below 0: see the test after this one.
        threshold = py_rng.choice([t for t in IOU_THRESHOLDS if t >= 0])
        ours = rc.rv().batched_nms(boxes, scores, idxs, threshold)
        expected = tv_boxes.batched_nms(boxes, scores, idxs, threshold)
        what = f"batched_nms trial={trial} N={count} iou_threshold={threshold}"
        rc.assert_bitwise_equal(ours, expected, what)
        assert_sorted_by_score_then_index(ours, scores, what)


@composite
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_batched_nms_negative_threshold_keeps_best_box_per_category(dtype, torch_gen, py_rng):
    # An IoU threshold below 0 suppresses every box overlapping nothing too.
    # torchvision's coordinate trick (used up to 1000 boxes) then suppresses
    # across categories, as all boxes share one nms; roiserve stays per
    # category, like torchvision's own per-category path (_batched_nms_vanilla).
    # (Boxes of positive area only: two zero-area boxes have IoU NaN and never
    # suppress each other.)
    for trial in range(10):
        count = py_rng.randint(1, 300)
        boxes = positive_boxes(torch_gen, count, dtype)
        scores = random_scores(torch_gen, count, dtype, "distinct")
        idxs = torch.randint(0, py_rng.randint(2, 6), (count,), generator=torch_gen)
        ours = rc.rv().batched_nms(boxes, scores, idxs, -0.1)
        best = [int(torch.where(idxs == c, scores, scores.new_tensor(-1.0)).argmax())
                for c in idxs.unique()]
        assert sorted(ours.tolist()) == sorted(best), f"trial={trial}"
        rc.assert_bitwise_equal(
            ours, tv_boxes._batched_nms_vanilla(boxes, scores, idxs, -0.1), f"trial={trial}")


@composite
@pytest.mark.parametrize("score_kind", SCORE_KINDS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_batched_nms_matches_torchvision_large(dtype, score_kind, torch_gen, py_rng):
    # Over 1000 boxes torchvision runs nms per category and then sorts the
    # survivors with an unstable sort: with tied scores only the kept set and
    # roiserve's documented order (score, then index) can be checked; with
    # distinct scores the order must match as well.
    for trial in range(4):
        count = py_rng.randint(1001, 2500)
        boxes, scores, idxs = batched_case(
            py_rng, torch_gen, count, dtype, score_kind, py_rng.randint(1, 20), torch.int64)
        boxes = boxes + torch.rand(boxes.shape, generator=torch_gen).to(dtype)  # off the grid
        threshold = py_rng.choice((0.3, 0.5, 0.7))
        ours = rc.rv().batched_nms(boxes, scores, idxs, threshold)
        expected = tv_boxes.batched_nms(boxes, scores, idxs, threshold)
        what = f"batched_nms trial={trial} N={count} iou_threshold={threshold}"
        if score_kind == "distinct":
            rc.assert_bitwise_equal(ours, expected, what)
        else:
            assert sorted(ours.tolist()) == sorted(expected.tolist()), what
        assert_sorted_by_score_then_index(ours, scores, what)


@composite
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_box_area_and_iou_match_torchvision(dtype, torch_gen, py_rng):
    for count1, count2 in [(0, 0), (0, 5), (7, 0), (1, 1), (13, 29), (200, 150)]:
        boxes1 = random_boxes(py_rng, torch_gen, count1, dtype)
        boxes2 = random_boxes(py_rng, torch_gen, count2, dtype)
        rc.assert_bitwise_equal(rc.rv().box_area(boxes1), tv_boxes.box_area(boxes1), "box_area")
        # Two zero-area boxes have IoU 0/0 = NaN in both.
        rc.assert_bitwise_equal(rc.rv().box_iou(boxes1, boxes2),
                                tv_boxes.box_iou(boxes1, boxes2), f"box_iou {count1}x{count2}")


@composite
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_clip_boxes_to_image_matches_torchvision(dtype, torch_gen, py_rng):
    for shape in [(0, 4), (1, 4), (50, 4), (3, 20, 4), (4,)]:
        boxes = (torch.rand(shape, generator=torch_gen, dtype=torch.float64) * 120 - 30).to(dtype)
        for height, width in [(0, 0), (1, 1), (37, 64), (64, 37), (480, 640)]:
            rc.assert_bitwise_equal(
                rc.rv().clip_boxes_to_image(boxes, height, width),
                tv_boxes.clip_boxes_to_image(boxes, (height, width)),
                f"clip_boxes_to_image boxes {list(shape)} to {height}x{width}")


@composite
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_remove_small_boxes_matches_torchvision(dtype, torch_gen, py_rng):
    for count in (0, 1, 40, 300):
        boxes = random_boxes(py_rng, torch_gen, count, dtype)
        for min_size in (0.0, 1e-3, 0.5, 3.7, 20.0, 100.0):
            rc.assert_bitwise_equal(
                rc.rv().remove_small_boxes(boxes, min_size),
                tv_boxes.remove_small_boxes(boxes, min_size),
                f"remove_small_boxes N={count} min_size={min_size}")


WEIGHTS = [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0), (2.5, 3.5, 0.7, 1.3)]


def positive_boxes(gen, count, dtype):
    corner = torch.rand(count, 2, generator=gen, dtype=torch.float64) * 500 - 100
    size = torch.rand(count, 2, generator=gen, dtype=torch.float64) * 200 + 0.5
    return torch.cat([corner, corner + size], 1).to(dtype)


@composite
@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_encode_boxes_matches_box_coder(dtype, weights, torch_gen):
    for count in (0, 1, 17, 500):
        reference = positive_boxes(torch_gen, count, dtype)
        proposals = positive_boxes(torch_gen, count, dtype)
        rc.assert_bitwise_equal(
            rc.rv().encode_boxes(reference, proposals, list(weights)),
            BoxCoder(weights).encode_single(reference, proposals),
            f"encode_boxes N={count} weights={weights}")


@composite
@pytest.mark.parametrize("clip", [math.log(1000.0 / 16), 2.0])
@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_decode_boxes_matches_box_coder(dtype, weights, clip, torch_gen):
    for count, classes in [(0, 1), (1, 1), (23, 1), (40, 3), (300, 5)]:
        # float64 anchors with float32 codes exercise decode's dtype cast.
        for boxes_dtype in (dtype, torch.float64):
            boxes = positive_boxes(torch_gen, count, boxes_dtype)
            # Codes up to +-8 in w/h, past either clip, so the clamp matters.
            rel_codes = (torch.rand(count, 4 * classes, generator=torch_gen,
                                    dtype=torch.float64) * 16 - 8).to(dtype)
            rc.assert_bitwise_equal(
                rc.rv().decode_boxes(rel_codes, boxes, list(weights), clip),
                BoxCoder(weights, clip).decode_single(rel_codes, boxes),
                f"decode_boxes N={count} classes={classes} weights={weights} clip={clip} "
                f"boxes {rc.dtype_id(boxes_dtype)}")


@composite
def test_encode_then_decode_round_trips(torch_gen):
    # Independent of torchvision: decode(encode(gt, p), p) == gt.
    proposals = positive_boxes(torch_gen, 100, torch.float64)
    reference = positive_boxes(torch_gen, 100, torch.float64)
    weights = [10.0, 10.0, 5.0, 5.0]
    codes = rc.rv().encode_boxes(reference, proposals, weights)
    decoded = rc.rv().decode_boxes(codes, proposals, weights, 100.0)
    torch.testing.assert_close(decoded, reference, rtol=1e-12, atol=1e-9)
