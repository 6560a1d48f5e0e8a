"""float16 and bfloat16: computed by the float32 kernels and rounded once.

torchvision 0.14 accepts float16 on the CPU (it rounds after every operation)
and rejects bfloat16; roiserve takes both, and its single rounding is at least
as close to the exact result as torchvision's float16."""
import pytest
import torch

import roi_cases as rc

REDUCED = (torch.float16, torch.bfloat16)
SCALE = 0.25


def features(dtype):
    gen = torch.Generator().manual_seed(7)
    return torch.randn(2, 98, 20, 24, generator=gen).to(dtype)


def rois(dtype):
    return torch.tensor([[0, 1.0, 1.0, 60.0, 70.0], [1, 10.0, 5.0, 90.0, 80.0],
                         [0, 30.0, 40.0, 33.0, 41.0]]).to(dtype)


FORWARD = {
    "roi_align": lambda ns, x, r: ns.roi_align(x, r, SCALE, 7, 7, 2, True),
    "roi_pool": lambda ns, x, r: ns.roi_pool(x, r, SCALE, 7, 7)[0],
    "ps_roi_pool": lambda ns, x, r: ns.ps_roi_pool(x, r, SCALE, 7, 7)[0],
    "ps_roi_align": lambda ns, x, r: ns.ps_roi_align(x, r, SCALE, 7, 7, 2)[0],
    "spp_roi_pool": lambda ns, x, r: ns.spp_roi_pool(x, r, SCALE, [1, 2, 4])[0],
}
TORCHVISION_OPS = ("roi_align", "roi_pool", "ps_roi_pool", "ps_roi_align")


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_is_the_float32_result_rounded_once(name, dtype):
    x, r = features(dtype), rois(dtype)
    result = FORWARD[name](rc.rv(), x, r)
    assert result.dtype == dtype
    expected = FORWARD[name](rc.rv(), x.float(), r.float()).to(dtype)
    rc.assert_bitwise_equal(result, expected, f"{name} {dtype}")


@pytest.mark.parametrize("name", TORCHVISION_OPS)
def test_float16_is_at_least_as_accurate_as_torchvision(name):
    x, r = features(torch.float16), rois(torch.float16)
    exact = FORWARD[name](rc.tv(), x.double(), r.double())
    ours = (FORWARD[name](rc.rv(), x, r).double() - exact).abs().max()
    theirs = (FORWARD[name](rc.tv(), x, r).double() - exact).abs().max()
    assert ours <= theirs, (ours, theirs)


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
@pytest.mark.parametrize("name", FORWARD)
def test_gradient_is_the_float32_gradient_rounded_once(name, dtype):
    x, r = features(dtype), rois(dtype)
    reduced = x.clone().requires_grad_()
    FORWARD[name](rc.rv(), reduced, r).sum().backward()
    assert reduced.grad.dtype == dtype
    full = x.float().requires_grad_()
    FORWARD[name](rc.rv(), full, r.float()).sum().backward()
    rc.assert_bitwise_equal(reduced.grad, full.grad.to(dtype), f"{name} grad {dtype}")


def test_rois_must_match_the_reduced_dtype():
    with pytest.raises(RuntimeError, match=r"^roi_align: rois must have the dtype of the features"):
        rc.rv().roi_align(features(torch.float16), rois(torch.float32), SCALE, 7, 7, 2, True)


@pytest.mark.parametrize("dtype", REDUCED, ids=rc.dtype_id)
def test_nms_keeps_what_float32_nms_keeps_on_the_same_boxes(dtype):
    # torchvision's CPU nms has no float16/bfloat16 kernel ("not implemented",
    # NotImplementedError in torch 2.x); ours compares in float32, as the CUDA
    # kernel does.
    gen = torch.Generator().manual_seed(3)
    boxes = torch.rand(300, 4, generator=gen) * 40
    boxes[:, 2:] += boxes[:, :2]
    boxes, scores = boxes.to(dtype), torch.rand(300, generator=gen).to(dtype)
    expected = rc.tv().nms(boxes.float(), scores.float(), 0.5)
    assert torch.equal(rc.rv().nms(boxes, scores, 0.5), expected)
