"""roiserve's pooling and nms ops are drop-in replacements for torchvision's:
their schemas must match torchvision 0.14's exactly, argument names included,
in the namespace under test (the CUDA host emulation's too)."""
import pytest
import torch

import roi_cases as rc

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
    ours = str(getattr(rc.rv(), name).default._schema)
    reference = str(getattr(torch.ops.torchvision, name).default._schema)
    assert reference.startswith(f"torchvision::{name}(")
    assert ours == reference.replace("torchvision::", f"{rc.OPS_NAMESPACE}::", 1)


SPP_OPS = ("spp_roi_pool", "_spp_roi_pool_backward")


@pytest.mark.parametrize("name", TORCHVISION_OPS + SPP_OPS)
def test_cuda_host_schema_equals_roiserve(name):
    if rc.OPS_NAMESPACE != rc.CUDA_HOST_NAMESPACE:
        pytest.skip("run with ROISERVE_OPS_NAMESPACE=roiserve_cuda_host")
    ours = str(getattr(rc.rv(), name).default._schema)
    reference = str(getattr(torch.ops.roiserve, name).default._schema)
    assert ours == reference.replace("roiserve::", f"{rc.CUDA_HOST_NAMESPACE}::", 1)
