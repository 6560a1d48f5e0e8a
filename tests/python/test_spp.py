"""spp_roi_pool: per RoI, torchvision roi_pool at L x L for every pyramid level
L, each flattened [C, L, L] and concatenated:

    spp_roi_pool(x, rois, s, levels)[0]
        == cat([roi_pool(x, rois, (L, L), s).flatten(1) for L in levels], 1)

and the same for argmax."""
import random

import pytest
import torch

import roi_cases as rc

CHUNKS = 16
CASES_PER_CHUNK = 35


def random_levels(rng):
    """1 to 4 levels in 1..6, unsorted and with repeats allowed."""
    return [rng.randint(1, 6) for _ in range(rng.randint(1, 4))]


def spp_case(seed, dtype, values="normal"):
    case = rc.make_case(seed, dtype, values=values)
    return case, random_levels(random.Random(seed))


def describe(case, levels):
    return f"{rc.describe(case)} levels={levels}"


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("values", ["normal", "quantized"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_forward_matches_concatenated_roi_pool(dtype, values, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK):
        case, levels = spp_case(seed, dtype, values)
        out, argmax = rc.rv().spp_roi_pool(case.x, case.rois, case.spatial_scale, levels)
        expected_out, expected_argmax = rc.spp_reference(
            case.x, case.rois, case.spatial_scale, levels)
        what = f"spp_roi_pool {values}, {describe(case, levels)}"
        rc.assert_bitwise_equal(out, expected_out, what + " output")
        rc.assert_bitwise_equal(argmax, expected_argmax, what + " argmax")


@pytest.mark.parametrize("chunk", range(8))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_input_grad_matches_concatenated_roi_pool(dtype, chunk):
    # Not bit-identical by construction: roiserve adds every level's gradient
    # into one buffer in turn, autograd sums one buffer per level afterwards.
    # Atomic adds, in any order, cancel differently again (rc.assert_gradients_equal's
    # tolerance).
    float32_atol = 1e-5 if rc.ATOMIC_GRADIENTS else 1e-6
    tolerance = dict(rtol=1e-5, atol=float32_atol) if dtype == torch.float32 else dict(
        rtol=1e-12, atol=1e-12)
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK, offset=100_000):
        case, levels = spp_case(seed, dtype, "quantized")
        width = case.x.shape[1] * sum(level * level for level in levels)
        grad_output = torch.randn((case.rois.shape[0], width),
                                  generator=torch.Generator().manual_seed(seed), dtype=dtype)
        x = case.x.detach().requires_grad_(True)
        rc.rv().spp_roi_pool(x, case.rois, case.spatial_scale, levels)[0].backward(grad_output)
        x_ref = case.x.detach().requires_grad_(True)
        rc.spp_reference(x_ref, case.rois, case.spatial_scale, levels)[0].backward(grad_output)
        torch.testing.assert_close(x.grad, x_ref.grad, **tolerance,
                                   msg=lambda m: f"{m}\n{describe(case, levels)}")


@pytest.mark.parametrize("levels", [[1], [1, 2, 4], [3, 1, 3]])
def test_gradcheck(levels, torch_gen):
    # Well-separated values keep every argmax in place under perturbation.
    x = rc.make_features(torch_gen, (2, 2, 6, 7), torch.float64, "contiguous", "separated")
    x.requires_grad_(True)
    rois = torch.tensor(
        [[0, 0.4, 1.2, 4.6, 5.1], [1, -2.0, -1.5, 3.0, 4.0], [1, 3.2, 2.7, 9.7, 8.9],
         [0, 2.0, 2.0, 2.0, 2.0], [0, 5.0, 4.0, 1.0, 1.5], [1, 20.0, 20.0, 25.0, 26.0]],
        dtype=torch.float64)
    for scale in (1.0, 0.5):
        assert torch.autograd.gradcheck(
            lambda t: rc.rv().spp_roi_pool(t, rois, scale, levels)[0], (x,))


def strided_2d(gen, shape, dtype, layout):
    k, width = shape
    if layout == "contiguous":
        return torch.randn(shape, generator=gen, dtype=dtype)
    if layout == "transposed":
        return torch.randn((width, k), generator=gen, dtype=dtype).t()
    if layout == "sliced":
        return torch.randn((k, 2 * width), generator=gen, dtype=dtype)[:, 1::2]
    if layout == "expanded":
        return torch.randn((1, 1), generator=gen, dtype=dtype).expand(shape)
    raise ValueError(layout)


@pytest.mark.parametrize("grad_layout", ["contiguous", "transposed", "sliced", "expanded"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_backward_op_with_strided_grad_and_argmax(dtype, grad_layout):
    for seed in range(200_000, 200_020):
        case, levels = spp_case(seed, dtype, "quantized")
        n, c, h, w = case.input_shape
        _, argmax = rc.rv().spp_roi_pool(case.x, case.rois, case.spatial_scale, levels)
        grad = strided_2d(torch.Generator().manual_seed(seed), tuple(argmax.shape), dtype,
                          grad_layout)
        strided_argmax = argmax.t().contiguous().t()

        def backward(g, a):
            return rc.rv()._spp_roi_pool_backward(
                g, case.rois, a, case.spatial_scale, levels, n, c, h, w)

        rc.assert_gradients_equal(
            backward(grad, strided_argmax), backward(grad.contiguous(), argmax),
            f"_spp_roi_pool_backward grad={grad_layout} {describe(case, levels)}")
