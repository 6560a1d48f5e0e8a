"""Invalid arguments raise the right Python exception with a message that
starts with the op's name and names the bad argument. Where torchvision 0.14
also rejects the input (shapes, dtypes, output sizes, the position-sensitive
channels, nms's arguments) that is a RuntimeError, as torchvision's is, so that
its callers' `except RuntimeError` keeps working; where torchvision trusts its
input (a bad batch index reads out of bounds, 1e9 segfaults; non-finite
coordinates, spatial_scale, the backward ops' gradient and index tensors)
roiserve refuses it with an IndexError or a ValueError.

Backward ops report themselves without the leading underscore
("roi_align_backward: ...")."""
import re

import pytest
import torch

import roi_cases as rc

N, C, H, W = 2, 8, 6, 7
POOLING_OPS = ("roi_align", "roi_pool", "ps_roi_pool", "ps_roi_align", "spp_roi_pool")
POSITION_SENSITIVE_OPS = ("ps_roi_pool", "ps_roi_align")
WITH_INDEX_OUTPUT = ("roi_pool", "ps_roi_pool", "ps_roi_align", "spp_roi_pool")
LEVELS = [1, 2]
DIRECTIONS = ("forward", "backward")


def features(dtype=torch.float32, channels=C):
    return torch.randn(N, channels, H, W, generator=torch.Generator().manual_seed(0)).to(dtype)


def good_rois(dtype=torch.float32):
    return torch.tensor([[0, 1, 1, 4, 5], [1, 0, 0, 6, 5], [0, 2, 1, 3, 3]], dtype=dtype)


def run_forward(name, x=None, rois=None, spatial_scale=1.0, pooled=(2, 2), levels=LEVELS):
    x = features() if x is None else x
    rois = good_rois(x.dtype) if rois is None else rois
    ph, pw = pooled
    ops = rc.rv()
    if name == "roi_align":
        return ops.roi_align(x, rois, spatial_scale, ph, pw, 2, False)
    if name == "roi_pool":
        return ops.roi_pool(x, rois, spatial_scale, ph, pw)
    if name == "ps_roi_pool":
        return ops.ps_roi_pool(x, rois, spatial_scale, ph, pw)
    if name == "ps_roi_align":
        return ops.ps_roi_align(x, rois, spatial_scale, ph, pw, 2)
    if name == "spp_roi_pool":
        return ops.spp_roi_pool(x, rois, spatial_scale, levels)
    raise ValueError(name)


def run_backward(name, grad=None, rois=None, index=None, spatial_scale=1.0, pooled=(2, 2),
                 levels=LEVELS, sizes=(N, C, H, W)):
    """The backward op of `name` on arguments that are valid unless overridden."""
    out = run_forward(name)
    default_index = None
    if name in WITH_INDEX_OUTPUT:
        out, default_index = out
    grad = torch.ones_like(out) if grad is None else grad
    index = default_index if index is None else index
    rois = good_rois() if rois is None else rois
    ph, pw = pooled
    ops = rc.rv()
    if name == "roi_align":
        return ops._roi_align_backward(grad, rois, spatial_scale, ph, pw, *sizes, 2, False)
    if name == "roi_pool":
        return ops._roi_pool_backward(grad, rois, index, spatial_scale, ph, pw, *sizes)
    if name == "ps_roi_pool":
        return ops._ps_roi_pool_backward(grad, rois, index, spatial_scale, ph, pw, *sizes)
    if name == "ps_roi_align":
        return ops._ps_roi_align_backward(grad, rois, index, spatial_scale, ph, pw, 2, *sizes)
    if name == "spp_roi_pool":
        return ops._spp_roi_pool_backward(grad, rois, index, spatial_scale, levels, *sizes)
    raise ValueError(name)


def good_grad(name, dtype=torch.float32):
    out = run_forward(name, features(dtype))
    return torch.ones_like(out[0] if name in WITH_INDEX_OUTPUT else out)


def run(name, direction, **kwargs):
    """Forward or backward of `name` with the one argument under test swapped in."""
    if direction == "forward":
        return run_forward(name, **kwargs)
    return run_backward(name, **kwargs)


def op_name(name, direction):
    return name if direction == "forward" else f"{name}_backward"


def message(name, direction, pattern):
    """A regex: the op's name at the start of the message, then `pattern`."""
    return rf"^{re.escape(op_name(name, direction))}: {pattern}"


def test_valid_arguments_are_accepted():
    # The error tests below change one argument of these calls: make sure the
    # unchanged calls succeed, so that each test's error is the one it names.
    for name in POOLING_OPS:
        run_forward(name)
        run_backward(name)


# --- rois values ------------------------------------------------------------

