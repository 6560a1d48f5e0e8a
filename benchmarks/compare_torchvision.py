#!/usr/bin/python3
"""Times torchvision's and roiserve's CPU RoI ops side by side, in one process.

Both libraries run on the same tensors: the FPN workload of
benchmarks/fpn_workload.cpp, built with the same recipe and seed. Every pair of
outputs is checked for agreement before anything is timed; the script exits
non-zero if any pair disagrees. It reports speed and never asserts it.

Times include allocating each call's outputs. glibc maps blocks over 32 MB
afresh on every call unless freed heap memory can hold them, so roiserve's
50 MB outputs can cost page faults worth as much as the kernel itself, and
timings move with the allocation history of the process.

Run with Debian's interpreter, which has torch 1.13 and torchvision 0.14:

    /usr/bin/python3 benchmarks/compare_torchvision.py [--lib PATH] [--threads N]
        [--repetitions N] [--json out.json]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence

import torch
import torchvision  # noqa: F401  (registers torch.ops.torchvision)

REPO_ROOT = Path(__file__).resolve().parent.parent

BATCH = 2
IMAGE_HEIGHT, IMAGE_WIDTH = 800, 1216
SPATIAL_SCALE = 1.0 / 8
CHANNELS = 256
POSITION_SENSITIVE_CHANNELS = 10 * 7 * 7
POOLED_SIZE = 7
SAMPLING_RATIO = 2
NUM_ROIS = 1000
NUM_NMS_BOXES = 4000
NMS_THRESHOLD = 0.7

# roiserve repeats torchvision's floating-point operations and matches it bit
# for bit today; the tolerance keeps a reordered summation from being an error.
RTOL, ATOL = 1e-5, 1e-5


class Workload(NamedTuple):
    features: torch.Tensor
    position_sensitive_features: torch.Tensor
    rois: torch.Tensor
    nms_boxes: torch.Tensor
    nms_scores: torch.Tensor
    grad_output: torch.Tensor


def random_boxes(count: int, gen: torch.Generator) -> torch.Tensor:
    """Boxes (x1, y1, x2, y2) with sides of 8 to 300 px, inside the image."""
    extent = torch.tensor([IMAGE_WIDTH, IMAGE_HEIGHT], dtype=torch.float32)
    size = torch.rand(count, 2, generator=gen) * 292 + 8
    top_left = torch.rand(count, 2, generator=gen) * (extent - size)
    return torch.cat([top_left, top_left + size], 1)


def build_workload() -> Workload:
    # The order of the draws follows benchmarks/fpn_workload.cpp.
    gen = torch.Generator().manual_seed(0)
    height, width = IMAGE_HEIGHT // 8, IMAGE_WIDTH // 8
    features = torch.randn(BATCH, CHANNELS, height, width, generator=gen)
    position_sensitive = torch.randn(
        BATCH, POSITION_SENSITIVE_CHANNELS, height, width, generator=gen)
    batch_index = torch.randint(BATCH, (NUM_ROIS, 1), generator=gen, dtype=torch.float32)
    rois = torch.cat([batch_index, random_boxes(NUM_ROIS, gen)], 1)
    nms_boxes = random_boxes(NUM_NMS_BOXES, gen)
    nms_scores = torch.rand(NUM_NMS_BOXES, generator=gen)
    grad_output = torch.randn(NUM_ROIS, CHANNELS, POOLED_SIZE, POOLED_SIZE, generator=gen)
    return Workload(features, position_sensitive, rois, nms_boxes, nms_scores, grad_output)


Outputs = Sequence[torch.Tensor]


class Case(NamedTuple):
    name: str
    roiserve: Callable[[], Outputs]
    torchvision: Callable[[], Outputs]
    # False: torchvision runs only to check roiserve's values, and is not timed.
    time_torchvision: bool = True


def forward_backward(roi_align, features: torch.Tensor, w: Workload) -> Outputs:
    """roi_align through autograd with a fixed gradient: (output, input gradient)."""
    x = features.detach().requires_grad_()
    output = roi_align(
        x, w.rois, SPATIAL_SCALE, POOLED_SIZE, POOLED_SIZE, SAMPLING_RATIO, True)
    output.backward(w.grad_output.contiguous(memory_format=_format_of(features)))
    return output.detach(), x.grad


def _format_of(features: torch.Tensor) -> torch.memory_format:
    if features.is_contiguous():
        return torch.contiguous_format
    return torch.channels_last


def pooling_cases(w: Workload, features: torch.Tensor, ps_features: torch.Tensor,
                  suffix: str, time_torchvision: bool) -> list:
    """The pooling cases with roiserve reading `features` / `ps_features` and
    torchvision always reading the contiguous ones."""
    rs, tv = torch.ops.roiserve, torch.ops.torchvision
    pooled = (SPATIAL_SCALE, POOLED_SIZE, POOLED_SIZE)
    return [
        Case(f"roi_align fwd{suffix}",
             lambda: [rs.roi_align(features, w.rois, *pooled, SAMPLING_RATIO, True)],
             lambda: [tv.roi_align(w.features, w.rois, *pooled, SAMPLING_RATIO, True)],
             time_torchvision),
        Case(f"roi_pool fwd{suffix}",
             lambda: rs.roi_pool(features, w.rois, *pooled),
             lambda: tv.roi_pool(w.features, w.rois, *pooled),
             time_torchvision),
        Case(f"ps_roi_pool fwd{suffix}",
             lambda: rs.ps_roi_pool(ps_features, w.rois, *pooled),
             lambda: tv.ps_roi_pool(w.position_sensitive_features, w.rois, *pooled),
             time_torchvision),
        Case(f"ps_roi_align fwd{suffix}",
             lambda: rs.ps_roi_align(ps_features, w.rois, *pooled, SAMPLING_RATIO),
             lambda: tv.ps_roi_align(
                 w.position_sensitive_features, w.rois, *pooled, SAMPLING_RATIO),
             time_torchvision),
        Case(f"roi_align fwd+bwd{suffix}",
             lambda: forward_backward(rs.roi_align, features, w),
             lambda: forward_backward(tv.roi_align, w.features, w),
             time_torchvision),
    ]


def all_cases(w: Workload) -> list:
    channels_last = w.features.contiguous(memory_format=torch.channels_last)
    ps_channels_last = w.position_sensitive_features.contiguous(
        memory_format=torch.channels_last)
    return (
        pooling_cases(w, w.features, w.position_sensitive_features, "", True)
        + [Case("nms",
                lambda: [torch.ops.roiserve.nms(w.nms_boxes, w.nms_scores, NMS_THRESHOLD)],
                lambda: [torch.ops.torchvision.nms(w.nms_boxes, w.nms_scores, NMS_THRESHOLD)])]
        + pooling_cases(w, channels_last, ps_channels_last, " (channels-last)", False))


def mismatch(roiserve: Outputs, torchvision: Outputs) -> Optional[str]:
    """Why the two libraries' outputs disagree, or None when they agree."""
    if len(roiserve) != len(torchvision):
        return f"{len(roiserve)} outputs against {len(torchvision)}"
    for i, (ours, theirs) in enumerate(zip(roiserve, torchvision)):
        if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
            return (f"output {i}: {ours.dtype} {tuple(ours.shape)} against "
                    f"{theirs.dtype} {tuple(theirs.shape)}")
        if ours.is_floating_point():
            if not torch.allclose(ours, theirs, rtol=RTOL, atol=ATOL):
                difference = (ours - theirs).abs().max().item()
                return f"output {i}: max abs difference {difference:.3g}"
        elif not torch.equal(ours, theirs):
            differing = (ours != theirs).sum().item()
            return f"output {i}: {differing} of {ours.numel()} elements differ"
    return None


