#!/usr/bin/env python3
"""End-to-end CPU latency of ONNX Runtime, roiserve (fp32 and bf16) and
torchvision 0.14 on the same Mask R-CNN and Faster R-CNN weights, in one run,
with the ratios against ONNX Runtime (and per stage, roiserve against
torchvision).

The weights are the seeded non-trivial ones of the parity tests
(tools/import_torchvision/seeded_torchvision_model.py). torchvision's model is
exported to ONNX by Debian's torch (torch.onnx, opset 11, the model's own
preprocessing included) and run by ONNX Runtime from PyPI (CPU provider, all
graph optimisations, --threads intra-op threads); roiserve runs the import of
the same weights (roiserve_detector_bench, --precision fp32 and bf16); all on
the same 320 x 320 shapes-v1 inputs, resized to 800 x 800 by each model, one
image per forward, on --threads threads. The four alternate in rounds, so that
a change in a shared machine's load hits them all; each round's ratios are
taken within the round, and the table gives their median and range. "cpu" is
the process's CPU time over a forward, all threads (idle threads sleep in
every runtime): on a busy shared machine a steadier measure of the work than
wall time. Also
reports how many of roiserve fp32's detections bf16 finds (same class,
IoU >= 0.5) on the inputs, and on 100 held-out shapes-v1 images with the
shipped, trained model. Reports speed, asserts nothing.

    .venv-test/bin/python benchmarks/compare_onnxruntime.py [--models maskrcnn_resnet50_fpn,...]
        [--threads 2] [--rounds 5] [--iterations 2] [--build build] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_detector_torchvision as detector_comparison  # noqa: E402  (sets OMP_WAIT_POLICY first)

import numpy  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402

SEED = detector_comparison.SEED
NORM_EPS = 0.0
OPSET = 11
MATCH_IOU = 0.5
SIDES = ("onnxruntime", "roiserve fp32", "roiserve bf16", "torchvision")
SHIPPED_SEED = 7
SHIPPED_IMAGES = 100


def export_onnx(model, image, path):
    # The tracer's warnings (Python values it records as constants) are torchvision's, expected at a fixed size.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, ([image],), str(path), opset_version=OPSET, input_names=["image"],
                          do_constant_folding=True)


def onnxruntime_session(path, threads):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads sleep, as OMP_WAIT_POLICY=PASSIVE makes torch's: "cpu" counts work, not spinning.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_onnxruntime(session, images, iterations, warmup):
    """({"total": median ms, "cpu": median ms}, mean detections per image) of one round."""
    name = session.get_inputs()[0].name
    times, cpu_times, detections = [], [], []
    for i in range(warmup + iterations):
        cpu_start, start = time.process_time(), time.perf_counter()
        outputs = session.run(None, {name: images[i % len(images)].numpy()})
        if i >= warmup:
            times.append(1e3 * (time.perf_counter() - start))
            cpu_times.append(1e3 * (time.process_time() - cpu_start))
            detections.append(len(outputs[0]))
    return {"total": statistics.median(times), "cpu": statistics.median(cpu_times)}, statistics.mean(detections)


def roiserve_detections(build_dir, bundle, images, threads, precision, directory):
    """roiserve's detections per image in `precision`, [(boxes, labels)], by
    roiserve_stage_dump (the serving path, prepared as the server prepares it)."""
    files = []
    for index, image in enumerate(images):
        files.append(Path(directory) / f"image{index}.pt")
        torch.save((image * 255).round().to(torch.uint8), files[-1])
    output = Path(directory) / f"detections-{precision}.pt"
    subprocess.run([str(build_dir / "tests" / "roiserve_stage_dump"), "--precision", precision, str(bundle),
                    str(output), str(threads), *map(str, files)], check=True)
    dump = torch.load(output)
    return [(dump[f"{i}.boxes"], dump[f"{i}.labels"]) for i in range(len(images))]


def matched_fraction(reference, candidate):
    """The share of reference detections with a candidate of the same class at
    IoU >= MATCH_IOU (each candidate matched once, best IoU first)."""
    matched = total = 0
    for (ref_boxes, ref_labels), (boxes, labels) in zip(reference, candidate):
        total += len(ref_boxes)
        if len(ref_boxes) == 0 or len(boxes) == 0:
            continue
        iou = torchvision.ops.box_iou(ref_boxes, boxes)
        iou[ref_labels[:, None] != labels[None, :]] = 0
        taken = torch.zeros(len(boxes), dtype=torch.bool)
        for row in iou:
            row = row.masked_fill(taken, 0)
            best = int(row.argmax())
            if row[best] >= MATCH_IOU:
                taken[best] = True
                matched += 1
    return matched / total if total else 1.0


def compare_model(architecture, args, directory):
    model = detector_comparison.seeded_torchvision_model.build(architecture, SEED, NORM_EPS)
    images = detector_comparison.square_inputs(args.build, directory)
    bundle = detector_comparison.import_bundle(model, NORM_EPS, directory)
    onnx_path = Path(directory) / f"{architecture}.onnx"
    export_onnx(model, images[0], onnx_path)
    session = onnxruntime_session(onnx_path, args.threads)
    runners = {
        "onnxruntime": lambda: time_onnxruntime(session, images, args.iterations, args.warmup),
        "roiserve fp32": lambda: detector_comparison.time_roiserve(args.build, bundle, args.threads,
                                                                   args.iterations, args.warmup, "fp32"),
        "roiserve bf16": lambda: detector_comparison.time_roiserve(args.build, bundle, args.threads,
                                                                   args.iterations, args.warmup, "bf16"),
        "torchvision": lambda: detector_comparison.time_torchvision(model, images, args.iterations, args.warmup),
    }
    rounds, detections = [], {}
    for _ in range(args.rounds):
        times = {}
        for side in SIDES:
            times[side], detections[side] = runners[side]()
        rounds.append(times)
    fp32 = roiserve_detections(args.build, bundle, images, args.threads, "fp32", directory)
    bf16 = roiserve_detections(args.build, bundle, images, args.threads, "bf16", directory)
    return {"rounds": rounds, "detections": detections, "bf16_matched": matched_fraction(fp32, bf16)}


def shipped_model_agreement(args, directory):
    """How many of the shipped (trained) model's fp32 detections bf16 finds on
    SHIPPED_IMAGES held-out shapes-v1 images: the seeded weights amplify any
    rounding (benchmarks/bf16_precision_policies.py), trained ones need not."""
    subprocess.run([str(args.build / "tools" / "roiserve-shapes"), "--seed", str(SHIPPED_SEED), "--count",
                    str(SHIPPED_IMAGES), "--output", str(directory)], check=True, stdout=subprocess.DEVNULL)
    images = [torch.from_numpy(numpy.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1).float() / 255
              for path in sorted((Path(directory) / "images").glob("*.png"))]
    bundle = detector_comparison.REPO_ROOT / "models" / "shapes-v1"
    fp32 = roiserve_detections(args.build, bundle, images, args.threads, "fp32", directory)
    bf16 = roiserve_detections(args.build, bundle, images, args.threads, "bf16", directory)
    return matched_fraction(fp32, bf16), sum(len(boxes) for boxes, _ in fp32)


def report(architecture, result, args):
    rounds = result["rounds"]
    totals = {side: [r[side]["total"] for r in rounds] for side in SIDES}
    print(f"\n{architecture}, {detector_comparison.SIZE}x{detector_comparison.SIZE} inputs resized to 800x800, "
          f"{args.threads} threads, {args.rounds} rounds of {args.iterations} forwards per side (ms: median of the "
          f"rounds' medians; speed-up over ONNX Runtime: median [min, max] of the rounds' ratios)\n")
    print("| runtime | total ms | speed-up over ONNX Runtime | cpu ms | cpu speed-up | detections per image |\n"
          "|---|---:|---:|---:|---:|---:|")
    cpu = {side: [r[side]["cpu"] for r in rounds] for side in SIDES}
    for side in SIDES:
        ratios = [o / t for o, t in zip(totals["onnxruntime"], totals[side])]
        cpu_ratios = [o / t for o, t in zip(cpu["onnxruntime"], cpu[side])]
        print(f"| {side} | {statistics.median(totals[side]):.0f} | {statistics.median(ratios):.2f}x "
              f"[{min(ratios):.2f}, {max(ratios):.2f}] | {statistics.median(cpu[side]):.0f} | "
              f"{statistics.median(cpu_ratios):.2f}x [{min(cpu_ratios):.2f}, {max(cpu_ratios):.2f}] | "
              f"{result['detections'][side]:.1f} |")
    print(f"\nroiserve bf16 finds {100 * result['bf16_matched']:.1f}% of roiserve fp32's detections "
          f"(same class, IoU >= {MATCH_IOU})\n")
    print("| stage | torchvision | roiserve fp32 | roiserve bf16 | fp32 speed-up | bf16 speed-up |\n"
          "|---|---:|---:|---:|---:|---:|")
    median = {side: {stage: statistics.median(r[side][stage] for r in rounds) for stage in rounds[0][side]}
              for side in SIDES[1:]}
    for stage in detector_comparison.STAGES:
        if all(stage in median[side] for side in SIDES[1:]):
            theirs, fp32, bf16 = (median[side][stage] for side in ("torchvision", "roiserve fp32", "roiserve bf16"))
            print(f"| {stage} | {theirs:.1f} | {fp32:.1f} | {bf16:.1f} | {theirs / fp32:.2f}x | {theirs / bf16:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="maskrcnn_resnet50_fpn,fasterrcnn_resnet50_fpn",
                        help="comma-separated: " + ", ".join(sorted(detector_comparison.seeded_torchvision_model.BUILDERS)))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the four runtimes")
    parser.add_argument("--iterations", type=int, default=2, help="timed forwards per runtime and round")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--build", type=Path, default=detector_comparison.REPO_ROOT / "build")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"ONNX Runtime {onnxruntime.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}; "
          f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {}
    for architecture in args.models.split(","):
        with tempfile.TemporaryDirectory() as directory:
            results[architecture] = compare_model(architecture, args, directory)
        report(architecture, results[architecture], args)
    with tempfile.TemporaryDirectory() as directory:
        matched, count = shipped_model_agreement(args, directory)
    results["shipped_bf16_matched"] = matched
    print(f"\nThe shipped model (models/shapes-v1, trained): roiserve bf16 finds {100 * matched:.1f}% of fp32's "
          f"{count} detections on {SHIPPED_IMAGES} held-out shapes-v1 images (seed {SHIPPED_SEED}; same class, "
          f"IoU >= {MATCH_IOU})")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