BAD_BATCH_INDICES = [N, -1, 0.5, 1e9, float("nan"), float("inf")]


@pytest.mark.parametrize("bad_index", BAD_BATCH_INDICES, ids=str)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_bad_batch_index_is_index_error(name, direction, bad_index):
    rois = good_rois()
    rois[1, 0] = bad_index  # the row number must be reported
    with pytest.raises(IndexError, match=message(
            name, direction, r"rois\[1, 0\] = .* is not a batch index: expected an integer in "
                             rf"\[0, {N}\)")):
        run(name, direction, rois=rois)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
@pytest.mark.parametrize("column", [1, 2, 3, 4])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_non_finite_coordinate_is_value_error(name, direction, column, value):
    rois = good_rois()
    rois[2, column] = value
    with pytest.raises(ValueError, match=message(
            name, direction, rf"rois\[2, {column}\] = .* is not a finite coordinate")):
        run(name, direction, rois=rois)


# --- rois shape and dtype ---------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (3, 6), (5,), (0,), (1, 3, 5)], ids=str)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_rois_not_k_by_5_is_runtime_error(name, direction, shape):
    rois = torch.zeros(shape)
    with pytest.raises(RuntimeError,
                       match=message(name, direction, r"rois must have shape \[K, 5\]")):
        run(name, direction, rois=rois)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_rois_dtype_differs_from_features_is_runtime_error(name, direction):
    with pytest.raises(RuntimeError, match=message(
            name, direction, r"rois must have the dtype of the features \(Float\), got Double")):
        run(name, direction, rois=good_rois(torch.float64))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8], ids=rc.dtype_id)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_integer_input_is_runtime_error(name, dtype):
    with pytest.raises(RuntimeError, match=message(
            name, "forward", r"input must be a floating point tensor")):
        run_forward(name, x=features().to(dtype), rois=good_rois())


@pytest.mark.parametrize("name", POOLING_OPS)
def test_integer_grad_is_runtime_error(name):
    with pytest.raises(RuntimeError, match=message(
            name, "backward", r"grad must be a floating point tensor")):
        run_backward(name, grad=good_grad(name).to(torch.int64))


@pytest.mark.parametrize("shape", [(C, H, W), (1, N, C, H, W)], ids=str)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_input_not_4d_is_runtime_error(name, shape):
    with pytest.raises(RuntimeError, match=message(name, "forward", r"input must be a 4-D tensor")):
        run_forward(name, x=torch.zeros(shape))


# --- sizes and scale --------------------------------------------------------


def non_positive_pooled_size_params():
    for name in POOLING_OPS:
        if name == "spp_roi_pool":
            continue  # its sizes are the levels
        for direction in DIRECTIONS:
            for pooled in [(0, 2), (2, 0), (-1, 2), (2, -3)]:
                yield pytest.param(name, direction, pooled, id=f"{name}-{direction}-{pooled}")


@pytest.mark.parametrize("name,direction,pooled", non_positive_pooled_size_params())
def test_non_positive_pooled_size_is_runtime_error(name, direction, pooled):
    expected = message(name, direction, rf"output size must be positive, got "
                                        rf"pooled_height={pooled[0]}, pooled_width={pooled[1]}")
    with pytest.raises(RuntimeError, match=expected):
        run(name, direction, pooled=pooled)


@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan"), float("inf")], ids=str)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", POOLING_OPS)
def test_bad_spatial_scale_is_value_error(name, direction, scale):
    with pytest.raises(ValueError, match=message(
            name, direction, r"spatial_scale must be finite and positive, got ")):
        run(name, direction, spatial_scale=scale)


@pytest.mark.parametrize("name", POOLING_OPS)
def test_non_positive_input_size_in_backward_is_value_error(name):
    with pytest.raises(ValueError, match=message(
            name, "backward", r"input size must be positive, got batch_size=2, channels=8, "
                              r"height=0, width=7")):
        run_backward(name, sizes=(N, C, 0, W))


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", POSITION_SENSITIVE_OPS)
def test_channels_not_divisible_by_bins_is_runtime_error(name, direction):
    pattern = r"input channels \(7\) must be divisible by pooled_height \* pooled_width \(4\)"
    if direction == "forward":
        with pytest.raises(RuntimeError, match=message(name, direction, pattern)):
            run_forward(name, x=features(channels=7))
    else:
        with pytest.raises(RuntimeError, match=message(name, direction, pattern)):
            run_backward(name, sizes=(N, 7, H, W))


