"""Running a torchvision detector and its roiserve import side by side, for
the parity tests of imported models (test_torchvision_parity_*.py).

One comparison per architecture: a seeded torchvision model
(tools/import_torchvision/seeded_torchvision_model.py) is saved as a .pth,
imported with the real importer, run by roiserve_stage_dump
(ROISERVE_STAGE_DUMP, default build/tests/roiserve_stage_dump) and by
torchvision on the same images, stage by stage. The work is done once per
test session, by whichever pytest-xdist worker asks first; the others wait
for it and read its results.

Tolerances (docs/TORCHVISION_IMPORT.md): both sides run the same ATen
kernels in the same order, so on one machine they agree bit for bit; the
tolerances leave room for other builds of LibTorch (other BLAS, other
vector widths), not for other arithmetic.
"""
import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from roi_cases import REPO_ROOT
from tool_support import BUILD_DIR

IMPORTER_DIR = REPO_ROOT / "tools" / "import_torchvision"
sys.path.insert(0, str(IMPORTER_DIR))
import seeded_torchvision_model  # noqa: E402

STAGE_DUMP = Path(os.environ.get("ROISERVE_STAGE_DUMP", BUILD_DIR / "tests" / "roiserve_stage_dump"))
THREADS = 2
SEED = 0
IMAGE_SEED = 1

# FPN features: max |difference| / max |feature| of the level.
FEATURE_RELATIVE_TOLERANCE = 1e-4
# Network input (normalized, resized image).
INPUT_TOLERANCE = 1e-5
# Proposal, detection and network-input box coordinates, in pixels.
BOX_TOLERANCE_PX = 1e-2
# Detection scores (softmax probabilities).
SCORE_TOLERANCE = 1e-5
# Pasted mask probabilities.
MASK_TOLERANCE = 1e-4
# Detections whose scores differ by less than this are a near-tie: their
# order may differ between builds (batched NMS sorts them with different sorts).
SCORE_TIE = 1e-5

# The prepared fp32 serving path (BatchNorm folded into the convolutions,
# channels-last oneDNN kernels) against the plain one: the same model in other
# float32 arithmetic (re-associated sums), so looser than the bit-for-bit
# parity above. Measured on the seeded models: features 6e-5 of the level's
# largest value, scores 2e-5.
PREPARED_FEATURE_RELATIVE_TOLERANCE = 5e-4
PREPARED_SCORE_TOLERANCE = 1e-4
PREPARED_BOX_TOLERANCE_PX = 0.05
# Pasted mask probabilities.
PREPARED_MASK_TOLERANCE = 1e-3


@contextlib.contextmanager
def _exclusive(lock_file):
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_directory(tmp_path_factory, name, produce):
    """A directory that produce(directory) fills once per test session: under
    pytest-xdist the workers share their base temp directory's parent, and a
    lock makes the others wait for the first one's results."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent
    else:
        root = tmp_path_factory.getbasetemp()
    directory = root / name
    done = root / f"{name}.done"
    with _exclusive(root / f"{name}.lock"):
        if not done.exists():
            directory.mkdir(exist_ok=True)
            produce(directory)
            done.touch()
    return directory


def old_key_layout(state):
    """A state dict in torchvision's pre-0.13 names (FPN blocks, RPN conv and
    mask head convs one level shallower), as older checkpoints have them."""
    renamed = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if key.startswith(("backbone.fpn.inner_blocks.", "backbone.fpn.layer_blocks.")):
            del parts[4]  # backbone.fpn.<blocks>.<i>.0.<weight|bias>
        elif key.startswith("rpn.head.conv.0.0."):
            del parts[3:5]
        elif key.startswith("roi_heads.mask_head."):
            parts[2:4] = [f"mask_fcn{int(parts[2]) + 1}"]
        renamed[".".join(parts)] = tensor
    return renamed


def import_checkpoint(checkpoint, bundle, *flags):
    """Runs the importer as users do; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(IMPORTER_DIR / "import_torchvision.py"), str(checkpoint),
                           "--output", str(bundle), *map(str, flags)],
                          capture_output=True, text=True, check=False)


def run_roiserve(bundle, images, directory, precision=None):
    """roiserve_stage_dump's {name: tensor} for the images: the plain modules,
    or with a precision the prepared serving path (roiserve-<precision>.pt)."""
    if not STAGE_DUMP.is_file():
        pytest.fail(f"{STAGE_DUMP} is missing: build the roiserve_stage_dump target")
    files = []
    for index, image in enumerate(images):
        files.append(directory / f"image{index}.pt")
        torch.save(image, files[-1])
    output = directory / ("roiserve.pt" if precision is None else f"roiserve-{precision}.pt")
    flags = [] if precision is None else ["--precision", precision]
    completed = subprocess.run([str(STAGE_DUMP), *flags, str(bundle), str(output), str(THREADS), *map(str, files)],
                               capture_output=True, text=True,
                               env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}, check=False)
    if completed.returncode != 0:
        pytest.fail(f"roiserve_stage_dump exited {completed.returncode}: {completed.stderr}")
    return torch.load(output)


