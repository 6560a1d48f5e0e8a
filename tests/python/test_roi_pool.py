"""roi_pool: output, argmax and input gradient bit-identical to torchvision
0.14, gradcheck, and the backward op called directly with strided grads."""
import pytest
import torch

import roi_cases as rc

CHUNKS = 20
CASES_PER_CHUNK = 35
# "quantized" features (integers 0..3) are full of ties: argmax must pick the
# first maximum in row-major scan order, as torchvision does.
VALUES = ("normal", "quantized")


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_forward_matches_torchvision(dtype, values, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK):
        case = rc.make_case(seed, dtype, values=values)
        out, argmax = rc.roi_pool(rc.rv(), case)
        expected_out, expected_argmax = rc.roi_pool(rc.tv(), case)
        what = f"roi_pool {values}, {rc.describe(case)}"
        rc.assert_bitwise_equal(out, expected_out, what + " output")
        rc.assert_bitwise_equal(argmax, expected_argmax, what + " argmax")


@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_forward_special_values_match_torchvision(dtype, torch_gen):
    # A bin whose values are all below -FLT_MAX pools to -FLT_MAX with argmax
    # -1 (torchvision starts the max at -FLT_MAX); NaN never wins; +inf does.
    x = torch.randn(1, 2, 8, 8, generator=torch_gen, dtype=dtype)
    very_negative = -1e300 if dtype == torch.float64 else float("-inf")
    x[0, 0, :4, :4] = very_negative
    x[0, 1, :4, :4] = float("nan")
    x[0, 0, 4:, 4:] = float("-inf")
    x[0, 1, 5, 5] = float("inf")
    x[0, 1, 6, 2] = float("nan")
    rois = torch.tensor(
        [[0, 0, 0, 3, 3], [0, 0, 0, 7, 7], [0, 4, 4, 7, 7], [0, 2, 2, 6, 6], [0, 1, 5, 3, 7]],
        dtype=dtype)
    out, argmax = rc.rv().roi_pool(x, rois, 1.0, 2, 2)
    expected_out, expected_argmax = rc.tv().roi_pool(x, rois, 1.0, 2, 2)
    rc.assert_bitwise_equal(out, expected_out, "roi_pool output")
    rc.assert_bitwise_equal(argmax, expected_argmax, "roi_pool argmax")
    # The first RoI's bins lie wholly in the very negative / NaN blocks.
    lowest = torch.finfo(torch.float32).min
    assert torch.equal(out[0], torch.full_like(out[0], lowest))
    assert torch.equal(argmax[0], torch.full_like(argmax[0], -1))


@pytest.mark.parametrize("chunk", range(12))
@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_input_grad_matches_torchvision(dtype, values, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK, offset=100_000):
        case = rc.make_case(seed, dtype, values=values)
        rc.assert_input_grad_matches_torchvision(rc.roi_pool, "roi_pool", case, seed,
                                                 case.x.shape[1])


# On a 2 x 2 x 6 x 7 map: inside, partly outside, past the bottom-right border,
# a single point, reversed (forced to 1x1), and wholly outside (empty bins).
GRADCHECK_ROIS = [
    [0, 0.4, 1.2, 4.6, 5.1],
    [1, -2.0, -1.5, 3.0, 4.0],
    [1, 3.2, 2.7, 9.7, 8.9],
    [0, 2.0, 2.0, 2.0, 2.0],
    [0, 5.0, 4.0, 1.0, 1.5],
    [1, 20.0, 20.0, 25.0, 26.0],
]


@pytest.mark.parametrize("pooled", [(1, 1), (2, 3), (4, 4)])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradcheck(layout, pooled, torch_gen):
    # Values at least 0.1 apart: gradcheck's 1e-6 perturbations never move an
    # argmax, so the max-pooling function is locally linear.
    x = rc.make_features(torch_gen, (2, 2, 6, 7), torch.float64, layout, values="separated")
    x.requires_grad_(True)
    rois = torch.tensor(GRADCHECK_ROIS, dtype=torch.float64)
    for scale in (1.0, 0.5):
        assert torch.autograd.gradcheck(
            lambda t: rc.rv().roi_pool(t, rois, scale, *pooled)[0], (x,))


@pytest.mark.parametrize("grad_layout", rc.GRAD_LAYOUTS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_backward_op_with_strided_grad_and_argmax(dtype, grad_layout):
    for seed in range(200_000, 200_020):
        case = rc.make_case(seed, dtype, values="quantized")
        n, c, h, w = case.input_shape
        _, argmax = rc.roi_pool(rc.rv(), case)
        shape = tuple(argmax.shape)
        grad = rc.make_grad(torch.Generator().manual_seed(seed), shape, dtype, grad_layout)
        # The same indices through swapped strides.
        strided_argmax = argmax.transpose(2, 3).contiguous().transpose(2, 3)

        def backward(ns, g, a):
            return ns._roi_pool_backward(
                g, case.rois, a, case.spatial_scale, case.pooled_h, case.pooled_w, n, c, h, w)

        ours = backward(rc.rv(), grad, strided_argmax)
        what = f"_roi_pool_backward grad={grad_layout} {rc.describe(case)}"
        rc.assert_gradients_equal(
            ours, backward(rc.rv(), grad.contiguous(), argmax.contiguous()), what + " vs dense")
        rc.assert_gradients_equal(ours, backward(rc.tv(), grad, argmax.contiguous()),
                                  what + " vs torchvision")