@pytest.mark.parametrize("levels,pattern", [
    ([], r"levels must name at least one pyramid level"),
    ([1, 0], r"pyramid levels must be positive, got \[1, 0\]"),
    ([-2], r"pyramid levels must be positive, got \[-2\]"),
], ids=["empty", "zero", "negative"])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_spp_bad_levels_is_value_error(direction, levels, pattern):
    with pytest.raises(ValueError, match=message("spp_roi_pool", direction, pattern)):
        run("spp_roi_pool", direction, levels=levels)


# --- backward-specific arguments --------------------------------------------


@pytest.mark.parametrize("change", ["rois", "channels", "bins", "rank"])
@pytest.mark.parametrize("name", POOLING_OPS)
def test_backward_wrong_grad_shape_is_value_error(name, change):
    grad = good_grad(name)
    if change == "rois":
        grad = grad[:2]
    elif change == "channels":
        grad = torch.cat([grad, grad], 1)
    elif change == "bins":
        grad = grad[..., :1] if grad.dim() == 4 else grad[:, :-1]
    else:
        grad = grad.unsqueeze(0)
    with pytest.raises(ValueError, match=message(name, "backward", r"grad must have shape \[")):
        run_backward(name, grad=grad)


INDEX_NAMES = {"roi_pool": "argmax", "spp_roi_pool": "argmax",
               "ps_roi_pool": "channel_mapping", "ps_roi_align": "channel_mapping"}


@pytest.mark.parametrize("bad_value", ["too_large", "too_small"])
@pytest.mark.parametrize("name", WITH_INDEX_OUTPUT)
def test_backward_index_out_of_range_is_value_error(name, bad_value):
    # argmax indexes the H x W plane (-1 for an empty bin); channel_mapping the
    # input channels.
    index = run_forward(name)[1].clone()
    is_argmax = INDEX_NAMES[name] == "argmax"
    index.view(-1)[3] = (H * W if is_argmax else C) if bad_value == "too_large" else (
        -2 if is_argmax else -1)
    low, high = (-1, H * W - 1) if is_argmax else (0, C - 1)
    with pytest.raises(ValueError, match=message(
            name, "backward", rf"{INDEX_NAMES[name]} holds values in \[.*\], expected values in "
                              rf"\[{low}, {high}\]")):
        run_backward(name, index=index)


@pytest.mark.parametrize("name", WITH_INDEX_OUTPUT)
def test_backward_index_wrong_dtype_or_shape(name):
    index = run_forward(name)[1]
    with pytest.raises(RuntimeError, match=message(
            name, "backward", rf"{INDEX_NAMES[name]} must be an int32 tensor, got Long")):
        run_backward(name, index=index.long())
    with pytest.raises(ValueError, match=message(
            name, "backward", rf"{INDEX_NAMES[name]} must have shape")):
        run_backward(name, index=index[:2])


# --- adaptive sampling of a RoI far larger than the map ----------------------

HUGE_ROI = [[0, -1e7, -1e7, 1e7, 1e7]]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("name", ["roi_align", "ps_roi_align"])
def test_adaptive_sampling_of_huge_roi_is_value_error(name, direction):
    # ceil(2e7 / 2) sample points per bin and axis: refused instead of hanging
    # (torchvision would loop for hours).
    rois = torch.tensor(HUGE_ROI)
    ops = rc.rv()
    with pytest.raises(ValueError, match=r"adaptive sampling \(sampling_ratio <= 0\) would take "):
        if name == "roi_align" and direction == "forward":
            ops.roi_align(features(), rois, 1.0, 2, 2, 0, False)
        elif name == "roi_align":
            ops._roi_align_backward(torch.ones(1, C, 2, 2), rois, 1.0, 2, 2, N, C, H, W, 0, False)
        elif direction == "forward":
            ops.ps_roi_align(features(), rois, 1.0, 2, 2, 0)
        else:
            mapping = torch.arange(C, dtype=torch.int32).view(1, C // 4, 2, 2)
            ops._ps_roi_align_backward(torch.ones(1, C // 4, 2, 2), rois, mapping, 1.0, 2, 2, 0,
                                       N, C, H, W)


def test_adaptive_sampling_error_names_the_op():
    with pytest.raises(ValueError, match=r"^roi_align: .*sampling_ratio"):
        rc.rv().roi_align(features(), torch.tensor(HUGE_ROI), 1.0, 2, 2, 0, False)


# --- nms and box utilities --------------------------------------------------

# batched_nms and the box utilities are composite (no device kernels), defined
# in torch.ops.roiserve only: the run against that namespace covers them.
composite = pytest.mark.skipif(rc.OPS_NAMESPACE == rc.CUDA_HOST_NAMESPACE,
                               reason="composite op: only in torch.ops.roiserve")


def test_nms_errors():
    boxes, scores = torch.rand(5, 4), torch.rand(5)
    with pytest.raises(RuntimeError, match=r"^nms: boxes must have shape \[N, 4\], got \[5, 3\]"):
        rc.rv().nms(boxes[:, :3], scores, 0.5)
    with pytest.raises(RuntimeError, match=r"^nms: boxes must have shape \[N, 4\], got \[20\]"):
        rc.rv().nms(boxes.flatten(), scores, 0.5)
    with pytest.raises(RuntimeError, match=r"^nms: scores must have shape \[5\] to match boxes, "
                                           r"got \[6\]"):
        rc.rv().nms(boxes, torch.rand(6), 0.5)
    with pytest.raises(RuntimeError, match=r"^nms: scores must have shape \[5\]"):
        rc.rv().nms(boxes, scores[:, None], 0.5)
    with pytest.raises(RuntimeError, match=r"^nms: boxes and scores must share one floating "
                                           r"point dtype \(.*\), got Float and Double"):
        rc.rv().nms(boxes, scores.double(), 0.5)
    with pytest.raises(RuntimeError, match=r"^nms: boxes and scores must share one floating point"):
        rc.rv().nms(boxes.long(), scores.long(), 0.5)


@composite
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool], ids=rc.dtype_id)
def test_batched_nms_non_integer_idxs_is_type_error(dtype):
    boxes, scores = torch.rand(5, 4), torch.rand(5)
    with pytest.raises(TypeError, match=r"^batched_nms: idxs must be an integer tensor"):
        rc.rv().batched_nms(boxes, scores, torch.zeros(5, dtype=dtype), 0.5)


