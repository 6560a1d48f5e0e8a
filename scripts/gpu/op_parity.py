#!/usr/bin/env python3
"""Parity of roiserve's CUDA kernels: torch.ops.roiserve on CUDA tensors against
roiserve's CPU kernels (the same library, CPU tensors) and torchvision's CUDA ops.

    python3 scripts/gpu/op_parity.py --lib build/ops/libroiserve_ops.so --json out.json

Checked per op (roi_align, roi_pool, ps_roi_pool, ps_roi_align, spp_roi_pool; nms):
forward outputs and input gradients on tests/python/roi_cases.py's random cases,
whose seeds cycle through every feature layout (channels-last, sliced, expanded,
transposed...); the backward ops with strided gradients; float16/bfloat16 against
float32; empty RoIs and empty feature maps; bit-identical gradients on repeated
runs under torch.use_deterministic_algorithms; float64 gradcheck; work on the
current stream; argument errors that leave the CUDA context usable.

Tolerances: the GPU contracts multiply-adds and its backward passes sum with
atomics in no fixed order, so floating-point results are compared within
rtol = atol / scale = 1e-5 (float32), 1e-12 (float64), where scale is
max(1, max |expected|), float16 / bfloat16 within one unit in their last place
of the float32 result; index outputs (argmax, channel mapping) and nms keep
lists must be equal. The counts of bit-identical results are reported too.

The deliberate differences from torchvision (tests/python/test_ps_ops.py) stay
out of the comparisons with it: ps_roi_align's NaN for RoIs without sample
points is 0 here, and ps_roi_pool's gradients are compared on RoIs away from
the bottom/right border only, where torchvision's backward is right.

--emulate runs the same checks on the CPU: torch.ops.roiserve_cuda_host (the
CUDA kernels run by libroiserve_cuda_host.so) against torch.ops.roiserve and
torchvision's CPU ops, so every line of this script runs on a machine without a
GPU (Debian's torch 1.13 / torchvision 0.14 there, torch 2.11 / torchvision 0.26
on the GPU machine). torchvision's CPU roi_align cannot evaluate some reversed
RoIs (it throws); those rows are left out of the comparison with it.

Exit status: 0 when every check ran and passed, 1 otherwise.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import platform
import random
import sys
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "python"))

import torch  # noqa: E402
import torchvision  # noqa: E402

import roi_cases as rc  # noqa: E402
from test_nms_boxes import random_boxes, random_scores  # noqa: E402
from test_ps_ops import BORDER_ROIS, interior_ps_roi_pool_case  # noqa: E402
from test_roi_pool import GRADCHECK_ROIS  # noqa: E402
from test_spp import random_levels  # noqa: E402

POOLING_OPS = ("roi_align", "roi_pool", "ps_roi_pool", "ps_roi_align", "spp_roi_pool")
TORCHVISION_OPS = ("roi_align", "roi_pool", "ps_roi_pool", "ps_roi_align")
REDUCED = (torch.float16, torch.bfloat16)
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}
# Reduced types: the float32 result rounded once, up to a unit in the last
# place of the reduced type (atomics may move the float32 sum across a
# rounding boundary).
REDUCED_TOLERANCE = {torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}


# ---------------------------------------------------------------------------
# Where the code under test runs


class Setup:
    """ours: the namespace under test, on `device`; cpu: roiserve's CPU
    kernels; tv: torchvision, on `device`."""

    def __init__(self, emulate):
        self.emulate = emulate
        self.device = torch.device("cpu" if emulate else "cuda")
        self.ours = getattr(torch.ops, rc.CUDA_HOST_NAMESPACE if emulate else "roiserve")
        self.cpu = torch.ops.roiserve
        self.tv = torch.ops.torchvision
        self.seeds = 70  # every layout x sampling ratio x aligned combination

    def to_device(self, tensor):
        """A copy of the tensor on the device in the same memory layout: the
        same strides and offset over a copy of the storage it spans, so that
        channels-last, sliced and expanded (stride 0) views stay what they are.
        (A copy on the CPU too, so that --emulate runs this path.)"""
        if tensor.numel() == 0:
            return torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype,
                                       device=self.device)
        extent = tensor.storage_offset() + 1 + sum(
            (size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
        span = torch.as_strided(tensor, (extent,), (1,), 0).to(self.device, copy=True)
        return span.as_strided(tensor.shape, tensor.stride(), tensor.storage_offset())

    def case_on_device(self, case):
        return replace(case, x=self.to_device(case.x), rois=self.to_device(case.rois))

    def synchronize(self):
        if not self.emulate:
            torch.cuda.synchronize()


# ---------------------------------------------------------------------------
# The ops, with a case's arguments


def replace(case, **changes):
    """dataclasses.replace that keeps the spp pyramid levels a case carries."""
    changed = dataclasses.replace(case, **changes)
    changed.levels = getattr(case, "levels", None)
    return changed


def run_op(name, ns, case, x=None):
    """The op's outputs as a tuple: (output,) or (output, index)."""
    x = case.x if x is None else x
    if name == "roi_align":
        return (ns.roi_align(x, case.rois, case.spatial_scale, case.pooled_h, case.pooled_w,
                             case.sampling_ratio, case.aligned),)
    if name == "roi_pool":
        return tuple(ns.roi_pool(x, case.rois, case.spatial_scale, case.pooled_h, case.pooled_w))
    if name == "ps_roi_pool":
        return tuple(ns.ps_roi_pool(x, case.rois, case.spatial_scale, case.pooled_h,
                                    case.pooled_w))
    if name == "ps_roi_align":
        return tuple(ns.ps_roi_align(x, case.rois, case.spatial_scale, case.pooled_h,
                                     case.pooled_w, case.sampling_ratio))
    if name == "spp_roi_pool":
        return tuple(ns.spp_roi_pool(x, case.rois, case.spatial_scale, case.levels))
    raise ValueError(name)


