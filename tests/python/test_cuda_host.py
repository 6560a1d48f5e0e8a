"""The CUDA kernels as libroiserve_cuda_host.so runs them on the CPU: what the
parity suites do not pin. Their results must not depend on the order in which
a GPU runs blocks and threads (ROISERVE_CUDA_HOST_ORDER, read at every launch)
beyond rounding; the deterministic backward must not depend on it at all;
float16 and bfloat16 must agree with float32 to their precision; and the
gradients must pass float64 gradcheck."""
import random

import pytest
import torch
from torchvision.ops import box_iou

import roi_cases as rc

pytestmark = pytest.mark.skipif(
    rc.OPS_NAMESPACE != rc.CUDA_HOST_NAMESPACE,
    reason="tests the CUDA host emulation: run with ROISERVE_OPS_NAMESPACE=roiserve_cuda_host")

ORDERS = ("ascending", "descending", "interleaved")
REDUCED = (torch.float16, torch.bfloat16)


def cpu():
    """The CPU kernels' namespace, loaded alongside the emulation."""
    return torch.ops.roiserve


@pytest.fixture
def restore_deterministic():
    """Tests that switch torch.use_deterministic_algorithms get it put back."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def input_grad(forward, ns, x, rois, grad_output):
    x = x.detach().requires_grad_(True)
    forward(ns, x, rois).backward(grad_output)
    return x.grad


def grads_by_order(forward, ns, x, rois, grad_output, monkeypatch):
    grads = {}
    for order in ORDERS:
        monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", order)
        grads[order] = input_grad(forward, ns, x, rois, grad_output)
    return grads


def assert_close_to_rounding(actual, expected, what):
    tolerance = 1e-12 if actual.dtype == torch.float64 else 1e-5
    torch.testing.assert_close(actual, expected, rtol=tolerance, atol=tolerance,
                               msg=lambda m: f"{what}: {m}")


# --- nms -----------------------------------------------------------------------
# The kernels cut the boxes, in score order, into tiles of 64, one mask word
# each: more than 64 boxes span several tiles, more than 64 * 64 more tiles
# than a tile has boxes, and more than 64 * 256 more tiles than the greedy pass
# has threads (each thread then updates several tiles).

NMS_THRESHOLDS = (-0.1, 0.0, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.7, 1.0)
# IoUs of boxes on an integer grid are small fractions; float32 IoUs compared
# with a double threshold tie at 1/3 rounded to float32 (suppressed: > 1/3),
# which torchvision's CUDA kernel, comparing in float32, would keep.
NMS_TIE_THRESHOLDS = (0.2, 0.25, 1 / 3, float(torch.tensor(1 / 3, dtype=torch.float32)), 0.5,
                      0.6, 2 / 3)


def grid_boxes(gen, count, dtype, *, cells=8, pool=None):
    """[count, 4] boxes with integer corners in [0, cells]: every IoU is a small
    fraction, so the IoUs of many pairs equal common thresholds exactly.
    pool: draw the rows from that many distinct boxes (many exact duplicates)."""
    distinct = count if pool is None else pool
    corner = torch.randint(0, cells, (distinct, 2), generator=gen)
    size = torch.randint(0, cells // 2 + 1, (distinct, 2), generator=gen)
    boxes = torch.cat([corner, corner + size], 1)
    if pool is not None:
        boxes = boxes[torch.randint(0, pool, (count,), generator=gen)]
    return boxes.to(dtype)


def spread_boxes(gen, count, dtype, extent):
    """Continuous boxes of side up to 24 in [0, extent]: about the same
    overlap density at any count."""
    corner = torch.rand(count, 2, generator=gen, dtype=torch.float64) * extent
    size = torch.rand(count, 2, generator=gen, dtype=torch.float64) * 24
    return torch.cat([corner, corner + size], 1).to(dtype)


def nms_scores(gen, count, dtype, kind):
    if kind == "distinct":
        return (torch.randperm(count, generator=gen).to(torch.float64) / count).to(dtype)
    if kind == "ties":
        return (torch.randint(0, 5, (count,), generator=gen).to(torch.float64) / 4).to(dtype)
    if kind == "nan":
        scores = torch.rand(count, generator=gen, dtype=torch.float64)
        scores[torch.rand(count, generator=gen) < 0.1] = float("nan")
        return scores.to(dtype)
    raise ValueError(kind)


def assert_nms_matches(boxes, scores, threshold, what):
    """The emulated CUDA kernel keeps exactly the boxes of the CPU kernel and of
    torchvision, in the same order."""
    ours = rc.rv().nms(boxes, scores, threshold)
    rc.assert_bitwise_equal(ours, cpu().nms(boxes, scores, threshold), f"{what} vs CPU kernel")
    rc.assert_bitwise_equal(ours, rc.tv().nms(boxes, scores, threshold), f"{what} vs torchvision")
    return ours


@pytest.mark.parametrize("score_kind", ("distinct", "ties", "nan"))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_nms_random_sets_match_cpu_and_torchvision(dtype, score_kind, torch_gen, py_rng):
    for trial in range(12):
        count = py_rng.choice((1, 63, 64, 65, py_rng.randint(2, 500), py_rng.randint(500, 1500)))
        boxes = spread_boxes(torch_gen, count, dtype, extent=max(48.0, count ** 0.5 * 8))
        scores = nms_scores(torch_gen, count, dtype, score_kind)
        for threshold in NMS_THRESHOLDS:
            assert_nms_matches(boxes, scores, threshold,
                               f"trial={trial} N={count} iou_threshold={threshold}")


@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_nms_ties_with_the_threshold_and_duplicates(dtype, torch_gen, py_rng):
    ties = 0
    for trial in range(10):
        count = py_rng.choice((py_rng.randint(2, 64), py_rng.randint(65, 400)))
        pool = py_rng.choice((None, max(1, count // 10)))
        boxes = grid_boxes(torch_gen, count, dtype, pool=pool)
        scores = nms_scores(torch_gen, count, dtype, py_rng.choice(("distinct", "ties")))
        iou = box_iou(boxes, boxes).double()
        for threshold in NMS_TIE_THRESHOLDS:
            ties += int((iou == threshold).sum())
            assert_nms_matches(boxes, scores, threshold,
                               f"trial={trial} N={count} pool={pool} iou_threshold={threshold}")
    assert ties > 0, "no IoU tied with a threshold: the cases test nothing"


def test_nms_many_tiles(torch_gen):
    for dtype in rc.DTYPES:
        count = int(torch.randint(4100, 5000, (), generator=torch_gen))
        boxes = spread_boxes(torch_gen, count, dtype, extent=600.0)
        scores = nms_scores(torch_gen, count, dtype, "ties")
        for threshold in (0.0, 0.5):
            kept = assert_nms_matches(boxes, scores, threshold, f"N={count} {dtype}")
            assert 64 < kept.numel() < count, "the case must keep and suppress boxes"


def test_nms_more_tiles_than_the_greedy_pass_has_threads(torch_gen):
    count = 64 * 256 + 200
    boxes = spread_boxes(torch_gen, count, torch.float32, extent=1500.0)
    scores = nms_scores(torch_gen, count, torch.float32, "distinct")
    # The lowest-scoring boxes copy the highest-scoring ones in reverse: the
    # first tiles must suppress boxes in the last tiles, which a thread of the
    # greedy pass reaches only after updating one tile each.
    order = scores.argsort(descending=True)
    boxes[order[-200:]] = boxes[order[:200].flip(0)]
    kept = assert_nms_matches(boxes, scores, 0.4, f"N={count}")
    assert not torch.isin(order[-200:], kept).any()


def test_nms_strided_boxes(torch_gen):
    boxes = spread_boxes(torch_gen, 300, torch.float64, extent=100.0)
    scores = nms_scores(torch_gen, 300, torch.float64, "ties")
    wide = torch.full((300, 7), float("nan"), dtype=torch.float64)
    wide[:, 2:6] = boxes
    expected = cpu().nms(boxes, scores, 0.5)
    for layout, view in (("column slice", wide[:, 2:6]), ("transposed", boxes.t().contiguous().t()),
                         ("every other row", torch.stack([boxes, boxes], 1).view(600, 4)[::2])):
        rc.assert_bitwise_equal(rc.rv().nms(view, scores, 0.5), expected, layout)


def test_nms_nan_coordinates_match_cpu_and_torchvision(torch_gen):
    # Neither kernel checks coordinates: a NaN propagates through the same
    # min/max operand order in both, and NaN IoUs never suppress.
    for dtype in rc.DTYPES:
        boxes = spread_boxes(torch_gen, 200, dtype, extent=60.0)
        boxes[torch.rand(boxes.shape, generator=torch_gen) < 0.05] = float("nan")
        scores = nms_scores(torch_gen, 200, dtype, "distinct")
        for threshold in (0.0, 0.5):
            assert_nms_matches(boxes, scores, threshold, f"{dtype} iou_threshold={threshold}")


def test_nms_does_not_depend_on_grid_order(torch_gen, monkeypatch):
    boxes = grid_boxes(torch_gen, 700, torch.float32, cells=40, pool=300)
    scores = nms_scores(torch_gen, 700, torch.float32, "ties")
    kept = {}
    for order in ORDERS:
        monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", order)
        kept[order] = rc.rv().nms(boxes, scores, 0.3)
    for order in ORDERS[1:]:
        rc.assert_bitwise_equal(kept[order], kept[ORDERS[0]], f"order {order}")


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
def test_nms_reduced_precision_is_float32_nms_of_the_converted_boxes(dtype, torch_gen):
    # The CPU kernel takes no float16/bfloat16 boxes; the CUDA kernel computes
    # their IoUs in float32, so it must keep what the CPU kernel keeps for the
    # same values in float32 (the score order is the same: conversion is exact).
    for count in (1, 64, 300, 1000):
        boxes = spread_boxes(torch_gen, count, torch.float64, extent=80.0).to(dtype)
        scores = nms_scores(torch_gen, count, torch.float64, "ties").to(dtype)
        for threshold in (0.0, 0.3, 0.5, 1 / 3):
            rc.assert_bitwise_equal(rc.rv().nms(boxes, scores, threshold),
                                    cpu().nms(boxes.float(), scores.float(), threshold),
                                    f"{dtype} N={count} iou_threshold={threshold}")


# --- roi_pool and spp_roi_pool -------------------------------------------------

SPP_LEVELS = [1, 2, 4]
# (output, argmax) of each max-pooling op.
MAX_POOL_OPS = {
    "roi_pool": lambda ns, x, r: ns.roi_pool(x, r, 0.5, 3, 4),
    "spp_roi_pool": lambda ns, x, r: ns.spp_roi_pool(x, r, 0.5, SPP_LEVELS),
}


def max_pooled(name):
    """The pooled output of op `name` alone, as input_grad wants it."""
    return lambda ns, x, r: MAX_POOL_OPS[name](ns, x, r)[0]


def max_pool_case(name, dtype, seed=13, layout="contiguous", channels=5):
    """Many overlapping RoIs over two images, some past the border: their
    maxima often fall on one cell, which then receives several adds."""
    gen = torch.Generator().manual_seed(seed)
    x = rc.make_features(gen, (2, channels, 12, 11), dtype, layout)
    rois = rc.make_rois(random.Random(seed), 40, 2, 12, 11, 0.5, dtype,
                        kinds=("inside", "partial", "huge"), huge=4.0)
    out = max_pooled(name)(cpu(), x, rois)
    grad_output = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
    return x, rois, grad_output


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("name", MAX_POOL_OPS)
def test_max_pool_agrees_across_orders(name, dtype, layout, monkeypatch):
    x, rois, grad_output = max_pool_case(name, dtype, layout=layout)
    expected_out, expected_argmax = MAX_POOL_OPS[name](cpu(), x, rois)
    for order in ORDERS:
        monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", order)
        out, argmax = MAX_POOL_OPS[name](rc.rv(), x, rois)
        rc.assert_bitwise_equal(out, expected_out, f"{name} {order} output")
        rc.assert_bitwise_equal(argmax, expected_argmax, f"{name} {order} argmax")
    grads = grads_by_order(max_pooled(name), rc.rv(), x, rois, grad_output, monkeypatch)
    expected = input_grad(max_pooled(name), cpu(), x, rois, grad_output)
    for order, grad in grads.items():
        assert_close_to_rounding(grad, expected, f"{name} {order} vs the CPU kernel")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("name", MAX_POOL_OPS)
def test_max_pool_deterministic_backward_is_the_cpu_kernels_bit_for_bit(
        name, dtype, layout, monkeypatch, restore_deterministic):
    torch.use_deterministic_algorithms(True)
    # One thread per (image, channel) plane adds the RoIs then the bins in
    # order, as the CPU kernels do: the same bits in every order, the CPU's bits.
    x, rois, grad_output = max_pool_case(name, dtype, layout=layout)
    grads = grads_by_order(max_pooled(name), rc.rv(), x, rois, grad_output, monkeypatch)
    expected = input_grad(max_pooled(name), cpu(), x, rois, grad_output)
    for order, grad in grads.items():
        rc.assert_bitwise_equal(grad, expected, f"{name} deterministic, {order}")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("name", MAX_POOL_OPS)
def test_max_pool_several_channel_chunks(name, layout, monkeypatch):
    # More channels than one block pools (64), the last chunk partial.
    monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", "interleaved")
    x, rois, grad_output = max_pool_case(name, torch.float64, layout=layout, channels=131)
    out, argmax = MAX_POOL_OPS[name](rc.rv(), x, rois)
    expected_out, expected_argmax = MAX_POOL_OPS[name](cpu(), x, rois)
    rc.assert_bitwise_equal(out, expected_out, f"{name} output")
    rc.assert_bitwise_equal(argmax, expected_argmax, f"{name} argmax")
    assert out.stride() == expected_out.stride() and argmax.stride() == expected_argmax.stride()
    assert_close_to_rounding(input_grad(max_pooled(name), rc.rv(), x, rois, grad_output),
                             input_grad(max_pooled(name), cpu(), x, rois, grad_output), "grad")


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
@pytest.mark.parametrize("name", MAX_POOL_OPS)
def test_max_pool_reduced_precision_agrees_with_float32(name, dtype):
    # A maximum is one of the values: the output is float32's exactly, and the
    # gradient, summed in float32 in the same order, is float32's rounded once.
    x, rois, grad_output = max_pool_case(name, dtype, layout="channels_last")
    out, argmax = MAX_POOL_OPS[name](rc.rv(), x, rois)
    assert out.dtype == dtype
    expected_out, expected_argmax = MAX_POOL_OPS[name](rc.rv(), x.float(), rois.float())
    rc.assert_bitwise_equal(out, expected_out.to(dtype), f"{name} {dtype}")
    rc.assert_bitwise_equal(argmax, expected_argmax, f"{name} {dtype} argmax")
    grad = input_grad(max_pooled(name), rc.rv(), x, rois, grad_output)
    assert grad.dtype == dtype
    expected = input_grad(max_pooled(name), rc.rv(), x.float(), rois.float(), grad_output.float())
    rc.assert_bitwise_equal(grad, expected.to(dtype), f"{name} grad {dtype}")


@pytest.mark.parametrize("mode", ["atomic", "deterministic"])
@pytest.mark.parametrize("name", MAX_POOL_OPS)
def test_max_pool_gradcheck(name, mode, restore_deterministic):
    torch.use_deterministic_algorithms(mode == "deterministic")
    # Values at least 0.1 apart: gradcheck's perturbations never move an argmax.
    x = rc.make_features(torch.Generator().manual_seed(3), (2, 3, 6, 7), torch.float64,
                         "channels_last", values="separated").requires_grad_(True)
    # Overlapping, past the border, a point, reversed, and wholly outside.
    rois = torch.tensor([[0, 0.4, 1.2, 4.6, 5.1], [1, -2.0, -1.5, 3.0, 4.0],
                         [1, 3.2, 2.7, 9.7, 8.9], [0, 2.0, 2.0, 2.0, 2.0],
                         [0, 5.0, 4.0, 1.0, 1.5], [1, 20.0, 20.0, 25.0, 26.0],
                         [0, 0.0, 0.0, 13.0, 11.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: max_pooled(name)(rc.rv(), t, rois), (x,))


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_roi_pool_bins_past_shared_memory(layout):
    # pooled_height + pooled_width above what a block keeps in shared memory:
    # every thread computes its own bins, with the same results.
    x = rc.make_features(torch.Generator().manual_seed(5), (1, 3, 4, 530), torch.float32, layout)
    rois = torch.tensor([[0, -4.0, 0.0, 525.0, 2.0], [0, 100.0, 1.0, 400.0, 3.0]])

    def forward(ns, t, r):
        return ns.roi_pool(t, r, 1.0, 2, 520)

    out, argmax = forward(rc.rv(), x, rois)
    expected_out, expected_argmax = forward(cpu(), x, rois)
    rc.assert_bitwise_equal(out, expected_out, "output")
    rc.assert_bitwise_equal(argmax, expected_argmax, "argmax")
    grad_output = torch.randn(2, 3, 2, 520, generator=torch.Generator().manual_seed(6))
    assert_close_to_rounding(
        input_grad(lambda ns, t, r: forward(ns, t, r)[0], rc.rv(), x, rois, grad_output),
        input_grad(lambda ns, t, r: forward(ns, t, r)[0], cpu(), x, rois, grad_output), "grad")



# --- ps_roi_pool and ps_roi_align ----------------------------------------------

PS_POOLED = 3
# (output, channel_mapping) of each position-sensitive op.
PS_OPS = {
    "ps_roi_pool": lambda ns, x, r: ns.ps_roi_pool(x, r, 0.5, PS_POOLED, PS_POOLED),
    "ps_roi_align": lambda ns, x, r: ns.ps_roi_align(x, r, 0.5, PS_POOLED, PS_POOLED, 2),
    "ps_roi_align_adaptive":
        lambda ns, x, r: ns.ps_roi_align(x, r, 0.5, PS_POOLED, PS_POOLED, -1),
}


def ps_pooled(name):
    """The pooled output of op `name` alone, as input_grad wants it."""
    return lambda ns, x, r: PS_OPS[name](ns, x, r)[0]


def ps_case(dtype, seed=11, layout="contiguous", channels_out=2):
    """Many overlapping RoIs over two images, some past the border, so that
    every input cell receives gradient from several RoIs."""
    gen = torch.Generator().manual_seed(seed)
    channels = channels_out * PS_POOLED * PS_POOLED
    x = rc.make_features(gen, (2, channels, 12, 11), dtype, layout)
    rois = rc.make_rois(random.Random(seed), 40, 2, 12, 11, 0.5, dtype,
                        kinds=("inside", "partial", "huge"), huge=4.0)
    out = ps_pooled("ps_roi_pool")(cpu(), x, rois)
    grad_output = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(dtype)
    return x, rois, grad_output


@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("name", PS_OPS)
def test_ps_backward_agrees_across_orders(name, dtype, monkeypatch):
    x, rois, grad_output = ps_case(dtype)
    grads = grads_by_order(ps_pooled(name), rc.rv(), x, rois, grad_output, monkeypatch)
    expected = input_grad(ps_pooled(name), cpu(), x, rois, grad_output)
    for order, grad in grads.items():
        assert_close_to_rounding(grad, expected, f"{name} {order} vs the CPU kernel")


@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("name", PS_OPS)
def test_ps_deterministic_backward_is_the_cpu_kernels_bit_for_bit(name, dtype, monkeypatch,
                                                                  restore_deterministic):
    torch.use_deterministic_algorithms(True)
    # One thread per (image, channel) plane adds the RoIs in order, as the CPU
    # kernels do: the same bits in every order, and the CPU kernels' bits.
    x, rois, grad_output = ps_case(dtype, layout="channels_last")
    grads = grads_by_order(ps_pooled(name), rc.rv(), x, rois, grad_output, monkeypatch)
    expected = input_grad(ps_pooled(name), cpu(), x, rois, grad_output)
    for order, grad in grads.items():
        rc.assert_bitwise_equal(grad, expected, f"{name} deterministic, {order}")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("name", PS_OPS)
def test_ps_several_channel_chunks(name, layout, monkeypatch):
    # More channels than one block pools (256), the last chunk partial.
    monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", "interleaved")
    x, rois, grad_output = ps_case(torch.float64, layout=layout, channels_out=30)
    out, mapping = PS_OPS[name](rc.rv(), x, rois)
    expected_out, expected_mapping = PS_OPS[name](cpu(), x, rois)
    rc.assert_bitwise_equal(out, expected_out, f"{name} output")
    rc.assert_bitwise_equal(mapping, expected_mapping, f"{name} channel_mapping")
    assert out.is_contiguous() and mapping.is_contiguous()
    assert_close_to_rounding(input_grad(ps_pooled(name), rc.rv(), x, rois, grad_output),
                             input_grad(ps_pooled(name), cpu(), x, rois, grad_output), "grad")


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
@pytest.mark.parametrize("name", PS_OPS)
def test_ps_reduced_precision_agrees_with_float32(name, dtype):
    # Read natively and summed in float32: the output is float32's rounded
    # once, and the gradient, summed with atomics, float32's to dtype's precision.
    x, rois, grad_output = ps_case(dtype, layout="channels_last")
    out = ps_pooled(name)(rc.rv(), x, rois)
    assert out.dtype == dtype
    expected = ps_pooled(name)(rc.rv(), x.float(), rois.float())
    rc.assert_bitwise_equal(out, expected.to(dtype), f"{name} {dtype}")
    grad = input_grad(ps_pooled(name), rc.rv(), x, rois, grad_output)
    assert grad.dtype == dtype
    expected = input_grad(ps_pooled(name), rc.rv(), x.float(), rois.float(), grad_output.float())
    torch.testing.assert_close(grad, expected.to(dtype), msg=lambda m: f"{name} grad {dtype}: {m}")


@pytest.mark.parametrize("mode", ["atomic", "deterministic"])
@pytest.mark.parametrize("name", PS_OPS)
def test_ps_gradcheck(name, mode, restore_deterministic):
    torch.use_deterministic_algorithms(mode == "deterministic")
    x = torch.randn(2, 2 * PS_POOLED * PS_POOLED, 5, 6, generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64, requires_grad=True)
    # Overlapping, past the border, a point, reversed, and the whole map.
    rois = torch.tensor([[0, 1.0, 2.0, 9.0, 8.0], [1, -3.0, -1.0, 7.0, 13.0],
                         [0, 4.0, 4.0, 4.0, 4.0], [1, 8.0, 2.0, 3.0, 9.0],
                         [0, 0.0, 0.0, 14.0, 12.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: ps_pooled(name)(rc.rv(), t, rois), (x,))


def test_ps_roi_pool_bins_past_shared_memory(monkeypatch):
    # pooled_height + pooled_width above what a block keeps in shared memory:
    # every thread computes its own bins, with the same results.
    x = torch.randn(1, 520, 3, 530, generator=torch.Generator().manual_seed(5))
    rois = torch.tensor([[0, -4.0, 0.0, 525.0, 2.0], [0, 100.0, 1.0, 400.0, 3.0]])

    def forward(ns, t, r):
        return ns.ps_roi_pool(t, r, 1.0, 1, 520)[0]

    rc.assert_bitwise_equal(forward(rc.rv(), x, rois), forward(cpu(), x, rois), "forward")
    grad_output = torch.randn(2, 1, 1, 520, generator=torch.Generator().manual_seed(6))
    assert_close_to_rounding(input_grad(forward, rc.rv(), x, rois, grad_output),
                             input_grad(forward, cpu(), x, rois, grad_output), "grad")


def test_ps_roi_align_samples_past_shared_memory():
    # 7 * 43 sample rows and as many columns, above what a block keeps in
    # shared memory: every thread computes its own samples.
    x = torch.randn(1, 49, 10, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    rois = torch.tensor([[0, -150.0, -150.0, 150.0, 150.0], [0, 1.0, 2.0, 8.0, 9.0]],
                        dtype=torch.float64)

    def forward(ns, t, r):
        return ns.ps_roi_align(t, r, 1.0, 7, 7, 0)[0]

    rc.assert_bitwise_equal(forward(rc.rv(), x, rois), forward(cpu(), x, rois), "forward")
    grad_output = torch.randn(2, 1, 7, 7, generator=torch.Generator().manual_seed(6),
                              dtype=torch.float64)
    assert_close_to_rounding(input_grad(forward, rc.rv(), x, rois, grad_output),
                             input_grad(forward, cpu(), x, rois, grad_output), "grad")


# --- roi_align -----------------------------------------------------------------

ROI_ALIGN_VARIANTS = {
    "fixed": lambda ns, x, r: ns.roi_align(x, r, 0.5, 3, 2, 2, False),
    "adaptive_aligned": lambda ns, x, r: ns.roi_align(x, r, 0.5, 3, 2, 0, True),
}


def roi_align_case(dtype, seed=17, layout="contiguous", channels=5):
    """Overlapping RoIs over two images, some past the border, so that every
    input cell receives gradient from several RoIs and samples."""
    gen = torch.Generator().manual_seed(seed)
    x = rc.make_features(gen, (2, channels, 9, 10), dtype, layout)
    rois = rc.make_rois(random.Random(seed), 40, 2, 9, 10, 0.5, dtype,
                        kinds=("inside", "partial", "huge"), huge=4.0)
    grad_output = torch.randn((40, channels, 3, 2), generator=gen, dtype=torch.float64).to(dtype)
    return x, rois, grad_output


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("variant", ROI_ALIGN_VARIANTS)
def test_roi_align_agrees_across_orders(variant, dtype, layout, monkeypatch):
    forward = ROI_ALIGN_VARIANTS[variant]
    x, rois, grad_output = roi_align_case(dtype, layout=layout)
    expected_out = forward(cpu(), x, rois)
    expected_grad = input_grad(forward, cpu(), x, rois, grad_output)
    for order in ORDERS:
        monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", order)
        rc.assert_bitwise_equal(forward(rc.rv(), x, rois), expected_out, f"forward, {order}")
        assert_close_to_rounding(input_grad(forward, rc.rv(), x, rois, grad_output),
                                 expected_grad, f"{variant} grad, {order}")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_roi_align_deterministic_backward_is_the_cpu_kernels_bit_for_bit(
        dtype, layout, monkeypatch, restore_deterministic):
    torch.use_deterministic_algorithms(True)
    # One thread per (image, channel) adds the RoIs in order, as the CPU kernel
    # does: the same bits in every order, and the CPU kernel's bits.
    forward = ROI_ALIGN_VARIANTS["adaptive_aligned"]
    x, rois, grad_output = roi_align_case(dtype, layout=layout)
    grads = grads_by_order(forward, rc.rv(), x, rois, grad_output, monkeypatch)
    expected = input_grad(forward, cpu(), x, rois, grad_output)
    for order, grad in grads.items():
        rc.assert_bitwise_equal(grad, expected, f"roi_align deterministic, {order}")


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_roi_align_several_channel_chunks(layout, monkeypatch):
    # More channels than one block pools (64), the last chunk partial.
    monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", "interleaved")
    forward = ROI_ALIGN_VARIANTS["fixed"]
    x, rois, grad_output = roi_align_case(torch.float64, layout=layout, channels=131)
    out = forward(rc.rv(), x, rois)
    rc.assert_bitwise_equal(out, forward(cpu(), x, rois), "output")
    # The output follows the features' layout, as the CPU kernel's does.
    assert out.is_contiguous(memory_format=torch.channels_last if layout == "channels_last"
                             else torch.contiguous_format)
    assert_close_to_rounding(input_grad(forward, rc.rv(), x, rois, grad_output),
                             input_grad(forward, cpu(), x, rois, grad_output), "grad")


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
@pytest.mark.parametrize("variant", ROI_ALIGN_VARIANTS)
def test_roi_align_reduced_precision_agrees_with_float32(variant, dtype):
    # Read natively and summed in float32: the output is float32's rounded
    # once, and the gradient, summed with atomics, float32's to dtype's precision.
    forward = ROI_ALIGN_VARIANTS[variant]
    x, rois, grad_output = roi_align_case(dtype, layout="channels_last")
    out = forward(rc.rv(), x, rois)
    assert out.dtype == dtype
    rc.assert_bitwise_equal(out, forward(rc.rv(), x.float(), rois.float()).to(dtype), variant)
    grad = input_grad(forward, rc.rv(), x, rois, grad_output)
    assert grad.dtype == dtype
    expected = input_grad(forward, rc.rv(), x.float(), rois.float(), grad_output.float())
    torch.testing.assert_close(grad, expected.to(dtype), msg=lambda m: f"grad {dtype}: {m}")


@pytest.mark.parametrize("mode", ["atomic", "deterministic"])
@pytest.mark.parametrize("variant", ROI_ALIGN_VARIANTS)
def test_roi_align_gradcheck(variant, mode, restore_deterministic):
    torch.use_deterministic_algorithms(mode == "deterministic")
    forward = ROI_ALIGN_VARIANTS[variant]
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64,
                    requires_grad=True)
    # Overlapping, past the border, a point, reversed, and the whole map.
    rois = torch.tensor([[0, 1.0, 2.0, 9.0, 8.0], [1, -3.0, -1.0, 7.0, 13.0],
                         [0, 4.0, 4.0, 4.0, 4.0], [1, 8.0, 2.0, 3.0, 9.0],
                         [0, 0.0, 0.0, 14.0, 12.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: forward(rc.rv(), t, rois), (x,))


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_roi_align_samples_past_shared_memory(layout):
    # 7 * 43 sample rows and as many columns, above what a block keeps in
    # shared memory: every thread computes its own samples.
    x = rc.make_features(torch.Generator().manual_seed(5), (1, 4, 10, 10), torch.float64, layout)
    rois = torch.tensor([[0, -150.0, -150.0, 150.0, 150.0], [0, 1.0, 2.0, 8.0, 9.0]],
                        dtype=torch.float64)

    def forward(ns, t, r):
        return ns.roi_align(t, r, 1.0, 7, 7, 0, True)

    rc.assert_bitwise_equal(forward(rc.rv(), x, rois), forward(cpu(), x, rois), "forward")
    grad_output = torch.randn(2, 4, 7, 7, generator=torch.Generator().manual_seed(6),
                              dtype=torch.float64)
    assert_close_to_rounding(input_grad(forward, rc.rv(), x, rois, grad_output),
                             input_grad(forward, cpu(), x, rois, grad_output), "grad")


def test_grid_order_must_be_known(monkeypatch):
    monkeypatch.setenv("ROISERVE_CUDA_HOST_ORDER", "sideways")
    x, rois, _ = roi_align_case(torch.float32)
    with pytest.raises(RuntimeError, match="ROISERVE_CUDA_HOST_ORDER"):
        ROI_ALIGN_VARIANTS["fixed"](rc.rv(), x, rois)
