"""nms and roi_align on quantized tensors (QuantizedCPU), against torchvision
0.14.1's quantized kernels on the same inputs: the same integers out.

torchvision's semantics: roi_align takes one image per batch (a quantized batch
index cannot name every image) and quantizes its output with the features'
scale and zero point; nms compares boxes by their stored integers. Inputs that
torchvision rejects raise RuntimeError; a batch index other than 0, which
torchvision ignores, is our IndexError."""

import pytest
import torch

import roi_cases as rc

pytestmark = pytest.mark.skipif(rc.OPS_NAMESPACE != "roiserve",
                                reason="quantized kernels exist in torch.ops.roiserve only")

QDTYPES = (torch.quint8, torch.qint8, torch.qint32)
# (scale, zero point): exact integers, a coarse grid with an offset, a fine grid.
QUANTIZATIONS = ((1.0, 0), (2.0, 10), (0.1, 50), (0.37, 3))


def quantize(tensor, quantization, qdtype):
    scale, zero_point = quantization
    return torch.quantize_per_tensor(tensor, scale, zero_point, qdtype)


def features_and_rois(gen, count=40, channels=5, height=13, width=11):
    x = torch.rand(1, channels, height, width, generator=gen) * 20
    rois = torch.rand(count, 5, generator=gen) * 14 - 1
    rois[:, 3:] = rois[:, 1:3] + rois[:, 3:] * 0.7
    rois[:, 0] = 0
    return x, rois


def assert_same_quantized(ours, reference):
    assert ours.dtype == reference.dtype and ours.shape == reference.shape
    assert ours.q_scale() == reference.q_scale()
    assert ours.q_zero_point() == reference.q_zero_point()
    assert torch.equal(ours.int_repr(), reference.int_repr())


@pytest.mark.parametrize("spatial_scale", (1.0, 0.5, 0.3), ids=str)
@pytest.mark.parametrize("sampling_ratio", (-1, 0, 2))
@pytest.mark.parametrize("aligned", (False, True))
@pytest.mark.parametrize("quantization", QUANTIZATIONS, ids=str)
@pytest.mark.parametrize("qdtype", QDTYPES, ids=rc.dtype_id)
def test_roi_align_equals_torchvision(qdtype, quantization, aligned, sampling_ratio,
                                      spatial_scale, torch_gen):
    x, rois = features_and_rois(torch_gen)
    qx, qrois = quantize(x, quantization, qdtype), quantize(rois, quantization, qdtype)
    args = (spatial_scale, 3, 4, sampling_ratio, aligned)
    assert_same_quantized(rc.rv().roi_align(qx, qrois, *args), rc.tv().roi_align(qx, qrois, *args))


def test_roi_align_reads_any_layout_and_returns_the_input_layout(torch_gen):
    x, rois = features_and_rois(torch_gen, channels=8)
    qx, qrois = quantize(x, (0.1, 50), torch.quint8), quantize(rois, (0.1, 50), torch.quint8)
    expected = rc.tv().roi_align(qx, qrois, 1.0, 2, 2, 2, True)
    assert rc.rv().roi_align(qx, qrois, 1.0, 2, 2, 2, True).is_contiguous()
    channels_last = qx.contiguous(memory_format=torch.channels_last)
    out = rc.rv().roi_align(channels_last, qrois, 1.0, 2, 2, 2, True)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert_same_quantized(out, expected)
    assert_same_quantized(rc.rv().roi_align(qx, qrois[::2], 1.0, 2, 2, 2, True),
                          rc.tv().roi_align(qx, qrois[::2], 1.0, 2, 2, 2, True))


def test_roi_align_of_no_rois_is_empty(torch_gen):
    x, rois = features_and_rois(torch_gen)
    qx, qrois = quantize(x, (2.0, 10), torch.qint8), quantize(rois[:0], (2.0, 10), torch.qint8)
    out = rc.rv().roi_align(qx, qrois, 1.0, 3, 3, 2, False)
    assert out.shape == (0, 5, 3, 3) and out.dtype == torch.qint8 and out.q_scale() == 2.0


def boxes_and_scores(gen, count=500, extent=30.0):
    boxes = torch.rand(count, 4, generator=gen) * extent
    boxes[:, 2:] += boxes[:, :2]
    return boxes, torch.rand(count, generator=gen) * 50


