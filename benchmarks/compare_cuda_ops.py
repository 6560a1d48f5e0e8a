#!/usr/bin/env python3
"""Times roiserve's and torchvision's CUDA RoI ops side by side, in one process,
on the FPN workload of benchmarks/fpn_workload.cpp (compare_torchvision.py's
tensors, recipe and seed, moved to the GPU).

    python3 benchmarks/compare_cuda_ops.py --lib build/ops/libroiserve_ops.so [--json out.json]

Every op runs forward and forward + backward (autograd, a fixed output
gradient), on contiguous and on channels-last features; both libraries get the
same tensors (torchvision's CUDA kernels make channels-last input contiguous
first, and that copy is part of their time). spp_roi_pool has no torchvision
counterpart and is timed alone. Outputs are compared before timing (rtol/atol
1e-5 of the largest value; index outputs equal); a disagreement is reported in
the row, and the row is timed anyway (scripts/gpu/op_parity.py is the
correctness check).

Timing: CUDA events around `--inner` back-to-back calls, after `--warmup` calls;
the median over `--repetitions` such samples, divided by --inner, is the time of
one call, outputs' allocation (from PyTorch's caching allocator) included.

Bytes moved per call, the model behind the GB/s column: every input read once
in full (features, RoIs, and for backward the output gradient and the argmax or
channel mapping) plus every output written once (forward outputs; the input
gradient). It is a yardstick, not the traffic: roi_align, roi_pool and
spp_roi_pool read the features of overlapping RoIs more than once (from L2 at
best), and the zero-filling of the gradient is not counted, so their GB/s
understate the traffic; the position-sensitive ops read only one channel group
per bin, so "all features once" overstates theirs. The copy bandwidth it is set
against is measured in the same run: a device-to-device copy of a 1 GiB tensor,
counted as read + write.

--emulate LIB times the CUDA kernels run on the CPU (libroiserve_cuda_host.so)
against torchvision's CPU ops on a slice of the workload (8 channels, 64 RoIs),
with wall-clock timing: a smoke test of this script on a machine without a GPU,
not a benchmark.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_torchvision as cpu_benchmark  # noqa: E402  (the workload's recipe)

SCALE = cpu_benchmark.SPATIAL_SCALE
POOLED = cpu_benchmark.POOLED_SIZE
SAMPLING_RATIO = cpu_benchmark.SAMPLING_RATIO
SPP_LEVELS = [1, 2, 4]
RTOL = ATOL = 1e-5
COPY_BYTES = 1 << 30


class Row(NamedTuple):
    op: str
    layout: str
    roiserve: Optional[Callable[[], list]]  # None: the op has no kernel for the device
    torchvision: Optional[Callable[[], list]]
    bytes: int
    not_implemented: str = ""
    # How many leading outputs to compare with torchvision's (None: all).
    compared: Optional[int] = None


def nbytes(*tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def forward_fns(ns, features, ps_features, rois):
    """op -> function returning the op's outputs as a list."""
    return {
        "roi_align": lambda: [ns.roi_align(features, rois, SCALE, POOLED, POOLED,
                                           SAMPLING_RATIO, True)],
        "roi_pool": lambda: list(ns.roi_pool(features, rois, SCALE, POOLED, POOLED)),
        "ps_roi_pool": lambda: list(ns.ps_roi_pool(ps_features, rois, SCALE, POOLED, POOLED)),
        "ps_roi_align": lambda: list(ns.ps_roi_align(ps_features, rois, SCALE, POOLED, POOLED,
                                                     SAMPLING_RATIO)),
        "spp_roi_pool": lambda: list(ns.spp_roi_pool(features, rois, SCALE, SPP_LEVELS)),
    }


def input_of(op, features, ps_features):
    return ps_features if op.startswith("ps_") else features


def forward_backward(forward, op, features, ps_features, grad_output):
    """forward through autograd and backward with grad_output: (outputs, input grad)."""
    def run():
        x = input_of(op, features, ps_features).detach().requires_grad_()
        outputs = forward(x)
        outputs[0].backward(grad_output)
        return [o.detach() for o in outputs] + [x.grad]
    return run


def forward_with_input(ns, op, rois):
    def forward(x):
        return forward_fns(ns, x, x, rois)[op]()
    return forward


