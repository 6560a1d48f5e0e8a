"""torchvision 0.14.1's own RoI and NMS op tests (test_ops.py, unmodified) run
against roiserve's kernels.

torchvision's Python functions (torchvision.ops.roi_align, nms, RoIPool, ...)
look up torch.ops.torchvision.<op> at every call, and TorchScript resolves the
same attribute when it compiles them. For the length of each test those
attributes are bound to the ops of the namespace under test (torch.ops.roiserve,
or roiserve_cuda_host), so everything the test runs (eager, scripted, traced,
autograd) goes through our kernels. Registering our kernels for the
torchvision:: ops instead would last for the whole process, and the parity tests
that share an xdist worker with these need torchvision's own kernels as their
reference; monkeypatch restores them after each test.
"""
import zlib

import pytest
import torch

import roi_cases as rc

VENDORED_TESTS = __file__.rsplit("/", 1)[0] + "/test_ops.py"

# The ops torchvision's wrappers call and roiserve replaces, forward and backward.
REPLACED_OPS = (
    "roi_align", "_roi_align_backward", "roi_pool", "_roi_pool_backward",
    "ps_roi_pool", "_ps_roi_pool_backward", "ps_roi_align", "_ps_roi_align_backward", "nms")
# test_ops.py's classes that exercise those ops; the others test torchvision's
# pure-Python box utilities, losses and layers, or deform_conv2d, which
# roiserve does not replace.
TESTED_CLASSES = {"TestRoiPool", "TestPSRoIPool", "TestRoIAlign", "TestPSRoIAlign", "TestNMS"}
# Quantized tensors have kernels (QuantizedCPU) in torch.ops.roiserve only: the
# CUDA kernels, and so their host emulation, take float tensors.
QUANTIZED_TESTS = {"test_qroialign", "test_qroi_align_multiple_images", "test_qnms"}


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_cuda: torchvision's mark for tests on a CUDA device")


def pytest_collection_modifyitems(config, items):
    kept, deselected = [], []
    for item in items:
        if str(item.fspath) != VENDORED_TESTS:
            kept.append(item)
            continue
        if item.cls is None or item.cls.__name__ not in TESTED_CLASSES:
            deselected.append(item)
            continue
        if item.get_closest_marker("needs_cuda") and not torch.cuda.is_available():
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))
        if (item.originalname in QUANTIZED_TESTS
                and rc.OPS_NAMESPACE == rc.CUDA_HOST_NAMESPACE):
            item.add_marker(pytest.mark.skip(
                reason="quantized kernels are registered in torch.ops.roiserve only"))
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def _clear_torchscript_cache():
    # torch.jit.script caches the compiled function per Python function: a
    # function compiled while bound to one namespace would keep calling it.
    torch.jit._state._jit_caching_layer.clear()


@pytest.fixture(autouse=True)
def torchvision_ops_bound_to_roiserve(monkeypatch, request):
    for name in REPLACED_OPS:
        monkeypatch.setattr(torch.ops.torchvision, name, getattr(rc.rv(), name))
    _clear_torchscript_cache()
    # Several tests draw from the global generator without seeding it: a seed
    # per test makes every run see the same cases.
    rng_state = torch.get_rng_state()
    torch.manual_seed(zlib.crc32(request.node.nodeid.encode()))
    yield
    torch.set_rng_state(rng_state)
    _clear_torchscript_cache()