def run_backward_op(name, ns, case, grad, index):
    n, c, h, w = case.input_shape
    if name == "roi_align":
        return ns._roi_align_backward(grad, case.rois, case.spatial_scale, case.pooled_h,
                                      case.pooled_w, n, c, h, w, case.sampling_ratio,
                                      case.aligned)
    if name == "roi_pool":
        return ns._roi_pool_backward(grad, case.rois, index, case.spatial_scale, case.pooled_h,
                                     case.pooled_w, n, c, h, w)
    if name == "ps_roi_pool":
        return ns._ps_roi_pool_backward(grad, case.rois, index, case.spatial_scale,
                                        case.pooled_h, case.pooled_w, n, c, h, w)
    if name == "ps_roi_align":
        return ns._ps_roi_align_backward(grad, case.rois, index, case.spatial_scale,
                                         case.pooled_h, case.pooled_w, case.sampling_ratio,
                                         n, c, h, w)
    if name == "spp_roi_pool":
        return ns._spp_roi_pool_backward(grad, case.rois, index, case.spatial_scale,
                                         case.levels, n, c, h, w)
    raise ValueError(name)


def make_op_case(name, seed, dtype, values="normal"):
    case = rc.make_case(seed, dtype, position_sensitive=name.startswith("ps_"), values=values)
    case.levels = random_levels(random.Random(seed)) if name == "spp_roi_pool" else None
    return case


