"""Empty inputs. No RoIs (K = 0): every pooling op returns correctly shaped
empty outputs, and every gradient, through autograd or the backward op, is
all zeros. An empty feature map (H = 0 or W = 0): every bin is empty and pools
to 0 (torchvision's roi_align reads out of bounds there and crashes). nms of
no boxes keeps none, in every floating dtype."""
import pytest
import torch

import roi_cases as rc

N, H, W = 2, 5, 6
PH, PW = 2, 3
C = 2 * PH * PW  # divisible by the bins, for the position-sensitive ops
LEVELS = [1, 2]


def forward(name, x, rois):
    """(output, index output or None) of op `name` on x and rois."""
    ops = rc.rv()
    if name == "roi_align":
        return ops.roi_align(x, rois, 0.5, PH, PW, 2, True), None
    if name == "roi_pool":
        return ops.roi_pool(x, rois, 0.5, PH, PW)
    if name == "ps_roi_pool":
        return ops.ps_roi_pool(x, rois, 0.5, PH, PW)
    if name == "ps_roi_align":
        return ops.ps_roi_align(x, rois, 0.5, PH, PW, 2)
    if name == "spp_roi_pool":
        return ops.spp_roi_pool(x, rois, 0.5, LEVELS)
    raise ValueError(name)


def backward(name, grad, rois, index):
    ops = rc.rv()
    if name == "roi_align":
        return ops._roi_align_backward(grad, rois, 0.5, PH, PW, N, C, H, W, 2, True)
    if name == "roi_pool":
        return ops._roi_pool_backward(grad, rois, index, 0.5, PH, PW, N, C, H, W)
    if name == "ps_roi_pool":
        return ops._ps_roi_pool_backward(grad, rois, index, 0.5, PH, PW, N, C, H, W)
    if name == "ps_roi_align":
        return ops._ps_roi_align_backward(grad, rois, index, 0.5, PH, PW, 2, N, C, H, W)
    if name == "spp_roi_pool":
        return ops._spp_roi_pool_backward(grad, rois, index, 0.5, LEVELS, N, C, H, W)
    raise ValueError(name)


EXPECTED_SHAPE = {
    "roi_align": (0, C, PH, PW),
    "roi_pool": (0, C, PH, PW),
    "ps_roi_pool": (0, C // (PH * PW), PH, PW),
    "ps_roi_align": (0, C // (PH * PW), PH, PW),
    "spp_roi_pool": (0, C * sum(level * level for level in LEVELS)),
}


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("name", list(EXPECTED_SHAPE))
def test_empty_rois(name, dtype, layout, torch_gen):
    x = rc.make_features(torch_gen, (N, C, H, W), dtype, layout).requires_grad_(True)
    rois = torch.zeros(0, 5, dtype=dtype)
    out, index = forward(name, x, rois)
    assert out.shape == EXPECTED_SHAPE[name] and out.dtype == dtype
    if index is not None:
        assert index.shape == EXPECTED_SHAPE[name] and index.dtype == torch.int32

    out.sum().backward()
    assert x.grad.shape == (N, C, H, W)
    assert torch.equal(x.grad, torch.zeros_like(x.grad))

    grad = torch.zeros(EXPECTED_SHAPE[name], dtype=dtype)
    grad_input = backward(name, grad, rois, index)
    assert grad_input.shape == (N, C, H, W) and grad_input.dtype == dtype
    assert torch.equal(grad_input, torch.zeros_like(grad_input))


@pytest.mark.parametrize("shape", [(N, C, 0, W), (N, C, H, 0)], ids=str)
@pytest.mark.parametrize("name", list(EXPECTED_SHAPE))
def test_empty_feature_map_pools_to_zero(name, shape):
    x = torch.zeros(shape)
    rois = torch.tensor([[0, 0, 0, 4, 4], [1, -1, 2, 3, 9]], dtype=torch.float32)
    out, index = forward(name, x, rois)
    assert out.shape == (2,) + EXPECTED_SHAPE[name][1:]
    assert torch.equal(out, torch.zeros_like(out))
    if name in ("roi_pool", "spp_roi_pool"):
        # argmax -1: nothing to route a gradient to.
        assert torch.equal(index, torch.full_like(index, -1))


@pytest.mark.parametrize("dtype", rc.DTYPES + (torch.float16, torch.bfloat16), ids=rc.dtype_id)
def test_nms_of_no_boxes_keeps_none(dtype):
    keep = rc.rv().nms(torch.zeros(0, 4, dtype=dtype), torch.zeros(0, dtype=dtype), 0.5)
    assert keep.shape == (0,) and keep.dtype == torch.int64
