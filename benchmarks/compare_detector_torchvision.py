#!/usr/bin/python3
"""Per-stage CPU latency of torchvision 0.14's maskrcnn_resnet50_fpn (or
fasterrcnn_resnet50_fpn) and of roiserve running the same weights, imported
with tools/import_torchvision, in one run, with the ratio of each stage.

The weights are a checkpoint of yours (--checkpoint) or, by default, the
seeded non-trivial ones of the parity tests. Both sides run the same 320 x 320
inputs (shapes-v1 validation images, as roiserve_detector_bench makes them),
resized to 800 x 800 by the model's preprocessing, one image per forward, on
--threads intra-op threads, with the model's own thresholds. torchvision is
timed by calling its submodules in the order its forward does; its stages are
named after roiserve's: box_pool is MultiScaleRoIAlign, box_head TwoMLPHead +
FastRCNNPredictor, postprocess postprocess_detections, mask_head the mask head,
predictor and the selection of each detection's class, paste
transform.postprocess (box rescaling and, for Mask R-CNN, mask pasting). The
two alternate in rounds, so that a change in the machine's load hits both.
"cpu" is the process's user + system CPU time over a forward, all threads
(OMP_WAIT_POLICY=PASSIVE keeps idle threads from spinning): on a busy shared
machine a steadier measure of the work than the wall times. Reports speed,
asserts nothing.

    /usr/bin/python3 benchmarks/compare_detector_torchvision.py [--architecture maskrcnn_resnet50_fpn]
        [--checkpoint model.pth --norm-eps 0.0] [--threads 2] [--rounds 5] [--iterations 2]
        [--build build] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Before libgomp loads with torch; roiserve_detector_bench inherits it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.models.detection.roi_heads import maskrcnn_inference  # noqa: E402
from torchvision.ops.misc import FrozenBatchNorm2d  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
IMPORTER_DIR = REPO_ROOT / "tools" / "import_torchvision"
sys.path.insert(0, str(IMPORTER_DIR))
import seeded_torchvision_model  # noqa: E402

SIZE = 320
INPUTS = 8
SEED = 0
STAGES = ("preprocess", "backbone", "rpn", "box_pool", "box_head", "postprocess", "mask_pool", "mask_head", "paste",
          "total", "cpu")


def square_inputs(build_dir, directory):
    """The inputs roiserve_detector_bench uses: shapes-v1 seed 2 images 0..7,
    zero-padded or cropped to SIZE x SIZE at the top left."""
    subprocess.run([str(build_dir / "tools" / "roiserve-shapes"), "--seed", "2", "--count", str(INPUTS),
                    "--output", str(directory)], check=True, stdout=subprocess.DEVNULL)
    images = []
    for path in sorted((Path(directory) / "images").glob("*.png")):
        image = torch.from_numpy(numpy.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1)
        square = torch.zeros(3, SIZE, SIZE, dtype=torch.uint8)
        h, w = min(SIZE, image.shape[1]), min(SIZE, image.shape[2])
        square[:, :h, :w] = image[:, :h, :w]
        images.append(square.float() / 255)
    return images


def torchvision_model(architecture, checkpoint, norm_eps):
    """What torchvision builds for its COCO weights (FrozenBatchNorm2d) with
    the checkpoint's weights, or the seeded model."""
    if checkpoint is None:
        return seeded_torchvision_model.build(architecture, SEED, norm_eps)
    backbone = torchvision.models.resnet50(norm_layer=lambda channels: FrozenBatchNorm2d(channels, eps=norm_eps))
    backbone = torchvision.models.detection.backbone_utils._resnet_fpn_extractor(backbone, 3)
    state = torch.load(checkpoint, map_location="cpu")
    state = state.get("model", state)
    num_classes = state["roi_heads.box_predictor.cls_score.weight"].shape[0]
    detector = (torchvision.models.detection.MaskRCNN if architecture == "maskrcnn_resnet50_fpn"
                else torchvision.models.detection.FasterRCNN)
    model = detector(backbone, num_classes=num_classes)
    model.load_state_dict(state)
    return model.eval()


def import_bundle(model, norm_eps, directory):
    checkpoint = Path(directory) / "model.pth"
    torch.save(model.state_dict(), checkpoint)
    bundle = Path(directory) / "bundle"
    subprocess.run([sys.executable, str(IMPORTER_DIR / "import_torchvision.py"), str(checkpoint), "--output",
                    str(bundle), "--norm-eps", str(norm_eps)], check=True, stdout=subprocess.DEVNULL)
    return bundle