def seeded_grad(shape, dtype, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def input_grad(name, ns, case, grad_output):
    x = case.x.detach().requires_grad_(True)
    run_op(name, ns, case, x)[0].backward(grad_output)
    return x.grad


def values_for(name):
    # Ties (quantized values) test max pooling's choice of the first maximum.
    return ("normal", "quantized") if name in ("roi_pool", "spp_roi_pool") else ("normal",)


# ---------------------------------------------------------------------------
# Comparison


class Tally:
    """What a check compared: cases, and how many results were bit-identical."""

    def __init__(self):
        self.cases = 0
        self.compared = 0
        self.bit_identical = 0
        self.max_abs_diff = 0.0
        self.notes = []

    def summary(self):
        text = f"{self.cases} cases"
        if self.compared:
            text += f", {self.bit_identical}/{self.compared} results bit-identical"
        if self.compared > self.bit_identical:
            text += f", max |diff| {self.max_abs_diff:.3g}"
        return "; ".join([text] + self.notes)


def assert_matches(tally, actual, expected, what, tolerance=None, same_layout=False):
    """actual (on any device) against expected: floating point within
    tolerance (default: TOLERANCE of the dtype), anything else equal."""
    assert actual.shape == expected.shape, (
        f"{what}: shape {list(actual.shape)} != {list(expected.shape)}")
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if same_layout:
        for memory_format in (torch.contiguous_format, torch.channels_last):
            if actual.dim() == 4 and actual.numel() > 0:
                assert (actual.is_contiguous(memory_format=memory_format)
                        == expected.is_contiguous(memory_format=memory_format)), (
                    f"{what}: output layout (strides {actual.stride()}) differs from the CPU "
                    f"kernel's ({expected.stride()})")
    a = actual.detach().cpu()
    e = expected.detach().cpu()
    tally.compared += 1
    if not a.is_floating_point():
        if not torch.equal(a, e):
            differs = (a != e).flatten()
            first = int(differs.nonzero()[0])
            raise AssertionError(
                f"{what}: {int(differs.sum())}/{a.numel()} elements differ; first at flat "
                f"index {first}: {a.flatten()[first].item()} vs {e.flatten()[first].item()}")
        tally.bit_identical += 1
        return
    same = (a == e) | (a.isnan() & e.isnan())
    if bool(same.all()):
        tally.bit_identical += 1
        return
    tolerance = TOLERANCE[a.dtype] if tolerance is None else tolerance
    finite = e[e.isfinite()]
    scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
    both_finite = a.isfinite() & e.isfinite()
    if bool(both_finite.any()):
        diff = float((a[both_finite].double() - e[both_finite].double()).abs().max())
        tally.max_abs_diff = max(tally.max_abs_diff, diff)
    torch.testing.assert_close(a, e, rtol=tolerance, atol=tolerance * scale, equal_nan=True,
                               msg=lambda m: f"{what}: {m}")


@contextlib.contextmanager
def deterministic_algorithms():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


# ---------------------------------------------------------------------------
# Checks: each a generator of (name, function(setup, tally)), run one by one.


def forward_vs_cpu(setup):
    for name in POOLING_OPS:
        for dtype in rc.DTYPES:
            def check(s, tally, name=name, dtype=dtype):
                for values in values_for(name):
                    for seed in range(s.seeds):
                        case = make_op_case(name, seed, dtype, values)
                        ours = run_op(name, s.ours, s.case_on_device(case))
                        expected = run_op(name, s.cpu, case)
                        tally.cases += 1
                        for i, (out, exp) in enumerate(zip(ours, expected)):
                            assert_matches(tally, out, exp,
                                           f"{name} output {i} ({values}), {rc.describe(case)}",
                                           same_layout=True)
            yield f"forward_vs_cpu[{name},{rc.dtype_id(dtype)}]", check


def grad_vs_cpu(setup):
    for name in POOLING_OPS:
        for dtype in rc.DTYPES:
            def check(s, tally, name=name, dtype=dtype):
                for seed in range(100_000, 100_000 + s.seeds):
                    case = make_op_case(name, seed, dtype)
                    out = run_op(name, s.cpu, case)[0]
                    grad_output = seeded_grad(tuple(out.shape), dtype, seed)
                    expected = input_grad(name, s.cpu, case, grad_output)
                    ours = input_grad(name, s.ours, s.case_on_device(case),
                                      s.to_device(grad_output))
                    tally.cases += 1
                    assert_matches(tally, ours, expected,
                                   f"{name} input grad, {rc.describe(case)}", same_layout=True)
            yield f"grad_vs_cpu[{name},{rc.dtype_id(dtype)}]", check


FLAT_GRAD_LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")


def make_flat_grad(shape, dtype, seed, layout):
    """A gradient of spp_roi_pool's [K, W] output in a layout the backward must read."""
    k, width = shape
    if layout == "contiguous":
        return seeded_grad(shape, dtype, seed)
    if layout == "transposed":
        return seeded_grad((width, k), dtype, seed).t()
    if layout == "sliced":
        return seeded_grad((k, 2 * width), dtype, seed)[:, ::2]
    if layout == "expanded":
        return seeded_grad((1, 1), dtype, seed).expand(shape)
    raise ValueError(layout)


def backward_strided_grad(setup):
    for name in POOLING_OPS:
        for dtype in rc.DTYPES:
            def check(s, tally, name=name, dtype=dtype):
                for seed in range(200_000, 200_000 + max(2, s.seeds // 7)):
                    case = make_op_case(name, seed, dtype, values_for(name)[-1])
                    outputs = run_op(name, s.cpu, case)
                    index = outputs[1] if len(outputs) > 1 else None
                    device_case = s.case_on_device(case)
                    device_index = None if index is None else s.to_device(index)
                    shape = tuple(outputs[0].shape)
                    for layout in rc.GRAD_LAYOUTS if len(shape) == 4 else FLAT_GRAD_LAYOUTS:
                        if len(shape) == 4:
                            grad = rc.make_grad(torch.Generator().manual_seed(seed), shape,
                                                dtype, layout)
                        else:
                            grad = make_flat_grad(shape, dtype, seed, layout)
                        expected = run_backward_op(name, s.cpu, case, grad, index)
                        ours = run_backward_op(name, s.ours, device_case, s.to_device(grad),
                                               device_index)
                        tally.cases += 1
                        assert_matches(tally, ours, expected,
                                       f"_{name}_backward grad={layout}, {rc.describe(case)}")
            yield f"backward_strided_grad[{name},{rc.dtype_id(dtype)}]", check


def torchvision_rows(s, name, case):
    """The rows of the case's RoIs that torchvision can evaluate (its CPU
    roi_align throws on reversed RoIs with aligned adaptive sampling)."""
    try:
        run_op(name, s.tv, case)
        return torch.ones(case.rois.shape[0], dtype=torch.bool)
    except (RuntimeError, ValueError):
        pass
    rows = []
    for row in case.rois.split(1):
        try:
            run_op(name, s.tv, replace(case, rois=row))
            rows.append(True)
        except (RuntimeError, ValueError):
            rows.append(False)
    return torch.tensor(rows, dtype=torch.bool)


def restricted(s, name, case):
    """The device case without the rows torchvision cannot evaluate."""
    supported = torchvision_rows(s, name, case)
    if bool(supported.all()):
        return case, 0
    kept = replace(case, rois=case.rois[supported.to(case.rois.device)])
    return kept, int((~supported).sum())


def forward_vs_torchvision(setup):
    for name in TORCHVISION_OPS:
        for dtype in rc.DTYPES:
            def check(s, tally, name=name, dtype=dtype):
                left_out = 0
                for seed in range(s.seeds):
                    case, dropped = restricted(
                        s, name, s.case_on_device(make_op_case(name, seed, dtype)))
                    left_out += dropped
                    ours = run_op(name, s.ours, case)
                    expected = run_op(name, s.tv, case)
                    tally.cases += 1
                    what = f"{name} vs torchvision, {rc.describe(case)}"
                    if name == "ps_roi_align":
                        # Deliberate difference (tests/python/test_ps_ops.py):
                        # torchvision's 0/0 NaN is 0 here.
                        nan = expected[0].isnan()
                        assert not bool(ours[0].isnan().any()), what + ": NaN in the output"
                        expected = (expected[0].masked_fill(nan, 0),) + tuple(expected[1:])
                    for i, (out, exp) in enumerate(zip(ours, expected)):
                        assert_matches(tally, out, exp, f"{what} output {i}")
                if left_out:
                    tally.notes.append(f"{left_out} RoIs torchvision cannot evaluate left out")
            yield f"forward_vs_torchvision[{name},{rc.dtype_id(dtype)}]", check


def grad_vs_torchvision(setup):
    for name in TORCHVISION_OPS:
        for dtype in rc.DTYPES:
            def check(s, tally, name=name, dtype=dtype):
                for seed in range(100_000, 100_000 + s.seeds):
                    if name == "ps_roi_pool":
                        # torchvision's backward is wrong at the bottom/right
                        # border (tests/python/test_ps_ops.py): interior bins only.
                        case = interior_ps_roi_pool_case(seed, dtype)
                        case.levels = None
                    else:
                        case = make_op_case(name, seed, dtype)
                    case, _ = restricted(s, name, s.case_on_device(case))
                    out = run_op(name, s.tv, case)[0]
                    grad_output = s.to_device(seeded_grad(tuple(out.shape), dtype, seed))
                    ours = input_grad(name, s.ours, case, grad_output)
                    expected = input_grad(name, s.tv, case, grad_output)
                    tally.cases += 1
                    assert_matches(tally, ours, expected,
                                   f"{name} input grad vs torchvision, {rc.describe(case)}")
            yield f"grad_vs_torchvision[{name},{rc.dtype_id(dtype)}]", check


def spp_vs_torchvision(setup):
    def check(s, tally):
        for seed in range(s.seeds):
            case = s.case_on_device(make_op_case("spp_roi_pool", seed, torch.float32))
            ours = run_op("spp_roi_pool", s.ours, case)
            outs, args = [], []
            for level in case.levels:
                out, arg = s.tv.roi_pool(case.x, case.rois, case.spatial_scale, level, level)
                outs.append(out.flatten(1))
                args.append(arg.flatten(1))
            tally.cases += 1
            what = f"spp_roi_pool vs concatenated torchvision roi_pool, levels={case.levels}, " \
                   f"{rc.describe(case)}"
            assert_matches(tally, ours[0], torch.cat(outs, 1), what + " output")
            assert_matches(tally, ours[1], torch.cat(args, 1), what + " argmax")
    yield "spp_vs_torchvision[float32]", check


def nms_checks(setup):
    for dtype in rc.DTYPES:
        def check(s, tally, dtype=dtype):
            rng = random.Random(11)
            gen = torch.Generator().manual_seed(11)
            for trial in range(s.seeds):
                count = rng.choice((0, 1, 2, rng.randint(3, 40), rng.randint(40, 400),
                                    rng.randint(1000, 5000)))
                boxes = random_boxes(rng, gen, count, dtype)
                scores = random_scores(gen, count, dtype, rng.choice(("distinct", "ties")))
                for threshold in (0.0, 0.3, 0.5, 0.7, 1.0):
                    what = f"nms trial={trial} N={count} iou_threshold={threshold}"
                    ours = s.ours.nms(s.to_device(boxes), s.to_device(scores), threshold)
                    tally.cases += 1
                    assert_matches(tally, ours, s.cpu.nms(boxes, scores, threshold),
                                   what + " vs CPU")
                    assert_matches(tally, ours, s.tv.nms(s.to_device(boxes),
                                                         s.to_device(scores), threshold),
                                   what + " vs torchvision")
        yield f"nms[{rc.dtype_id(dtype)}]", check


def reduced_precision(setup):
    # tests/python/test_reduced_precision.py's features and RoIs (98 channels:
    # 2 x 7 x 7 for the position-sensitive ops), in both layouts.
    for name in POOLING_OPS:
        for dtype in REDUCED:
            def check(s, tally, name=name, dtype=dtype):
                gen = torch.Generator().manual_seed(7)
                base = torch.randn(2, 98, 20, 24, generator=gen)
                rois = torch.tensor([[0, 1.0, 1.0, 60.0, 70.0], [1, 10.0, 5.0, 90.0, 80.0],
                                     [0, 30.0, 40.0, 33.0, 41.0], [1, -8.0, 3.0, 20.0, 120.0]])
                for layout in (torch.contiguous_format, torch.channels_last):
                    x = s.to_device(base.to(dtype).contiguous(memory_format=layout))
                    case = rc.RoiCase(0, x, s.to_device(rois.to(dtype)), 0.25, 7, 7, 2, True,
                                      str(layout))
                    case.levels = [1, 2, 4]
                    full = replace(case, x=x.float(), rois=case.rois.float())
                    reduced = x.detach().requires_grad_(True)
                    out = run_op(name, s.ours, case, reduced)
                    out[0].float().sum().backward()
                    full_x = full.x.detach().requires_grad_(True)
                    expected = run_op(name, s.ours, full, full_x)
                    expected[0].sum().backward()
                    tolerance = REDUCED_TOLERANCE[dtype]
                    tally.cases += 1
                    what = f"{name} {rc.dtype_id(dtype)} {layout}"
                    assert_matches(tally, out[0], expected[0].to(dtype), what + " output",
                                   tolerance)
                    if len(out) > 1:
                        assert_matches(tally, out[1], expected[1], what + " index")
                    assert_matches(tally, reduced.grad, full_x.grad.to(dtype), what + " grad",
                                   tolerance)
            yield f"reduced_precision[{name},{rc.dtype_id(dtype)}]", check


EMPTY_N, EMPTY_H, EMPTY_W, EMPTY_PH, EMPTY_PW = 2, 5, 6, 2, 3


def empty_inputs(setup):
    for name in POOLING_OPS:
        def check(s, tally, name=name):
            c = 2 * EMPTY_PH * EMPTY_PW
            for dtype in rc.DTYPES:
                for layout in ("contiguous", "channels_last"):
                    x = rc.make_features(torch.Generator().manual_seed(3),
                                         (EMPTY_N, c, EMPTY_H, EMPTY_W), dtype, layout)
                    no_rois = torch.zeros(0, 5, dtype=dtype)
                    case = rc.RoiCase(0, s.to_device(x), s.to_device(no_rois), 0.5, EMPTY_PH,
                                      EMPTY_PW, 2, True, layout)
                    case.levels = [1, 2]
                    leaf = case.x.detach().requires_grad_(True)
                    outputs = run_op(name, s.ours, case, leaf)
                    expected = run_op(name, s.cpu, replace(case, x=x, rois=no_rois))
                    for out, exp in zip(outputs, expected):
                        assert_matches(tally, out, exp, f"{name} K=0 {dtype} {layout}")
                    outputs[0].sum().backward()
                    assert bool((leaf.grad == 0).all()), f"{name} K=0: nonzero gradient"
                    tally.cases += 1
            for shape in ((EMPTY_N, c, 0, EMPTY_W), (EMPTY_N, c, EMPTY_H, 0)):
                rois = torch.tensor([[0, 0, 0, 4, 4], [1, -1, 2, 3, 9]], dtype=torch.float32)
                case = rc.RoiCase(0, s.to_device(torch.zeros(shape)), s.to_device(rois), 0.5,
                                  EMPTY_PH, EMPTY_PW, 2, True, "contiguous")
                case.levels = [1, 2]
                outputs = run_op(name, s.ours, case)
                expected = run_op(name, s.cpu, replace(
                    case, x=torch.zeros(shape), rois=rois))
                for out, exp in zip(outputs, expected):
                    assert_matches(tally, out, exp, f"{name} empty map {list(shape)}")
                tally.cases += 1
        yield f"empty_inputs[{name}]", check


def crowded_case(name, seed, layout):
    """300 overlapping RoIs on a 2 x C x 24 x 24 map (C = 4 x 3 x 3 for the
    position-sensitive ops), 3 x 3 bins: backward atomics contend."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    c = 4 * 3 * 3 if name.startswith("ps_") else 16
    x = rc.make_features(gen, (2, c, 24, 24), torch.float32, layout)
    rois = rc.make_rois(rng, 300, 2, 24, 24, 0.5, torch.float32, kinds=("inside", "partial"))
    case = rc.RoiCase(seed, x, rois, 0.5, 3, 3, 2, False, layout)
    case.levels = [1, 2, 3]
    return case


def deterministic_mode(setup):
    for name in POOLING_OPS:
        def check(s, tally, name=name):
            for layout in ("contiguous", "channels_last"):
                case = crowded_case(name, 5, layout)
                device_case = s.case_on_device(case)
                out = run_op(name, s.cpu, case)[0]
                grad_output = seeded_grad(tuple(out.shape), torch.float32, 9)
                device_grad = s.to_device(grad_output)
                with deterministic_algorithms():
                    runs = [input_grad(name, s.ours, device_case, device_grad) for _ in range(3)]
                    forwards = [run_op(name, s.ours, device_case) for _ in range(2)]
                for i, run in enumerate(runs[1:], 2):
                    assert torch.equal(run, runs[0]), (
                        f"{name} {layout}: deterministic run {i} differs from run 1 by "
                        f"{float((run - runs[0]).abs().max()):.3g}")
                for a, b in zip(*forwards):
                    assert torch.equal(a, b), f"{name} {layout}: forward differs between runs"
                expected = input_grad(name, s.cpu, case, grad_output)
                assert_matches(tally, runs[0], expected, f"{name} {layout} deterministic vs CPU")
                assert_matches(tally, input_grad(name, s.ours, device_case, device_grad),
                               expected, f"{name} {layout} default mode vs CPU")
                tally.cases += 1
        yield f"deterministic[{name}]", check


def gradcheck(setup):
    gradcheck_rois = torch.tensor(GRADCHECK_ROIS, dtype=torch.float64)
    ps_rois = torch.tensor(BORDER_ROIS + [[1, -3.0, -2.0, 3.0, 2.5], [1, 1.0, 1.0, 1.0, 1.0],
                                          [0, 4.0, 4.0, 1.0, 2.0], [1, 20.0, 20.0, 30.0, 30.0]],
                           dtype=torch.float64)

    def functions(s):
        """(description, function of x, x) for every op's small cases."""
        gen = torch.Generator().manual_seed(1)
        rois = s.to_device(gradcheck_rois)
        for layout in ("contiguous", "channels_last"):
            x = s.to_device(rc.make_features(gen, (2, 2, 6, 7), torch.float64, layout))
            separated = s.to_device(
                rc.make_features(gen, (2, 2, 6, 7), torch.float64, layout, "separated"))
            for scale in (1.0, 0.5):
                for sampling_ratio in (-1, 0, 2):
                    for aligned in (False, True):
                        yield (f"roi_align {layout} scale={scale} sr={sampling_ratio} "
                               f"aligned={aligned}",
                               lambda t, scale=scale, sr=sampling_ratio, al=aligned:
                               s.ours.roi_align(t, rois, scale, 3, 2, sr, al), x)
                for pooled in ((1, 1), (2, 3)):
                    yield (f"roi_pool {layout} scale={scale} pooled={pooled}",
                           lambda t, scale=scale, p=pooled: s.ours.roi_pool(t, rois, scale, *p)[0],
                           separated)
                for levels in ([1], [1, 2, 4], [3, 1, 3]):
                    yield (f"spp_roi_pool {layout} scale={scale} levels={levels}",
                           lambda t, scale=scale, lv=levels: s.ours.spp_roi_pool(
                               t, rois, scale, lv)[0], separated)
        device_ps_rois = s.to_device(ps_rois)
        for ph, pw in ((1, 1), (2, 3)):
            x = s.to_device(torch.randn(2, 2 * ph * pw, 6, 7, generator=gen, dtype=torch.float64))
            for scale in (1.0, 0.5):
                yield (f"ps_roi_pool pooled={ph}x{pw} scale={scale}",
                       lambda t, scale=scale, ph=ph, pw=pw: s.ours.ps_roi_pool(
                           t, device_ps_rois, scale, ph, pw)[0], x)
                for sampling_ratio in (-1, 0, 2):
                    yield (f"ps_roi_align pooled={ph}x{pw} scale={scale} sr={sampling_ratio}",
                           lambda t, scale=scale, ph=ph, pw=pw, sr=sampling_ratio:
                           s.ours.ps_roi_align(t, device_ps_rois, scale, ph, pw, sr)[0], x)

    for name in POOLING_OPS:
        def check(s, tally, name=name):
            for description, function, x in functions(s):
                if not description.startswith(name + " "):
                    continue
                tally.cases += 1
                try:
                    # Atomics make repeated backward passes differ by rounding.
                    torch.autograd.gradcheck(function, (x.detach().requires_grad_(True),),
                                             nondet_tol=1e-10)
                except NotImplementedError:
                    raise
                except RuntimeError as error:
                    raise AssertionError(f"{description}: {error}") from None
        yield f"gradcheck[{name}]", check


def current_stream(setup):
    """The kernels run on the current stream: inputs made on a side stream
    behind a long sleep are read only once they are ready."""
    if setup.emulate:
        return
    for name in POOLING_OPS:
        def check(s, tally, name=name):
            device_case = s.case_on_device(crowded_case(name, 3, "channels_last"))
            expected = run_op(name, s.ours, device_case)
            grad_output = s.to_device(seeded_grad(tuple(expected[0].shape), torch.float32, 3))
            expected_grad = input_grad(name, s.ours, device_case, grad_output)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                torch.cuda._sleep(100_000_000)
                late = replace(device_case, x=device_case.x.clone())
                outputs = run_op(name, s.ours, late)
                grad = input_grad(name, s.ours, late, grad_output)
            torch.cuda.synchronize()
            tally.cases += 1
            for out, exp in zip(outputs, expected):
                assert_matches(tally, out, exp, f"{name} on a side stream")
            assert_matches(tally, grad, expected_grad, f"{name} grad on a side stream")
        yield f"current_stream[{name}]", check


def argument_errors(setup):
    """A batch index out of range raises IndexError as on the CPU, RoIs on
    another device than the features raise, and the device stays usable
    afterwards (no device-side assert or stray access poisons the context)."""
    for name in POOLING_OPS:
        def check(s, tally, name=name):
            case = make_op_case(name, 4, torch.float32)
            case.rois = torch.tensor([[0, 1.0, 1.0, 5.0, 5.0], [7, 1.0, 1.0, 5.0, 5.0]])
            bad = [("batch index out of range", s.case_on_device(case))]
            if not s.emulate:
                mixed = s.case_on_device(case)
                mixed.rois = case.rois[:1]  # valid, but on the CPU
                bad.append(("rois on the CPU", mixed))
            for what, device_case in bad:
                try:
                    run_op(name, s.ours, device_case)
                except NotImplementedError:
                    raise
                except Exception as error:  # noqa: BLE001 - the type is the point
                    tally.notes.append(f"{what}: {type(error).__name__}")
                    if what == "batch index out of range":
                        assert isinstance(error, IndexError), (
                            f"{name} {what}: {type(error).__name__} ({error}), where the CPU "
                            f"kernels raise IndexError")
                else:
                    raise AssertionError(f"{name} {what}: no error")
                s.synchronize()
            good = s.case_on_device(make_op_case(name, 5, torch.float32))
            run_op(name, s.ours, good)
            s.synchronize()
            tally.cases += 1
        yield f"argument_errors[{name}]", check


CHECK_GROUPS = (forward_vs_cpu, grad_vs_cpu, backward_strided_grad, forward_vs_torchvision,
                grad_vs_torchvision, spp_vs_torchvision, nms_checks, reduced_precision,
                empty_inputs, deterministic_mode, gradcheck, current_stream, argument_errors)


# ---------------------------------------------------------------------------
# Running


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", type=Path, required=True, help="libroiserve_ops.so")
    parser.add_argument("--emulate", type=Path, metavar="LIBROISERVE_CUDA_HOST",
                        help="run on the CPU against this libroiserve_cuda_host.so")
    parser.add_argument("--quick", action="store_true",
                        help="a few cases per check (for compute-sanitizer)")
    parser.add_argument("--only", default="",
                        help="comma-separated substrings: run the checks whose names contain one")
    parser.add_argument("--time-limit", type=float, default=0,
                        help="seconds; checks not started by then are reported as skipped")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args()


def environment(setup):
    info = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version(),
            "mode": "emulate" if setup.emulate else "cuda"}
    if not setup.emulate:
        info["device"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def main():
    args = parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch.ops.load_library(str(args.lib))
    if args.emulate:
        torch.ops.load_library(str(args.emulate))
    elif not torch.cuda.is_available():
        print("op_parity: no CUDA device (use --emulate LIB to run on the CPU)", file=sys.stderr)
        return 2
    setup = Setup(emulate=args.emulate is not None)
    if args.quick:
        setup.seeds = 7
    only = [part for part in args.only.split(",") if part]
    started = time.monotonic()
    results = []
    for group in CHECK_GROUPS:
        for name, check in group(setup):
            if only and not any(part in name for part in only):
                continue
            if args.time_limit and time.monotonic() - started > args.time_limit:
                results.append({"name": name, "status": "skipped", "detail": "time limit"})
                continue
            tally = Tally()
            begin = time.monotonic()
            trace = None
            try:
                check(setup, tally)
                setup.synchronize()
                status, detail = "passed", tally.summary()
            except NotImplementedError as error:
                # The op has no kernel for the device (yet): one line says which.
                status, detail = "not_implemented", str(error).split(". ")[0]
            except AssertionError as error:
                status, detail = "failed", str(error)[:2000]
            except Exception as error:  # noqa: BLE001 - reported, and the next check runs
                status = "error"
                detail = f"{type(error).__name__}: {str(error).splitlines()[0][:500]}"
                trace = traceback.format_exc(limit=6)[-3000:]
            seconds = time.monotonic() - begin
            result = {"name": name, "status": status, "seconds": round(seconds, 3),
                      "detail": detail}
            if trace:
                result["traceback"] = trace
            results.append(result)
            headline = detail.splitlines()[0] if detail else ""
            print(f"{status:7s} {name} ({seconds:.1f} s): {headline}", flush=True)
    counts = {status: sum(r["status"] == status for r in results)
              for status in ("passed", "failed", "not_implemented", "error", "skipped")}
    report = {"environment": environment(setup), "quick": args.quick, "counts": counts,
              "seconds": round(time.monotonic() - started, 1), "checks": results}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"op_parity: {counts}", flush=True)
    # Checks skipped for time were not run: the run is incomplete, not passed.
    return 0 if results and counts["passed"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