def median_ms(fn: Callable[[], Outputs], repetitions: int) -> float:
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def markdown_table(rows: list) -> str:
    def ms(value):
        return "—" if value is None else f"{value:.2f}"

    def speedup(row):
        if row["torchvision_ms"] is None:
            return "—"
        return f"{row['torchvision_ms'] / row['roiserve_ms']:.2f}×"

    lines = ["| op | torchvision ms | roiserve ms | speed-up (torchvision/roiserve) |",
             "|---|---:|---:|---:|"]
    lines += [f"| {r['op']} | {ms(r['torchvision_ms'])} | {ms(r['roiserve_ms'])} | {speedup(r)} |"
              for r in rows]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", type=Path, default=REPO_ROOT / "build/ops/libroiserve_ops.so",
                        help="path of libroiserve_ops.so (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads for both libraries (default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="timed calls per op; the median is reported (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.ops.load_library(str(args.lib))
    torch.set_num_threads(args.threads)
    cases = all_cases(build_workload())

    # The checking call of each op is also its warm-up call.
    failures = []
    bit_identical = 0
    for case in cases:
        roiserve, torchvision_outputs = case.roiserve(), case.torchvision()
        reason = mismatch(roiserve, torchvision_outputs)
        if reason is not None:
            failures.append(f"{case.name}: {reason}")
        elif all(map(torch.equal, roiserve, torchvision_outputs)):
            bit_identical += 1
    if failures:
        print("roiserve and torchvision disagree; nothing was timed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1

    rows = []
    for case in cases:
        rows.append({
            "op": case.name,
            "torchvision_ms": (median_ms(case.torchvision, args.repetitions)
                               if case.time_torchvision else None),
            "roiserve_ms": median_ms(case.roiserve, args.repetitions),
        })
        print(f"timed {case.name}", file=sys.stderr, flush=True)

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repetitions} calls, "
          f"{NUM_ROIS} RoIs on [{BATCH}, {CHANNELS} or {POSITION_SENSITIVE_CHANNELS}, "
          f"{IMAGE_HEIGHT // 8}, {IMAGE_WIDTH // 8}] features, nms of {NUM_NMS_BOXES} boxes.")
    print(f"Outputs checked before timing: {bit_identical} of {len(cases)} ops bit-identical "
          f"to torchvision; all within rtol={RTOL}, atol={ATOL}.")
    print()
    print(markdown_table(rows))
    print()
    print("torchvision has no channels-last path (its CPU kernels make the input "
          "contiguous first), so channels-last rows time roiserve only; their values "
          "were checked against torchvision on the contiguous features.")
    if args.json:
        args.json.write_text(json.dumps({
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "threads": torch.get_num_threads(),
            "repetitions": args.repetitions,
            "rows": rows,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
