"""roiserve's pooling and nms ops are drop-in replacements for torchvision's:
their schemas must match torchvision 0.14's exactly, argument names included."""
import pytest
import torch

TORCHVISION_OPS = (
    "roi_align",
    "_roi_align_backward",
    "roi_pool",
    "_roi_pool_backward",
    "ps_roi_pool",
    "_ps_roi_pool_backward",
    "ps_roi_align",
    "_ps_roi_align_backward",
    "nms",
)


@pytest.mark.parametrize("name", TORCHVISION_OPS)
def test_schema_equals_torchvision(name):
    ours = str(getattr(torch.ops.roiserve, name).default._schema)
    reference = str(getattr(torch.ops.torchvision, name).default._schema)
    assert reference.startswith(f"torchvision::{name}(")
    assert ours == reference.replace("torchvision::", "roiserve::", 1)
