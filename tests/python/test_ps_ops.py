"""Position-sensitive ops (R-FCN): ps_roi_pool and ps_roi_align against
torchvision 0.14, and the two deliberate differences from it:

* ps_roi_align with adaptive sampling (sampling_ratio <= 0) on a RoI with no
  sample points along an axis gives 0; torchvision divides 0 by 0 (NaN).
* ps_roi_pool's backward is the true gradient of its forward. torchvision's
  forward clips bins to [0, H-1] x [0, W-1] but its backward to [0, H] x [0, W],
  so its gradient is wrong for bins touching the bottom or right border.
"""
import random

import pytest
import torch

import roi_cases as rc

CHUNKS = 20
CASES_PER_CHUNK = 35


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_ps_roi_pool_forward_matches_torchvision(dtype, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK):
        case = rc.make_case(seed, dtype, position_sensitive=True)
        out, mapping = rc.ps_roi_pool(rc.rv(), case)
        expected_out, expected_mapping = rc.ps_roi_pool(rc.tv(), case)
        what = f"ps_roi_pool, {rc.describe(case)}"
        rc.assert_bitwise_equal(out, expected_out, what + " output")
        rc.assert_bitwise_equal(mapping, expected_mapping, what + " channel_mapping")


@pytest.mark.parametrize("chunk", range(CHUNKS))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_ps_roi_align_forward_matches_torchvision(dtype, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK):
        case = rc.make_case(seed, dtype, position_sensitive=True)
        out, mapping = rc.ps_roi_align(rc.rv(), case)
        expected_out, expected_mapping = rc.ps_roi_align(rc.tv(), case)
        what = f"ps_roi_align, {rc.describe(case)}"
        # torchvision's NaNs are the deliberate difference: only adaptive
        # sampling produces them, and roiserve has 0 there.
        nan = expected_out.isnan()
        assert case.sampling_ratio <= 0 or not nan.any(), what
        assert not out.isnan().any(), what
        rc.assert_bitwise_equal(out, expected_out.masked_fill(nan, 0), what + " output")
        rc.assert_bitwise_equal(mapping, expected_mapping, what + " channel_mapping")


