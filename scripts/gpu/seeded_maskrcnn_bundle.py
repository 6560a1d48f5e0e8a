#!/usr/bin/env python3
"""A roiserve bundle of torchvision's maskrcnn_resnet50_fpn architecture with
seeded random weights (tools/import_torchvision/seeded_torchvision_model.py, as
the parity tests and benchmarks/compare_detector_torchvision.py build it): for
latency measurements where no COCO checkpoint may be downloaded.

    python3 scripts/gpu/seeded_maskrcnn_bundle.py --output DIR --device-check BIN

The checkpoint goes through tools/import_torchvision/import_torchvision.py when
PyYAML is installed. Without it (PyPI's torch does not bring it), the importer's
own conversion (torchvision_state_dict.py, which needs torch only) renames the
tensors and `roiserve-device-check bundle` writes the bundle from the
importer's template, configs/models/maskrcnn_resnet50_fpn.yaml, with the same
name and FrozenBatchNorm eps.
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPORTER_DIR = REPO_ROOT / "tools" / "import_torchvision"
sys.path.insert(0, str(IMPORTER_DIR))

import torch  # noqa: E402

import seeded_torchvision_model  # noqa: E402
import torchvision_state_dict  # noqa: E402

ARCHITECTURE = "maskrcnn_resnet50_fpn"
SEED = 0
# torchvision's COCO_V1 eps, the importer's default.
NORM_EPS = 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="bundle directory to write")
    parser.add_argument("--device-check", type=Path, required=True,
                        help="roiserve-device-check, for when PyYAML is missing")
    args = parser.parse_args()

    model = seeded_torchvision_model.build(ARCHITECTURE, SEED, NORM_EPS)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / f"{ARCHITECTURE}-seed{SEED}.pth"
        torch.save(model.state_dict(), checkpoint)
        try:
            import yaml  # noqa: F401
        except ImportError:
            yaml = None
        if yaml is not None:
            command = [sys.executable, str(IMPORTER_DIR / "import_torchvision.py"),
                       str(checkpoint), "--output", str(args.output), "--norm-eps", str(NORM_EPS)]
            how = "tools/import_torchvision/import_torchvision.py"
        else:
            converted = Path(scratch) / "converted.pt"
            torch.save(torchvision_state_dict.to_roiserve_state(model.state_dict()), converted)
            command = [str(args.device_check), "bundle",
                       "--config", str(REPO_ROOT / "configs" / "models" / f"{ARCHITECTURE}.yaml"),
                       "--weights", str(converted), "--output", str(args.output),
                       "--name", ARCHITECTURE, "--norm-eps", str(NORM_EPS)]
            how = ("PyYAML missing: torchvision_state_dict.to_roiserve_state + "
                   "roiserve-device-check bundle")
        subprocess.run(command, check=True)
    print(f"{args.output}: seeded {ARCHITECTURE} (seed {SEED}) bundled by {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