@pytest.mark.parametrize("iou", (0.2, 0.5, 0.8), ids=str)
@pytest.mark.parametrize("quantization", QUANTIZATIONS[:3], ids=str)
@pytest.mark.parametrize("qdtype", QDTYPES, ids=rc.dtype_id)
def test_nms_equals_torchvision(qdtype, quantization, iou, torch_gen):
    # Coarse grids make many boxes tie, and many IoUs meet the threshold exactly.
    for _ in range(4):
        boxes, scores = boxes_and_scores(torch_gen)
        qboxes = quantize(boxes, quantization, qdtype)
        qscores = quantize(scores, quantization, qdtype)
        assert torch.equal(rc.rv().nms(qboxes, qscores, iou), rc.tv().nms(qboxes, qscores, iou))


def test_nms_of_wide_qint32_boxes_does_not_overflow(torch_gen):
    # 60,000 x 60,000 stored units: torchvision's int32 area overflows; ours
    # equals torchvision's float32 nms on the stored integers.
    boxes, scores = boxes_and_scores(torch_gen, count=200, extent=6e4)
    qboxes = quantize(boxes, (1.0, 0), torch.qint32)
    qscores = quantize(scores, (1.0, 0), torch.qint32)
    expected = rc.tv().nms(qboxes.int_repr().float(), qscores.int_repr().float(), 0.5)
    assert torch.equal(rc.rv().nms(qboxes, qscores, 0.5), expected)


def test_nms_of_no_boxes_is_empty():
    empty = quantize(torch.zeros(0, 4), (1.0, 0), torch.quint8)
    keep = rc.rv().nms(empty, quantize(torch.zeros(0), (1.0, 0), torch.quint8), 0.5)
    assert keep.shape == (0,) and keep.dtype == torch.int64


# --- rejections ------------------------------------------------------------


def quantized_case(images=1, batch_index=0.0):
    x = quantize(torch.rand(images, 2, 6, 6) * 10, (1.0, 0), torch.quint8)
    rois = quantize(torch.tensor([[batch_index, 0, 0, 4, 4]]), (1.0, 0), torch.quint8)
    return x, rois


def test_roi_align_takes_one_image_per_batch():
    x, rois = quantized_case(images=2)
    with pytest.raises(RuntimeError, match=r"^roi_align: Only one image per batch is allowed"):
        rc.rv().roi_align(x, rois, 1.0, 2, 2, 2, False)


def test_roi_align_batch_index_must_be_zero():
    x, rois = quantized_case(batch_index=1.0)
    with pytest.raises(IndexError, match=r"^roi_align: rois\[0, 0\] = 1 is not a batch index"):
        rc.rv().roi_align(x, rois, 1.0, 2, 2, 2, False)


def test_roi_align_rejects_float_rois_and_per_channel_features():
    x, rois = quantized_case()
    with pytest.raises(RuntimeError, match=r"^roi_align: rois must have the dtype of the features"):
        rc.rv().roi_align(x, rois.dequantize(), 1.0, 2, 2, 2, False)
    per_channel = torch.quantize_per_channel(torch.rand(1, 2, 6, 6), torch.tensor([0.1, 0.2]),
                                             torch.tensor([0, 0]), 1, torch.quint8)
    with pytest.raises(RuntimeError, match=r"^roi_align: input must be quantized per tensor"):
        rc.rv().roi_align(per_channel, rois, 1.0, 2, 2, 2, False)


def test_roi_align_checks_shapes_and_sizes():
    x, rois = quantized_case()
    with pytest.raises(RuntimeError, match=r"^roi_align: rois must have shape \[K, 5\]"):
        rc.rv().roi_align(x, rois[:, :4], 1.0, 2, 2, 2, False)
    with pytest.raises(RuntimeError, match=r"^roi_align: output size must be positive"):
        rc.rv().roi_align(x, rois, 1.0, 0, 2, 2, False)
    with pytest.raises(ValueError, match=r"^roi_align: spatial_scale must be finite and positive"):
        rc.rv().roi_align(x, rois, 0.0, 2, 2, 2, False)


def test_nms_rejects_mixed_and_per_channel_inputs():
    boxes = quantize(torch.rand(5, 4) * 10, (1.0, 0), torch.quint8)
    scores = quantize(torch.rand(5) * 10, (1.0, 0), torch.quint8)
    with pytest.raises(RuntimeError,
                       match=r"^nms: boxes and scores must share one quantized dtype"):
        rc.rv().nms(boxes, scores.dequantize(), 0.5)
    with pytest.raises(RuntimeError, match=r"^nms: boxes must have shape \[N, 4\]"):
        rc.rv().nms(boxes[:, :3], scores, 0.5)
    per_channel = torch.quantize_per_channel(torch.rand(5, 4), torch.full((4,), 0.1),
                                             torch.zeros(4, dtype=torch.long), 1, torch.quint8)
    with pytest.raises(RuntimeError, match=r"^nms: boxes must be quantized per tensor"):
        rc.rv().nms(per_channel, scores, 0.5)
