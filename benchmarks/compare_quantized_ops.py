#!/usr/bin/python3
"""Times torchvision's and roiserve's quantized CPU ops (QuantizedCPU roi_align
and nms) side by side, in one process, on the same tensors.

The workload is compare_torchvision.py's, quantized: one image of [256, 100,
152] features as quint8 (or qint8), its 1000 RoIs and the 5000 nms boxes as the
same dtype at a scale of 5 px (8-bit RoIs must span 1216 px), scores at 1/255.
torchvision's quantized kernels take one image per batch and run on one
thread; roiserve's roi_align reads channels-last (NCHW input is converted
first) and returns the input's layout. Outputs are compared (integer for integer) before anything is timed;
the script exits non-zero if any pair differs. It reports speed and never
asserts it.

    /usr/bin/python3 benchmarks/compare_quantized_ops.py [--lib PATH] [--threads N]
        [--repetitions N]
"""

import argparse
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_torchvision as workload  # noqa: E402  (the float workload and timing)

BOX_SCALE = 5.0


def quantized_cases(dtype: torch.dtype) -> list:
    w = workload.build_workload()
    zero_point = 128 if dtype == torch.quint8 else 0
    features = torch.quantize_per_tensor(w.features[:1] / 4, 1 / 32, zero_point, dtype)
    rois = w.rois.clone()
    rois[:, 0] = 0
    qrois = torch.quantize_per_tensor(rois, BOX_SCALE, 0, dtype)
    boxes = torch.quantize_per_tensor(w.nms_boxes, BOX_SCALE, 0, dtype)
    scores = torch.quantize_per_tensor(w.nms_scores, 1 / 255, 0, dtype)
    name = str(dtype).replace("torch.", "")

    def roi_align(ops, x=features):
        return lambda: [ops.roi_align(x, qrois, workload.SPATIAL_SCALE, workload.POOLED_SIZE,
                                      workload.POOLED_SIZE, workload.SAMPLING_RATIO, True)]

    def nms(ops):
        return lambda: [ops.nms(boxes, scores, 0.5)]

    channels_last = features.contiguous(memory_format=torch.channels_last)
    return [workload.Case(f"roi_align {name}", roi_align(torch.ops.roiserve),
                          roi_align(torch.ops.torchvision)),
            workload.Case(f"roi_align {name} channels-last",
                          roi_align(torch.ops.roiserve, channels_last),
                          roi_align(torch.ops.torchvision, channels_last)),
            workload.Case(f"nms {name}", nms(torch.ops.roiserve), nms(torch.ops.torchvision))]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", type=Path,
                        default=workload.REPO_ROOT / "build/ops/libroiserve_ops.so",
                        help="path of libroiserve_ops.so (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads for both libraries (default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="timed calls per op; the median is reported (default: %(default)s)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.ops.load_library(str(args.lib))
    torch.set_num_threads(args.threads)
    cases = quantized_cases(torch.quint8) + quantized_cases(torch.qint8)
    for case in cases:
        ours, theirs = case.roiserve()[0], case.torchvision()[0]
        same = (torch.equal(ours.int_repr(), theirs.int_repr()) if ours.is_quantized
                else torch.equal(ours, theirs))
        if not same:
            print(f"{case.name}: roiserve and torchvision differ; nothing was timed",
                  file=sys.stderr)
            return 1
    rows = [{"op": case.name,
             "torchvision_ms": workload.median_ms(case.torchvision, args.repetitions),
             "roiserve_ms": workload.median_ms(case.roiserve, args.repetitions)}
            for case in cases]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repetitions} calls, "
          f"{workload.NUM_ROIS} RoIs on [1, {workload.CHANNELS}, "
          f"{workload.IMAGE_HEIGHT // 8}, {workload.IMAGE_WIDTH // 8}] features, "
          f"nms of {workload.NUM_NMS_BOXES} boxes; outputs identical.")
    print(workload.markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