def rows_for(ours, tv, workload, layout, grads):
    memory_format = torch.channels_last if layout == "channels-last" else torch.contiguous_format
    features = workload.features.contiguous(memory_format=memory_format)
    ps_features = workload.position_sensitive_features.contiguous(memory_format=memory_format)
    rois = workload.rois
    ours_forward = forward_fns(ours, features, ps_features, rois)
    tv_forward = forward_fns(tv, features, ps_features, rois)
    rows = []
    for op, run in ours_forward.items():
        try:
            outputs = run()
        except NotImplementedError as error:
            rows.append(missing(f"{op} fwd", layout, error))
            rows.append(missing(f"{op} fwd+bwd", layout, error))
            continue
        x = input_of(op, features, ps_features)
        forward_bytes = nbytes(x, rois, *outputs)
        reference = tv_forward[op] if op != "spp_roi_pool" else None
        rows.append(Row(f"{op} fwd", layout, run, reference, forward_bytes))
        grad = grads[op]
        index = outputs[1:]  # argmax / channel mapping, read by the backward
        backward_bytes = nbytes(grad, rois, *index, x)
        rows.append(Row(
            f"{op} fwd+bwd", layout,
            forward_backward(forward_with_input(ours, op, rois), op, features, ps_features, grad),
            None if reference is None else forward_backward(
                forward_with_input(tv, op, rois), op, features, ps_features, grad),
            forward_bytes + backward_bytes,
            # torchvision's ps_roi_pool gradient is wrong for bins at the
            # bottom/right border (tests/python/test_ps_ops.py): forward only.
            compared=len(outputs) if op == "ps_roi_pool" else None))
    return rows


def missing(op, layout, error):
    """A row for an op without a kernel for the device: reported, not timed."""
    return Row(op, layout, None, None, 0, str(error).split(". ")[0])


def nms_row(ours, tv, workload):
    boxes, scores = workload.nms_boxes, workload.nms_scores
    threshold = cpu_benchmark.NMS_THRESHOLD
    try:
        keep = ours.nms(boxes, scores, threshold)
    except NotImplementedError as error:
        return missing("nms", "-", error)
    return Row("nms", "-", lambda: [ours.nms(boxes, scores, threshold)],
               lambda: [tv.nms(boxes, scores, threshold)], nbytes(boxes, scores, keep))


def output_gradients(workload, features, ps_features, ours):
    """A fixed output gradient per op: the workload's for roi_align and
    roi_pool (compare_torchvision.py's), seeded draws for the others."""
    gen = torch.Generator().manual_seed(1)
    grads = {}
    for op, run in forward_fns(ours, features, ps_features, workload.rois).items():
        try:
            shape = tuple(run()[0].shape)
        except NotImplementedError:
            continue  # its rows say so
        if shape == tuple(workload.grad_output.shape):
            grads[op] = workload.grad_output
        else:
            grads[op] = torch.randn(shape, generator=gen).to(features.device)
    return grads


def disagreement(ours, theirs) -> Optional[str]:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"output {i}: {a.dtype} {tuple(a.shape)} vs {b.dtype} {tuple(b.shape)}"
        if a.is_floating_point():
            scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
            if not torch.allclose(a, b, rtol=RTOL, atol=ATOL * scale, equal_nan=True):
                return f"output {i}: max |diff| {float((a - b).abs().max()):.3g}"
        elif not torch.equal(a, b):
            return f"output {i}: {int((a != b).sum())} of {a.numel()} elements differ"
    return None


class Timer:
    def __init__(self, cuda, warmup, repetitions, inner):
        self.cuda, self.warmup, self.repetitions, self.inner = cuda, warmup, repetitions, inner

    def ms_per_call(self, fn) -> float:
        for _ in range(self.warmup):
            fn()
        samples = []
        for _ in range(self.repetitions):
            if self.cuda:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(self.inner):
                    fn()
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end) / self.inner)
            else:
                begin = time.perf_counter()
                for _ in range(self.inner):
                    fn()
                samples.append(1e3 * (time.perf_counter() - begin) / self.inner)
        return statistics.median(samples)


