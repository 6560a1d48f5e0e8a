"""Shared setup for the roiserve parity suite.

Loads libroiserve_ops.so once per process (the xdist controller and every
worker run pytest_configure), pins the thread count, and hands tests seeded
random generators so that every run sees the same cases.

Run with Debian's interpreter, which has torch 1.13 and torchvision 0.14:
    /usr/bin/python3 -m pytest tests/python -q -n 2
ROISERVE_OPS_LIB=/path/to/libroiserve_ops.so selects another build;
ROISERVE_OPS_NAMESPACE=roiserve_cuda_host runs it against the CUDA kernels
emulated on the CPU (libroiserve_cuda_host.so, or ROISERVE_CUDA_HOST_LIB).
"""
import os
import random
import time
import zlib

# OpenMP threads that spin while idle make two xdist workers x 2 threads on 2
# cores (or a busy machine) several times slower; must be set before libgomp
# loads with torch, and is inherited by the xdist workers.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

from roi_cases import (  # noqa: E402
    CUDA_HOST_NAMESPACE, OPS_NAMESPACE, REPO_ROOT, cuda_host_library_path, ops_library_path)

DEFAULT_NUM_THREADS = 2


def _load_ops_library(path, attempts=5, pause_s=3.0):
    # The library may be rebuilt while the suite runs: a half-written .so fails
    # to load, so retry a few times before giving up.
    for attempt in range(attempts):
        try:
            torch.ops.load_library(str(path))
            return
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(pause_s)


def pytest_configure(config):
    path = ops_library_path()
    if not path.is_file():
        raise pytest.UsageError(
            f"roiserve ops library not found at {path}. Build it with "
            f"`cmake --build {REPO_ROOT / 'build'}` or point ROISERVE_OPS_LIB at it."
        )
    _load_ops_library(path)
    if OPS_NAMESPACE == CUDA_HOST_NAMESPACE:
        path = cuda_host_library_path()
        if not path.is_file():
            raise pytest.UsageError(
                f"CUDA host emulation not found at {path}: build with "
                f"-DROISERVE_CUDA_HOST_EMULATION=ON or point ROISERVE_CUDA_HOST_LIB at it.")
        _load_ops_library(path)
    try:
        getattr(torch.ops, OPS_NAMESPACE).roi_align
    except (AttributeError, RuntimeError) as error:
        raise pytest.UsageError(
            f"{path} loaded but registered no {OPS_NAMESPACE}::roi_align: {error}")
    torch.set_num_threads(DEFAULT_NUM_THREADS)


def _seed_of(request):
    # A stable per-test seed (Python's hash() of str is salted per process,
    # which would give every xdist worker different cases).
    return zlib.crc32(request.node.nodeid.encode())


@pytest.fixture
def torch_gen(request):
    """A torch.Generator seeded from the test's node id."""
    return torch.Generator().manual_seed(_seed_of(request))


@pytest.fixture
def py_rng(request):
    """A random.Random seeded from the test's node id."""
    return random.Random(_seed_of(request))


@pytest.fixture
def restore_num_threads():
    """Tests that change torch's thread count get it put back afterwards."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
