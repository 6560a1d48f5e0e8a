"""The drop-in run is only worth something if torchvision's functions really
reach our kernels: a batch index past the batch, which torchvision's own
kernels read out of bounds, must come back as our IndexError, eager and scripted."""
import pytest
import torch
from torchvision import ops

import roi_cases as rc

FEATURES = torch.rand(1, 2, 5, 5)
ROIS_OF_IMAGE_3 = torch.tensor([[3.0, 0, 0, 4, 4]])
OURS = r"^roi_align: rois\[0, 0\] = 3 is not a batch index"


def test_torchvision_ops_are_bound_to_the_namespace_under_test():
    for name in ("roi_align", "roi_pool", "ps_roi_pool", "ps_roi_align", "nms"):
        assert getattr(torch.ops.torchvision, name) is getattr(rc.rv(), name)


def test_torchvision_roi_align_runs_our_kernel():
    with pytest.raises(IndexError, match=OURS):
        ops.roi_align(FEATURES, ROIS_OF_IMAGE_3, 2)


def test_scripted_torchvision_roi_align_runs_our_kernel():
    scripted = torch.jit.script(ops.roi_align)
    with pytest.raises(RuntimeError, match=r"roi_align: rois\[0, 0\] = 3 is not a batch index"):
        scripted(FEATURES, ROIS_OF_IMAGE_3, 2)