def copy_bandwidth_gbps(timer, device) -> float:
    """Device-to-device copy of COPY_BYTES (1 MiB on the CPU smoke run), read + write."""
    size = COPY_BYTES if device.type == "cuda" else 1 << 20
    source = torch.empty(size // 4, dtype=torch.float32, device=device).fill_(1.0)
    target = torch.empty_like(source)
    ms = timer.ms_per_call(lambda: target.copy_(source))
    return 2 * size / (ms * 1e-3) / 1e9


def smoke_slice(workload):
    """A small slice of the workload for the CPU smoke run."""
    rois = workload.rois[:64]
    return workload._replace(
        features=workload.features[:, :8].contiguous(),
        position_sensitive_features=workload.position_sensitive_features[:, :2 * 49].contiguous(),
        rois=rois, grad_output=workload.grad_output[:64, :8].contiguous())


def row_markdown(r) -> str:
    def number(value, form):
        return "—" if value is None else format(value, form)

    speedup = "—" if r["speedup"] is None else f"{r['speedup']:.2f}×"
    share = "—" if r["fraction_of_copy"] is None else f"{100 * r['fraction_of_copy']:.0f}%"
    return (f"| {r['op']} | {r['layout']} | {number(r['torchvision_ms'], '.3f')} | "
            f"{number(r['roiserve_ms'], '.3f')} | {speedup} | {number(r['roiserve_gbps'], '.0f')} "
            f"| {share} | {r['agreement']} |")


def markdown(result) -> str:
    lines = [f"Copy bandwidth (device-to-device, read + write): {result['copy_gbps']:.0f} GB/s",
             "",
             "| op | layout | torchvision ms | roiserve ms | speed-up (tv/roiserve) | "
             "roiserve GB/s | of copy bandwidth | outputs |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        lines.append(row_markdown(r))
    return "\n".join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", type=Path, required=True, help="libroiserve_ops.so")
    parser.add_argument("--emulate", type=Path, metavar="LIBROISERVE_CUDA_HOST",
                        help="smoke run on the CPU against this libroiserve_cuda_host.so")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--inner", type=int, default=10, help="calls per timed sample")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.ops.load_library(str(args.lib))
    if args.emulate:
        torch.ops.load_library(str(args.emulate))
        ours, device = torch.ops.roiserve_cuda_host, torch.device("cpu")
    elif torch.cuda.is_available():
        ours, device = torch.ops.roiserve, torch.device("cuda")
    else:
        print("compare_cuda_ops: no CUDA device (use --emulate LIB for a CPU smoke run)",
              file=sys.stderr)
        return 2
    tv = torch.ops.torchvision
    workload = cpu_benchmark.build_workload()
    if args.emulate:
        workload = smoke_slice(workload)
    workload = cpu_benchmark.Workload(*(t.to(device) for t in workload))
    timer = Timer(device.type == "cuda", args.warmup, args.repetitions, args.inner)
    copy_gbps = copy_bandwidth_gbps(timer, device)

    grads = output_gradients(workload, workload.features, workload.position_sensitive_features,
                             ours)
    rows = [nms_row(ours, tv, workload)]
    for layout in ("contiguous", "channels-last"):
        rows += rows_for(ours, tv, workload, layout, grads)

    results = []
    for row in rows:
        if row.roiserve is None:
            results.append({"op": row.op, "layout": row.layout, "roiserve_ms": None,
                            "torchvision_ms": None, "speedup": None, "bytes": 0,
                            "roiserve_gbps": None, "fraction_of_copy": None,
                            "agreement": f"NOT IMPLEMENTED: {row.not_implemented}"})
            print(f"not implemented: {row.op} ({row.layout})", file=sys.stderr)
            continue
        agreement = "—"
        if row.torchvision is not None:
            reason = disagreement(row.roiserve()[:row.compared],
                                  row.torchvision()[:row.compared])
            agreement = "agree" if reason is None else f"DIFFER: {reason}"
        ours_ms = timer.ms_per_call(row.roiserve)
        tv_ms = None if row.torchvision is None else timer.ms_per_call(row.torchvision)
        gbps = row.bytes / (ours_ms * 1e-3) / 1e9
        results.append({
            "op": row.op, "layout": row.layout, "roiserve_ms": ours_ms, "torchvision_ms": tv_ms,
            "speedup": None if tv_ms is None else tv_ms / ours_ms, "bytes": row.bytes,
            "roiserve_gbps": gbps, "fraction_of_copy": gbps / copy_gbps, "agreement": agreement,
        })
        print(f"timed {row.op} ({row.layout}): roiserve {ours_ms:.3f} ms"
              + ("" if tv_ms is None else f", torchvision {tv_ms:.3f} ms"), file=sys.stderr,
              flush=True)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (emulation)"
    result = {
        "torch": torch.__version__, "torchvision": torchvision.__version__, "device": name,
        "emulated": bool(args.emulate), "warmup": args.warmup, "repetitions": args.repetitions,
        "inner": args.inner, "copy_gbps": copy_gbps, "rows": results,
        "workload": {
            "features": list(workload.features.shape),
            "position_sensitive_features": list(workload.position_sensitive_features.shape),
            "rois": workload.rois.shape[0], "nms_boxes": workload.nms_boxes.shape[0]},
    }
    table = markdown(result)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(table + "\n")
    # A disagreement or a missing kernel fails the run; the speed is reported only.
    return 0 if all(r["agreement"] in ("agree", "—") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
