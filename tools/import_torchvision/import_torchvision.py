#!/usr/bin/python3
"""Imports a torchvision Faster/Mask R-CNN ResNet-50 FPN checkpoint as a
roiserve model bundle (model.yaml + weights.pt), for roiserve-detect,
roiserve-eval and the server.

    /usr/bin/python3 tools/import_torchvision/import_torchvision.py \\
        maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --output models/maskrcnn-coco

The architecture (Mask R-CNN when the checkpoint has a mask branch, else
Faster R-CNN), torchvision's preprocessing (800/1333 resize, ImageNet mean and
std) and its test-time defaults come from configs/models/maskrcnn_resnet50_fpn.yaml;
the classes are COCO's 91 categories (torchvision's numbering, "N/A" for unused
ids) unless --classes names others. Needs torch and PyYAML only (Debian:
python3-torch, python3-yaml); it downloads nothing. See docs/TORCHVISION_IMPORT.md.
"""
import argparse
import os
import pickle
import re
import sys
from pathlib import Path

import torch
import yaml

import torchvision_state_dict as tv

REPO_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE_TEMPLATE = REPO_ROOT / "configs" / "models" / "maskrcnn_resnet50_fpn.yaml"
WEIGHTS_FILE = "weights.pt"
# torchvision evaluates its COCO_V1 Faster/Mask R-CNN weights with
# FrozenBatchNorm2d eps 0.0 (overwrite_eps after loading them); a model trained
# with torchvision's default FrozenBatchNorm2d uses 1e-5.
COCO_V1_NORM_EPS = 0.0
DESCRIPTIONS = {
    tv.MASK_RCNN: "Mask R-CNN ResNet-50 FPN imported from a torchvision checkpoint",
    tv.FASTER_RCNN: "Faster R-CNN ResNet-50 FPN imported from a torchvision checkpoint",
}


def check_resnet_depth(state, blocks_per_stage):
    """A deeper or shallower ResNet would fail to load in roiserve; say so here, by stage."""
    for stage, expected in enumerate(blocks_per_stage, start=1):
        blocks = {int(m.group(1)) for key in state
                  for m in [re.match(rf"backbone\.body\.layer{stage}\.(\d+)\.", key)] if m}
        if len(blocks) != expected:
            raise tv.CheckpointError(f"backbone stage layer{stage} has {len(blocks)} blocks; "
                                     f"ResNet-50 has {expected}")


def read_class_names(path, count):
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(names) != count:
        raise tv.CheckpointError(f"{path} lists {len(names)} classes; the checkpoint's box predictor has "
                                 f"{count} (without the background)")
    return names


def model_config(architecture, state, name, norm_eps, class_names):
    config = yaml.safe_load(ARCHITECTURE_TEMPLATE.read_text())
    config["name"] = name
    config["description"] = DESCRIPTIONS[architecture]
    config["backbone"]["norm_eps"] = norm_eps
    if architecture == tv.FASTER_RCNN:
        del config["roi_heads"]["mask"]
    check_resnet_depth(state, config["backbone"]["blocks_per_stage"])
    num_classes = tv.num_classes_with_background(state) - 1
    if class_names is not None:
        config["classes"] = class_names
    elif num_classes != len(config["classes"]):
        raise tv.CheckpointError(f"the checkpoint has {num_classes} classes, not COCO's {len(config['classes'])}: "
                                 f"name them with --classes")
    config["weights"] = WEIGHTS_FILE
    return config


def write_bundle(output, config, state):
    output.mkdir(parents=True, exist_ok=True)
    model_yaml = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)
    writers = {"model.yaml": lambda path: path.write_text(model_yaml),
               WEIGHTS_FILE: lambda path: torch.save(state, path)}
    # File by file atomically, as roiserve's own bundle writer: a server
    # reading the bundle never sees half a file.
    for file, write in writers.items():
        partial = output / (file + ".partial")
        write(partial)
        os.replace(partial, output / file)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="torchvision state dict (.pth), old or new key layout")
    parser.add_argument("--output", type=Path, required=True, help="bundle directory to write")
    parser.add_argument("--name", help="model name clients see (default: the architecture)")
    parser.add_argument("--norm-eps", type=float, default=COCO_V1_NORM_EPS,
                        help="FrozenBatchNorm eps: 0.0 for torchvision's COCO_V1 weights (default), "
                             "1e-5 for a model trained with torchvision's default")
    parser.add_argument("--classes", type=Path,
                        help="text file, one class name per line without the background "
                             "(default: COCO's 91 categories)")
    args = parser.parse_args(argv)
    try:
        state = tv.unwrap_checkpoint(torch.load(args.checkpoint, map_location="cpu"))
        architecture = tv.architecture_of(state)
        converted = tv.to_roiserve_state(state)
        class_names = None
        if args.classes:
            class_names = read_class_names(args.classes, tv.num_classes_with_background(converted) - 1)
        config = model_config(architecture, converted, args.name or architecture, args.norm_eps, class_names)
    except (tv.CheckpointError, OSError, RuntimeError, pickle.UnpicklingError) as error:
        print(f"import_torchvision: {args.checkpoint}: {error}", file=sys.stderr)
        return 1
    write_bundle(args.output, config, converted)
    print(f"{args.output}: {architecture}, {len(config['classes'])} classes + background, {len(converted)} tensors, "
          f"norm eps {args.norm_eps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