@composite
def test_batched_nms_shape_errors():
    boxes, scores = torch.rand(5, 4), torch.rand(5)
    idxs = torch.zeros(5, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"^batched_nms: idxs must have shape \[5\] to match "
                                         r"boxes, got \[4\]"):
        rc.rv().batched_nms(boxes, scores, idxs[:4], 0.5)
    # The boxes themselves are checked by the per-category nms.
    with pytest.raises(RuntimeError, match=r"^nms: boxes must have shape \[N, 4\]"):
        rc.rv().batched_nms(boxes[:, :3], scores, idxs, 0.5)
    with pytest.raises(ValueError, match=r"^batched_nms: scores must have shape \[0\]"):
        rc.rv().batched_nms(boxes[:0], scores, idxs[:0], 0.5)


@composite
@pytest.mark.parametrize("count", [4, 7])
def test_batched_nms_scores_shape_mismatch_is_value_error(count):
    with pytest.raises(ValueError, match=r"^batched_nms: scores must have shape \[5\]"):
        rc.rv().batched_nms(torch.rand(5, 4), torch.rand(count), torch.zeros(5, dtype=torch.int64),
                            0.5)


@composite
def test_box_utility_errors():
    boxes = torch.rand(5, 4)
    with pytest.raises(ValueError, match=r"^box_area: boxes must have shape \[N, 4\]"):
        rc.rv().box_area(boxes[:, :3])
    with pytest.raises(TypeError, match=r"^box_area: boxes must be a floating point tensor"):
        rc.rv().box_area(boxes.long())
    with pytest.raises(ValueError, match=r"^box_iou: boxes2 must have shape \[N, 4\]"):
        rc.rv().box_iou(boxes, boxes[:, :2])
    with pytest.raises(ValueError, match=r"^clip_boxes_to_image: boxes must have shape \[\.\.\., 4\]"):
        rc.rv().clip_boxes_to_image(boxes[:, :3], 10, 10)
    with pytest.raises(ValueError, match=r"^clip_boxes_to_image: image size must be non-negative"):
        rc.rv().clip_boxes_to_image(boxes, -1, 10)
    with pytest.raises(ValueError, match=r"^remove_small_boxes: boxes must have shape \[N, 4\]"):
        rc.rv().remove_small_boxes(boxes[None], 1.0)
    with pytest.raises(ValueError, match=r"^encode_boxes: weights must hold 4 values"):
        rc.rv().encode_boxes(boxes, boxes, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"^encode_boxes: reference_boxes and proposals must "
                                         r"have the same number of rows"):
        rc.rv().encode_boxes(boxes, boxes[:3], [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"^decode_boxes: rel_codes must have shape \[5, 4k\]"):
        rc.rv().decode_boxes(torch.rand(5, 6), boxes, [1.0, 1.0, 1.0, 1.0], 4.0)
    with pytest.raises(ValueError, match=r"^decode_boxes: weights must hold 4 values"):
        rc.rv().decode_boxes(torch.rand(5, 4), boxes, [1.0, 1.0], 4.0)