@pytest.mark.parametrize("sampling_ratio", [-1, 0])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_ps_roi_align_zero_area_roi_gives_zero_where_torchvision_gives_nan(
        dtype, sampling_ratio, torch_gen):
    x = torch.randn(1, 8, 6, 6, generator=torch_gen, dtype=dtype)
    # zero width, zero height, a single point; then an ordinary RoI.
    rois = torch.tensor(
        [[0, 2, 1, 2, 4], [0, 1, 3, 5, 3], [0, 3, 3, 3, 3], [0, 1, 1, 4, 5]], dtype=dtype)
    out, _ = rc.rv().ps_roi_align(x, rois, 1.0, 2, 2, sampling_ratio)
    expected, _ = rc.tv().ps_roi_align(x, rois, 1.0, 2, 2, sampling_ratio)
    assert expected[:3].isnan().all()
    assert torch.equal(out[:3], torch.zeros_like(out[:3]))
    rc.assert_bitwise_equal(out[3], expected[3], "ordinary RoI")
    # The gradient of a constant-zero output is zero.
    x.requires_grad_(True)
    rc.rv().ps_roi_align(x, rois[:3], 1.0, 2, 2, sampling_ratio)[0].sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("chunk", range(12))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_ps_roi_align_input_grad_matches_torchvision(dtype, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK, offset=100_000):
        case = rc.make_case(seed, dtype, position_sensitive=True)
        rc.assert_input_grad_matches_torchvision(rc.ps_roi_align, "ps_roi_align", case, seed,
                                                 case.x.shape[1] // (case.pooled_h * case.pooled_w))


def interior_ps_roi_pool_case(seed, dtype):
    """A ps_roi_pool case whose bins all end at least one cell before the
    bottom/right border, where torchvision's backward is right. Coordinates
    are on a quarter-cell grid and scales powers of two, so that the products
    are exact (torchvision's backward rounds with roundf, its forward with
    round)."""
    rng = random.Random(seed)
    case = rc.make_case(seed, dtype, position_sensitive=True)
    case.spatial_scale = rng.choice((1.0, 0.5, 0.25, 0.125))
    n, _, h, w = case.input_shape
    rows = []
    if h >= 4 and w >= 4:
        for _ in range(rng.randint(1, 30)):
            # Rounded ends at most size - 3: even a 1x1-forced RoI whose last
            # bin's ceil overshoots by one stays within size - 1.
            x1 = rng.randint(-8, 4 * (w - 3)) / 4
            x2 = rng.randint(int(x1 * 4), 4 * (w - 3)) / 4
            y1 = rng.randint(-8, 4 * (h - 3)) / 4
            y2 = rng.randint(int(y1 * 4), 4 * (h - 3)) / 4
            cells = [min(v, size - 3) for v, size in ((x1, w), (y1, h), (x2, w), (y2, h))]
            rows.append([rng.randrange(n)] + [v / case.spatial_scale for v in cells])
    case.rois = torch.tensor(rows, dtype=torch.float64).reshape(-1, 5).to(dtype)
    return case


@pytest.mark.parametrize("chunk", range(12))
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_ps_roi_pool_input_grad_matches_torchvision_away_from_border(dtype, chunk):
    for seed in rc.seeds_of_chunk(chunk, CASES_PER_CHUNK, offset=100_000):
        case = interior_ps_roi_pool_case(seed, dtype)
        rc.assert_input_grad_matches_torchvision(rc.ps_roi_pool, "ps_roi_pool", case, seed,
                                                 case.x.shape[1] // (case.pooled_h * case.pooled_w))


# On a 1 x 8 x 6 x 6 map with 2x2 bins: RoIs that reach the bottom/right
# border (or beyond), where torchvision's backward is wrong.
BORDER_ROIS = [
    [0, 2.0, 2.0, 6.0, 6.0],
    [0, 0.0, 0.0, 5.6, 5.6],
    [0, 3.0, 1.0, 8.0, 5.0],
    [0, 1.0, 3.0, 4.0, 9.0],
]


def test_ps_roi_pool_backward_is_true_gradient_at_border(torch_gen):
    x = torch.randn(1, 8, 6, 6, generator=torch_gen, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor(BORDER_ROIS, dtype=torch.float64)

    def ours(t):
        return rc.rv().ps_roi_pool(t, rois, 1.0, 2, 2)[0]

    def torchvision(t):
        return rc.tv().ps_roi_pool(t, rois, 1.0, 2, 2)[0]

    # Same forward, so the same function to differentiate...
    rc.assert_bitwise_equal(ours(x), torchvision(x), "ps_roi_pool forward at border")
    # ...and ours is its gradient, torchvision's is not.
    assert torch.autograd.gradcheck(ours, (x,))
    assert not torch.autograd.gradcheck(torchvision, (x,), raise_exception=False)
    for i in range(rois.shape[0]):
        row = rois[i:i + 1]
        grad_output = torch.randn(1, 2, 2, 2, generator=torch_gen, dtype=torch.float64)
        (ours_grad,) = torch.autograd.grad(rc.rv().ps_roi_pool(x, row, 1.0, 2, 2)[0], x, grad_output)
        (tv_grad,) = torch.autograd.grad(rc.tv().ps_roi_pool(x, row, 1.0, 2, 2)[0], x, grad_output)
        assert not torch.allclose(ours_grad, tv_grad), f"border RoI {row.tolist()}"


@pytest.mark.parametrize("pooled", [(1, 1), (2, 2), (3, 2)])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_ps_roi_pool_gradcheck(pooled, scale, torch_gen):
    ph, pw = pooled
    x = torch.randn(2, 2 * ph * pw, 6, 7, generator=torch_gen, dtype=torch.float64,
                    requires_grad=True)
    rois = torch.tensor(BORDER_ROIS + [[1, -3.0, -2.0, 3.0, 2.5], [1, 1.0, 1.0, 1.0, 1.0],
                                       [0, 4.0, 4.0, 1.0, 2.0], [1, 20.0, 20.0, 30.0, 30.0]],
                        dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: rc.rv().ps_roi_pool(t, rois, scale, ph, pw)[0], (x,))


@pytest.mark.parametrize("pooled", [(1, 1), (2, 3)])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 2])
def test_ps_roi_align_gradcheck(sampling_ratio, pooled, torch_gen):
    ph, pw = pooled
    x = torch.randn(2, 2 * ph * pw, 6, 7, generator=torch_gen, dtype=torch.float64,
                    requires_grad=True)
    rois = torch.tensor(
        [[0, 0.5, 1.2, 5.3, 4.1], [1, -2.0, -1.5, 3.0, 4.0], [1, 3.2, 2.7, 9.7, 8.9],
         [0, 2.0, 2.0, 2.0, 2.0], [0, 5.0, 4.0, 1.0, 1.5], [1, 2.0, 1.0, 2.0, 5.0]],
        dtype=torch.float64)
    for scale in (1.0, 0.5):
        assert torch.autograd.gradcheck(
            lambda t: rc.rv().ps_roi_align(t, rois, scale, ph, pw, sampling_ratio)[0], (x,))


@pytest.mark.parametrize("grad_layout", rc.GRAD_LAYOUTS)
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
def test_backward_ops_with_strided_grad(dtype, grad_layout):
    for seed in range(200_000, 200_015):
        align_case = rc.make_case(seed, dtype, position_sensitive=True)
        pool_case = interior_ps_roi_pool_case(seed, dtype)
        for name, case in (("ps_roi_align", align_case), ("ps_roi_pool", pool_case)):
            n, c, h, w = case.input_shape
            out, mapping = getattr(rc, name)(rc.rv(), case)
            grad = rc.make_grad(torch.Generator().manual_seed(seed), tuple(out.shape), dtype,
                                grad_layout)

            def backward(ns, g):
                if name == "ps_roi_align":
                    return ns._ps_roi_align_backward(
                        g, case.rois, mapping, case.spatial_scale, case.pooled_h,
                        case.pooled_w, case.sampling_ratio, n, c, h, w)
                return ns._ps_roi_pool_backward(
                    g, case.rois, mapping, case.spatial_scale, case.pooled_h, case.pooled_w,
                    n, c, h, w)

            ours = backward(rc.rv(), grad)
            what = f"_{name}_backward grad={grad_layout} {rc.describe(case)}"
            rc.assert_gradients_equal(ours, backward(rc.rv(), grad.contiguous()),
                                      what + " vs dense")
            rc.assert_gradients_equal(ours, backward(rc.tv(), grad), what + " vs torchvision")