def run_torchvision(model, image):
    """torchvision's stages for one uint8 image, calling its submodules in the
    order GeneralizedRCNN.forward does."""
    with torch.inference_mode():
        batch, _ = model.transform([image.float() / 255])
        features = model.backbone(batch.tensors)
        proposals, _ = model.rpn(batch, features)
        network, _ = model.roi_heads(features, proposals, batch.image_sizes)
        network_boxes = network[0]["boxes"].clone()
        final = model.transform.postprocess(network, batch.image_sizes, [tuple(image.shape[-2:])])[0]
    stages = {"image_size": list(batch.image_sizes[0]), "input": batch.tensors, "features": list(features.values()),
              "proposals": proposals[0], "network_boxes": network_boxes, "boxes": final["boxes"],
              "scores": final["scores"], "labels": final["labels"]}
    if "masks" in final:
        stages["masks"] = final["masks"][:, 0]
    return stages


def feature_errors(ours, theirs):
    """Per level: (max |difference|, max |difference| / max |torchvision's|)."""
    errors = []
    for level, expected in enumerate(theirs):
        actual = ours[f"features.{level}"]
        assert actual.shape == expected.shape, f"P{level + 2}: shape {list(actual.shape)} != {list(expected.shape)}"
        difference = (actual - expected).abs().max().item()
        errors.append((difference, difference / expected.abs().max().item()))
    return errors


def compare(model, bundle, images, directory):
    """Both sides on every image; keeps torchvision's outputs and the errors
    of the features (too large to keep) in directory/comparison.pt."""
    roiserve = run_roiserve(bundle, images, directory)
    comparison = []
    for index, image in enumerate(images):
        ours = per_image(roiserve, index)
        theirs = run_torchvision(model, image)
        theirs["feature_errors"] = feature_errors(ours, theirs.pop("features"))
        ours = {key: value for key, value in ours.items() if not key.startswith("features.")}
        our_input, their_input = ours.pop("input"), theirs.pop("input")
        theirs["input_error"] = ((our_input - their_input).abs().max().item()
                                 if our_input.shape == their_input.shape else float("inf"))
        comparison.append({"ours": ours, "theirs": theirs})
    torch.save(comparison, directory / "comparison.pt")


def prepare(directory, architecture, norm_eps, image_sizes, key_layout):
    """Seeded model -> .pth (key_layout: old or new) -> importer -> bundle;
    the images as .pt and PNG files; both sides compared."""
    model = seeded_torchvision_model.build(architecture, SEED, norm_eps)
    state = model.state_dict()
    torch.save(old_key_layout(state) if key_layout == "old" else state, directory / "model.pth")
    completed = import_checkpoint(directory / "model.pth", directory / "bundle", "--norm-eps", norm_eps)
    (directory / "import.log").write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        pytest.fail(f"the importer exited {completed.returncode}: {completed.stderr}")
    generator = torch.Generator().manual_seed(IMAGE_SEED)
    images = [seeded_torchvision_model.smooth_noise_image(h, w, generator) for h, w in image_sizes]
    for index, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(directory / f"image{index}.png")
    compare(model, directory / "bundle", images, directory)


def per_image(dump, index):
    """One image's entries of a roiserve_stage_dump output."""
    return {key.split(".", 1)[1]: value for key, value in dump.items() if key.startswith(f"{index}.")}


def load_comparison(directory):
    return torch.load(directory / "comparison.pt")


def unmatched_proposals(ours, theirs):
    """How many proposals of either side have no counterpart within
    BOX_TOLERANCE_PX on the other (the sets are compared: proposals with
    equal objectness may come in either order)."""
    if len(ours) == 0 or len(theirs) == 0:
        return len(ours) + len(theirs)
    distance = (ours[:, None, :] - theirs[None, :, :]).abs().amax(dim=2)
    return (int((distance.amin(dim=1) > BOX_TOLERANCE_PX).sum()) +
            int((distance.amin(dim=0) > BOX_TOLERANCE_PX).sum()))


def detection_order(ours, theirs):
    """For each torchvision detection, the index of the same roiserve
    detection (label equal, box within BOX_TOLERANCE_PX, score within
    SCORE_TOLERANCE), looked for at the same position first, then among its
    near-ties; None where there is none. One-to-one."""
    taken = set()
    order = []
    for i in range(len(theirs["scores"])):
        near_ties = [j for j in range(len(ours["scores"]))
                     if abs(float(theirs["scores"][i]) - float(ours["scores"][j])) < SCORE_TIE + SCORE_TOLERANCE]
        candidates = ([i] if i < len(ours["scores"]) else []) + near_ties
        match = next((j for j in candidates if j not in taken and _same_detection(ours, j, theirs, i)), None)
        if match is not None:
            taken.add(match)
        order.append(match)
    return order


def detection_orders(comparison):
    return [detection_order(image["ours"], image["theirs"]) for image in comparison]


def _same_detection(ours, j, theirs, i):
    return (int(ours["labels"][j]) == int(theirs["labels"][i])
            and float((ours["boxes"][j] - theirs["boxes"][i]).abs().max()) <= BOX_TOLERANCE_PX
            and abs(float(ours["scores"][j] - theirs["scores"][i])) <= SCORE_TOLERANCE)


def mask_errors(ours, theirs, order):
    """Per matched detection: max |difference| of the pasted probabilities
    over the whole image (roiserve's patch placed at its origin, zeros
    elsewhere)."""
    errors = []
    for i, j in enumerate(order):
        expected = theirs["masks"][i]
        actual = torch.zeros_like(expected)
        top, left = (int(v) for v in ours["mask_origins"][j])
        patch = ours[f"mask.{j}"]
        actual[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
        errors.append(float((actual - expected).abs().max()))
    return errors
