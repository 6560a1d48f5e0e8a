#!/usr/bin/python3
"""Per-stage CPU latency of torchvision's maskrcnn_resnet50_fpn and of roiserve
running the same architecture (configs/models/maskrcnn_resnet50_fpn.yaml), in
one run on the same 320 x 320 inputs, with the ratio of each stage.

Both use random weights and a score threshold of 0, so both keep 100
detections per image and do the full mask work; 1000 proposals per image.
torchvision's stages are timed by calling its submodules in the order its
forward does (transform, backbone, rpn, roi_heads, transform.postprocess);
roiserve's come from roiserve_detector_bench. roi_heads covers roiserve's
box_pool .. mask_head, postprocess its paste. Reports speed, asserts nothing.

    /usr/bin/python3 benchmarks/compare_detector_torchvision.py [--threads 2]
        [--iterations 20] [--build build] [--json out.json]
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy
import torch
import torchvision
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
SIZE = 320
INPUTS = 8
ROISERVE_ROI_HEAD_STAGES = ("box_pool", "box_head", "postprocess", "mask_pool", "mask_head")


def square_inputs(build_dir, directory):
    """The inputs roiserve_detector_bench uses: shapes-v1 seed 2 images 0..7,
    zero-padded or cropped to SIZE x SIZE at the top left."""
    subprocess.run([str(build_dir / "tools" / "roiserve-shapes"), "--seed", "2", "--count", str(INPUTS),
                    "--output", str(directory)], check=True)
    images = []
    for path in sorted((Path(directory) / "images").glob("*.png")):
        rgb = torch.from_numpy(numpy.asarray(Image.open(path).convert("RGB")).copy())
        image = rgb.permute(2, 0, 1)
        square = torch.zeros(3, SIZE, SIZE, dtype=torch.uint8)
        h, w = min(SIZE, image.shape[1]), min(SIZE, image.shape[2])
        square[:, :h, :w] = image[:, :h, :w]
        images.append(square.float() / 255)
    return images


def time_torchvision(images, iterations, warmup):
    torch.manual_seed(0)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, min_size=SIZE, max_size=SIZE, box_score_thresh=0.0)
    model.eval()
    stages = {name: [] for name in ("preprocess", "backbone", "rpn", "roi_heads", "paste", "total")}
    detections = []
    with torch.inference_mode():
        for i in range(warmup + iterations):
            image = images[i % len(images)]
            marks = [time.perf_counter()]
            batch, _ = model.transform([image])
            marks.append(time.perf_counter())
            features = model.backbone(batch.tensors)
            marks.append(time.perf_counter())
            proposals, _ = model.rpn(batch, features)
            marks.append(time.perf_counter())
            result, _ = model.roi_heads(features, proposals, batch.image_sizes)
            marks.append(time.perf_counter())
            result = model.transform.postprocess(result, batch.image_sizes, [image.shape[-2:]])
            marks.append(time.perf_counter())
            if i < warmup:
                continue
            for name, start, end in zip(stages, marks, marks[1:]):
                stages[name].append(1e3 * (end - start))
            stages["total"].append(1e3 * (marks[-1] - marks[0]))
            detections.append(len(result[0]["boxes"]))
    medians = {name: statistics.median(values) for name, values in stages.items()}
    return medians, statistics.mean(detections)


def time_roiserve(build_dir, threads, iterations, warmup):
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "bench.json"
        subprocess.run([str(build_dir / "benchmarks" / "roiserve_detector_bench"), "--config",
                        str(REPO_ROOT / "configs" / "models" / "maskrcnn_resnet50_fpn.yaml"),
                        "--no-resize", "--score-threshold", "0", "--size", str(SIZE),
                        "--inputs", str(INPUTS), "--iterations", str(iterations), "--warmup",
                        str(warmup), "--threads", str(threads), "--heads", "roi_align",
                        "--json", str(output)], check=True, stdout=subprocess.DEVNULL)
        run = next(r for r in json.loads(output.read_text())["runs"] if r["name"].endswith("masks"))
    stages = run["median_ms"]
    medians = {name: stages[name] for name in ("preprocess", "backbone", "rpn", "paste", "total")}
    medians["roi_heads"] = sum(stages[name] for name in ROISERVE_ROI_HEAD_STAGES)
    return medians, run["detections"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--build", type=Path, default=REPO_ROOT / "build")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as directory:
        images = square_inputs(args.build, directory)
    theirs, their_detections = time_torchvision(images, args.iterations, args.warmup)
    ours, our_detections = time_roiserve(args.build, args.threads, args.iterations, args.warmup)
    print(f"maskrcnn_resnet50_fpn, {SIZE}x{SIZE}, {args.threads} threads, median of {args.iterations} "
          f"(ms); detections per image: torchvision {their_detections:.0f}, roiserve {our_detections:.0f}\n")
    print("| stage | torchvision 0.14 | roiserve | speed-up |\n|---|---:|---:|---:|")
    for stage in ("preprocess", "backbone", "rpn", "roi_heads", "paste", "total"):
        print(f"| {stage} | {theirs[stage]:.1f} | {ours[stage]:.1f} | {theirs[stage] / ours[stage]:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"torchvision": theirs, "roiserve": ours, "threads": args.threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
