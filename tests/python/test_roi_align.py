"""roi_align: forward and input gradient bit-identical to torchvision 0.14 over
random cases, gradcheck, and the backward op called directly with strided grads.

torchvision itself fails on one family of RoIs: with aligned=True and adaptive
sampling, a RoI reversed along exactly one axis gives a negative sample-grid
size and its std::vector allocation throws ("cannot create std::vector larger
than max_size()"). roiserve pools such a RoI to 0 (it has no sample points);
those rows are compared against 0 instead, and test_reversed_roi_... pins it.
"""
import pytest
import torch

import roi_cases as rc

CHUNKS = 40
CASES_PER_CHUNK = 35  # 1400 cases per dtype; each 70 cover every layout x sampling x aligned


def torchvision_rows(case, rois=None):
    """Which rows of the case's rois torchvision's roi_align can evaluate."""
    rois = case.rois if rois is None else rois
    try:
        rc.tv().roi_align(case.x, rois, case.spatial_scale, case.pooled_h, case.pooled_w,
                          case.sampling_ratio, case.aligned)
        return torch.ones(rois.shape[0], dtype=torch.bool)
    except ValueError as error:
        assert "std::vector" in str(error), error
    ok = []
    for row in rois.split(1):
        try:
            rc.tv().roi_align(case.x, row, case.spatial_scale, case.pooled_h, case.pooled_w,
                              case.sampling_ratio, case.aligned)
            ok.append(True)
        except ValueError:
            ok.append(False)
    return torch.tensor(ok, dtype=torch.bool)


def restrict_to_torchvision_rows(case):
    """The case without the rows torchvision cannot evaluate."""
    case.rois = case.rois[torchvision_rows(case)]
    return case


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_forward_matches_torchvision(dtype, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK):
        case = rc.make_case(seed, dtype)
        ours = rc.roi_align(rc.rv(), case)
        supported = torchvision_rows(case)
        # Only aligned RoIs with adaptive sampling can hit torchvision's failure.
        assert supported.all() or (case.aligned and case.sampling_ratio <= 0), rc.describe(case)
        expected = torch.zeros_like(ours, memory_format=torch.contiguous_format)
        expected[supported] = rc.tv().roi_align(
            case.x, case.rois[supported], case.spatial_scale, case.pooled_h, case.pooled_w,
            case.sampling_ratio, case.aligned)
        rc.assert_bitwise_equal(ours, expected, f"roi_align forward, {rc.describe(case)}")


@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_reversed_roi_with_aligned_adaptive_sampling_pools_to_zero(dtype, torch_gen):
    # torchvision raises here (see the module docstring); roiserve has no
    # sample points for the RoI and returns zeros.
    x = torch.randn(1, 3, 8, 8, generator=torch_gen, dtype=dtype)
    rois = torch.tensor([[0, 6.0, 1.0, 2.0, 5.0]], dtype=dtype)  # x2 < x1, y2 > y1
    with pytest.raises(ValueError, match="std::vector"):
        rc.tv().roi_align(x, rois, 1.0, 2, 2, 0, True)
    out = rc.rv().roi_align(x, rois, 1.0, 2, 2, 0, True)
    assert out.shape == (1, 3, 2, 2)
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("chunk", range(16))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_input_grad_matches_torchvision(dtype, chunk):
    # Same per-element accumulation order as torchvision: bit-identical.
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK, offset=100_000):
        case = restrict_to_torchvision_rows(rc.make_case(seed, dtype))
        rc.assert_input_grad_matches_torchvision(rc.roi_align, "roi_align", case, seed,
                                                 case.x.shape[1])


# RoIs for gradcheck on a 2 x 2 x 6 x 7 map: inside, partly outside, past the
# bottom-right border, a single point, reversed, and wholly outside.
GRADCHECK_ROIS = [
    [0, 0.5, 1.2, 5.3, 6.1],
    [1, -2.0, -1.5, 3.0, 4.0],
    [1, 4.2, 3.3, 9.7, 8.9],
    [0, 2.0, 2.0, 2.0, 2.0],
    [0, 6.0, 5.0, 1.0, 1.5],
    [1, 20.0, 20.0, 25.0, 26.0],
]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 2])
@pytest.mark.parametrize("aligned", [False, True])
def test_gradcheck(aligned, sampling_ratio, layout, torch_gen):
    x = rc.make_features(torch_gen, (2, 2, 6, 7), torch.float64, layout).requires_grad_(True)
    rois = torch.tensor(GRADCHECK_ROIS, dtype=torch.float64)
    for scale in (1.0, 0.5):
        assert torch.autograd.gradcheck(
            lambda t: rc.rv().roi_align(t, rois, scale, 3, 2, sampling_ratio, aligned), (x,))


@pytest.mark.parametrize("grad_layout", rc.GRAD_LAYOUTS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_backward_op_with_strided_grad(dtype, grad_layout):
    # _roi_align_backward must read grad through its strides: the result equals
    # that of the dense grad and torchvision's (which also honours strides).
    for seed in range(200_000, 200_020):
        case = restrict_to_torchvision_rows(rc.make_case(seed, dtype))
        n, c, h, w = case.input_shape
        shape = (case.rois.shape[0], c, case.pooled_h, case.pooled_w)
        grad = rc.make_grad(torch.Generator().manual_seed(seed), shape, dtype, grad_layout)

        def backward(ns, g):
            return ns._roi_align_backward(
                g, case.rois, case.spatial_scale, case.pooled_h, case.pooled_w, n, c, h, w,
                case.sampling_ratio, case.aligned)

        ours = backward(rc.rv(), grad)
        what = f"_roi_align_backward grad={grad_layout} {rc.describe(case)}"
        rc.assert_gradients_equal(ours, backward(rc.rv(), grad.contiguous()),
                                  what + " vs dense grad")
        rc.assert_gradients_equal(ours, backward(rc.tv(), grad), what + " vs torchvision")
