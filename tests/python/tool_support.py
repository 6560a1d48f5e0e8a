"""Running the roiserve-* programs of the CMake build from tests.

ROISERVE_BUILD_DIR selects another build (default: build/ in the repository);
ROISERVE_MODEL the bundle the end-to-end tests use (default: the shipped
models/shapes-v1).
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from roi_cases import REPO_ROOT

BUILD_DIR = Path(os.environ.get("ROISERVE_BUILD_DIR", REPO_ROOT / "build"))
SHIPPED_MODEL = Path(os.environ.get("ROISERVE_MODEL", REPO_ROOT / "models" / "shapes-v1"))
CLASSES = ["circle", "square", "triangle", "star", "hexagon"]


def tool(name):
    path = BUILD_DIR / "tools" / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the {name} target (it needs OpenCV, CLI11, nlohmann-json)")
    return path


def run_tool(name, *args, check=True, timeout=600, env=None, path=None):
    """Runs a tool; returns the CompletedProcess. check: fail the test on a non-zero exit;
    env: variables to set on top of the test's; path: the program (default: the tool `name`)."""
    completed = subprocess.run(
        [str(path or tool(name)), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env or {})},
        check=False,
    )
    if check and completed.returncode != 0:
        pytest.fail(f"{name} exited {completed.returncode}: {completed.stderr}")
    return completed


def export_shapes(directory, count, first=0, seed=2):
    """shapes-v1 images as a COCO data set (PNG files + instances.json)."""
    run_tool("roiserve-shapes", "--seed", seed, "--first", first, "--count", count, "--output", directory)
    return json.loads((Path(directory) / "instances.json").read_text())
