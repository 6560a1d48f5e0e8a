"""Results do not depend on the thread count: forwards split work by RoI or by
channel plane, backwards give every gradient element to one thread and add
into it in a fixed order, so 1 and 2 threads must agree bit for bit."""
import random

import pytest
import torch

import roi_cases as rc

OPS = ("roi_align", "roi_pool", "ps_roi_pool", "ps_roi_align", "spp_roi_pool")


def run_op(name, case, x, levels):
    if name == "spp_roi_pool":
        return rc.rv().spp_roi_pool(x, case.rois, case.spatial_scale, levels)
    return getattr(rc, name)(rc.rv(), case, x)


def forward_and_grad(name, case, levels, threads):
    torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads
    x = case.x.detach().requires_grad_(True)
    out = run_op(name, case, x, levels)
    index = None
    if isinstance(out, (tuple, list)):
        out, index = out
    grad_output = torch.randn(out.shape, generator=torch.Generator().manual_seed(case.seed),
                              dtype=out.dtype)
    out.backward(grad_output)
    return out, index, x.grad


@pytest.mark.parametrize("dtype", rc.DTYPES, ids=rc.dtype_id)
@pytest.mark.parametrize("name", OPS)
def test_one_and_two_threads_agree(name, dtype, restore_num_threads):
    position_sensitive = name.startswith("ps_")
    for seed in range(300_000, 300_040):
        # Over 16 channels, so that the channel-blocked backward passes have
        # more than one block to share out; many RoIs for the forwards.
        case = rc.make_case(seed, dtype, position_sensitive=position_sensitive,
                            max_channels=64, max_rois=60)
        levels = [random.Random(seed).randint(1, 4) for _ in range(3)]
        what = f"{name} {rc.describe(case)}"
        one = forward_and_grad(name, case, levels, 1)
        two = forward_and_grad(name, case, levels, 2)
        rc.assert_bitwise_equal(two[0], one[0], what + " output")
        if one[1] is not None:
            rc.assert_bitwise_equal(two[1], one[1], what + " index output")
        rc.assert_bitwise_equal(two[2], one[2], what + " input grad")
