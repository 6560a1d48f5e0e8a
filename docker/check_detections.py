#!/usr/bin/env python3
"""Checks roiserve-client's detections JSON against the COCO annotations of
the images it was run on: every annotated object should be found (a
detection scoring >= 0.5, of its class, at IoU >= 0.5). Prints one line per
image and the recall; exits 1 when the recall is below --min-recall.

    check_detections.py DETECTIONS.json INSTANCES.json [--min-recall 0.8]
"""
import argparse
import json
import pathlib
import sys

MIN_SCORE = 0.5
MIN_IOU = 0.5


def iou(a, b):
    """IoU of two [x1, y1, x2, y2] boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detections", type=pathlib.Path)
    parser.add_argument("instances", type=pathlib.Path)
    parser.add_argument("--min-recall", type=float, default=0.8)
    args = parser.parse_args()

    coco = json.loads(args.instances.read_text())
    names = {category["id"]: category["name"] for category in coco["categories"]}
    image_ids = {image["file_name"]: image["id"] for image in coco["images"]}
    objects_of = {}
    for annotation in coco["annotations"]:
        x, y, w, h = annotation["bbox"]
        objects_of.setdefault(annotation["image_id"], []).append(
            (names[annotation["category_id"]], [x, y, x + w, y + h]))

    annotated = found = 0
    for image in json.loads(args.detections.read_text())["images"]:
        objects = objects_of.get(image_ids[pathlib.Path(image["file"]).name], [])
        confident = [d for d in image["detections"] if d["score"] >= MIN_SCORE]
        unmatched = list(confident)
        hits = 0
        for category, box in objects:
            match = next((d for d in unmatched
                          if d["category"] == category and iou(d["bbox"], box) >= MIN_IOU), None)
            if match:
                unmatched.remove(match)
                hits += 1
        annotated += len(objects)
        found += hits
        print(f"  {pathlib.Path(image['file']).name}: {hits} of {len(objects)} objects found, "
              f"{len(confident)} detections >= {MIN_SCORE}, "
              f"{image['timings_ms'].get('total', 0):.0f} ms on the server")
    recall = found / annotated if annotated else 0.0
    print(f"  recall {recall:.2f} ({found} of {annotated} annotated objects; "
          f"score >= {MIN_SCORE}, IoU >= {MIN_IOU}, class right)")
    return 0 if annotated and recall >= args.min_recall else 1


if __name__ == "__main__":
    sys.exit(main())