def torchvision_forward(model, image):
    """One forward, timed per stage; returns ({stage: ms}, detections)."""
    heads = model.roi_heads
    marks = {}
    cpu_start = time.process_time()
    start = time.perf_counter()

    def mark(stage):
        marks[stage] = time.perf_counter()

    batch, _ = model.transform([image])
    mark("preprocess")
    features = model.backbone(batch.tensors)
    mark("backbone")
    proposals, _ = model.rpn(batch, features)
    mark("rpn")
    pooled = heads.box_roi_pool(features, proposals, batch.image_sizes)
    mark("box_pool")
    class_logits, box_regression = heads.box_predictor(heads.box_head(pooled))
    mark("box_head")
    boxes, scores, labels = heads.postprocess_detections(class_logits, box_regression, proposals, batch.image_sizes)
    result = [{"boxes": boxes[0], "scores": scores[0], "labels": labels[0]}]
    mark("postprocess")
    if heads.has_mask():
        mask_pooled = heads.mask_roi_pool(features, boxes, batch.image_sizes)
        mark("mask_pool")
        result[0]["masks"] = maskrcnn_inference(heads.mask_predictor(heads.mask_head(mask_pooled)), labels)[0]
        mark("mask_head")
    result = model.transform.postprocess(result, batch.image_sizes, [image.shape[-2:]])
    mark("paste" if heads.has_mask() else "postprocess_boxes")
    times, previous = {}, start
    for stage, moment in marks.items():
        times[stage] = 1e3 * (moment - previous)
        previous = moment
    if "postprocess_boxes" in times:
        times["postprocess"] += times.pop("postprocess_boxes")
    times["total"] = 1e3 * (previous - start)
    times["cpu"] = 1e3 * (time.process_time() - cpu_start)
    return times, len(result[0]["boxes"])


def time_torchvision(model, images, iterations, warmup):
    """({stage: median ms}, mean detections per image) of one round."""
    samples, detections = {}, []
    with torch.inference_mode():
        for i in range(warmup + iterations):
            times, count = torchvision_forward(model, images[i % len(images)])
            if i < warmup:
                continue
            for stage, ms in times.items():
                samples.setdefault(stage, []).append(ms)
            detections.append(count)
    return {stage: statistics.median(values) for stage, values in samples.items()}, statistics.mean(detections)


def time_roiserve(build_dir, bundle, threads, iterations, warmup, precision="fp32"):
    """The same for roiserve, timed by roiserve_detector_bench."""
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "bench.json"
        subprocess.run([str(build_dir / "benchmarks" / "roiserve_detector_bench"), "--model", str(bundle),
                        "--size", str(SIZE), "--inputs", str(INPUTS), "--iterations", str(iterations), "--warmup",
                        str(warmup), "--threads", str(threads), "--heads", "roi_align", "--precision", precision,
                        "--json", str(output)],
                       check=True, stdout=subprocess.DEVNULL)
        runs = json.loads(output.read_text())["runs"]
    run = runs[0]  # with masks where the model has them
    return run["median_ms"], run["detections"]


def median_of_rounds(rounds):
    return {stage: statistics.median(r[stage] for r in rounds) for stage in rounds[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architecture", choices=sorted(seeded_torchvision_model.BUILDERS),
                        default="maskrcnn_resnet50_fpn")
    parser.add_argument("--checkpoint", type=Path, help="torchvision state dict (default: seeded random weights)")
    parser.add_argument("--norm-eps", type=float, default=0.0, help="FrozenBatchNorm eps (0.0: COCO_V1 weights)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="alternations of torchvision and roiserve")
    parser.add_argument("--iterations", type=int, default=2, help="timed forwards per side and round")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--build", type=Path, default=REPO_ROOT / "build")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = torchvision_model(args.architecture, args.checkpoint, args.norm_eps)
    their_rounds, our_rounds = [], []
    with tempfile.TemporaryDirectory() as directory:
        images = square_inputs(args.build, directory)
        bundle = import_bundle(model, args.norm_eps, directory)
        for _ in range(args.rounds):
            times, their_detections = time_torchvision(model, images, args.iterations, args.warmup)
            their_rounds.append(times)
            times, our_detections = time_roiserve(args.build, bundle, args.threads, args.iterations, args.warmup)
            our_rounds.append(times)
    theirs, ours = median_of_rounds(their_rounds), median_of_rounds(our_rounds)
    print(f"{args.architecture}, {SIZE}x{SIZE} inputs resized to 800x800, {args.threads} threads, median over "
          f"{args.rounds} rounds of the median of {args.iterations} forwards (ms); detections per image: torchvision "
          f"{their_detections:.0f}, roiserve {our_detections:.0f}\n")
    print("| stage | torchvision 0.14 | roiserve | speed-up |\n|---|---:|---:|---:|")
    for stage in STAGES:
        if stage in theirs and stage in ours:
            print(f"| {stage} | {theirs[stage]:.1f} | {ours[stage]:.1f} | {theirs[stage] / ours[stage]:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"architecture": args.architecture, "threads": args.threads,
                                         "torchvision": theirs, "roiserve": ours}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
