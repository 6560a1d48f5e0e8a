"""torchvision's maskrcnn_resnet50_fpn and fasterrcnn_resnet50_fpn imported
into roiserve give torchvision 0.14.1's results, stage by stage: seeded models
(tools/import_torchvision/seeded_torchvision_model.py) saved as .pth files,
imported with tools/import_torchvision as users do, run by torchvision and by
roiserve on the same images (CASES). Then roiserve-detect serves the imported
Mask R-CNN, and names the heads an import has when asked for another; and
roiserve-server serves both imports next to the shipped model.
Tolerances: torchvision_parity.py and docs/TORCHVISION_IMPORT.md."""
import json
from dataclasses import dataclass

import grpc
import numpy as np
import pytest
import torch
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights

import torchvision_parity as tp
from service_support import CALL_TIMEOUT_S, ServerProcess, call_error, detect_request, detection_records, pb
from tool_support import run_tool

pycocotools_mask = pytest.importorskip(
    "pycocotools.mask", reason="pycocotools is not installed: run with .venv-test/bin/python"
)

MASK_THRESHOLD = 0.5
# torchvision's names of its 91 COCO category ids, "__background__" at 0.
COCO_CATEGORIES = MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]


@dataclass
class Case:
    norm_eps: float
    key_layout: str  # of the .pth: torchvision's "old" (before 0.13) or "new" names
    image_sizes: list
    network_sizes: list  # what torchvision resizes them to


CASES = {
    # FrozenBatchNorm eps 0.0, as torchvision's COCO_V1 weights. (206, 309):
    # torchvision's float32 scale floors to 799 x 1199, one pixel below the
    # float64 rule (800 x 1200); (300, 200): portrait, the shorter side binds.
    "maskrcnn_resnet50_fpn": Case(0.0, "old", [(206, 309), (300, 200)], [[799, 1199], [1200, 800]]),
    # eps 1e-5, as a model trained with torchvision's defaults. (160, 500): the
    # longer side binds; torchvision's scale, (1 / 500) * 1333 in float32,
    # gives 1333 where 1333 / 500 rounded once to float32 gives 1332.
    "fasterrcnn_resnet50_fpn": Case(1e-5, "new", [(160, 500)], [[426, 1333]]),
}


def parity_directory(tmp_path_factory, architecture):
    case = CASES[architecture]
    return tp.shared_directory(tmp_path_factory, f"{architecture}-parity", lambda directory: tp.prepare(
        directory, architecture, case.norm_eps, case.image_sizes, case.key_layout))


@pytest.fixture(scope="module", params=list(CASES))
def architecture(request):
    return request.param


@pytest.fixture(scope="module")
def comparison(tmp_path_factory, architecture):
    return tp.load_comparison(parity_directory(tmp_path_factory, architecture))


@pytest.fixture(scope="module")
def detection_orders(comparison):
    return tp.detection_orders(comparison)


@pytest.fixture(scope="module")
def maskrcnn(tmp_path_factory):
    directory = parity_directory(tmp_path_factory, "maskrcnn_resnet50_fpn")
    comparison = tp.load_comparison(directory)
    return directory, comparison, tp.detection_orders(comparison)


def test_the_model_resizes_as_torchvision_rounds(architecture, comparison):
    for image, expected in zip(comparison, CASES[architecture].network_sizes, strict=True):
        assert image["theirs"]["image_size"] == expected
        assert image["ours"]["image_size"].tolist() == expected
        assert image["theirs"]["input_error"] <= tp.INPUT_TOLERANCE


def test_fpn_features_match(comparison):
    for index, image in enumerate(comparison):
        for level, (absolute, relative) in enumerate(image["theirs"]["feature_errors"]):
            assert relative <= tp.FEATURE_RELATIVE_TOLERANCE, \
                f"image {index} P{level + 2}: max error {absolute:.3g} ({relative:.3g} of the level's largest value)"


def test_proposals_match(comparison):
    for index, image in enumerate(comparison):
        ours, theirs = image["ours"]["proposals"], image["theirs"]["proposals"]
        assert len(theirs) == 1000, "the RPN keeps post_nms_top_n_test proposals"
        assert ours.shape == theirs.shape
        assert tp.unmatched_proposals(ours, theirs) == 0, f"image {index}"


def test_detections_match_in_order_up_to_near_ties(comparison, detection_orders):
    for index, (image, order) in enumerate(zip(comparison, detection_orders)):
        ours, theirs = image["ours"], image["theirs"]
        assert len(theirs["scores"]) > 0, "the seeded model detects objects, so the comparison is not vacuous"
        assert len(ours["scores"]) == len(theirs["scores"]), f"image {index}"
        assert None not in order, f"image {index}: torchvision detections {order.index(None)}.. have no match"
        for i, j in enumerate(order):
            if i != j:
                assert abs(float(theirs["scores"][i] - theirs["scores"][j])) < tp.SCORE_TIE, \
                    f"image {index}: detection {i} comes at {j}, and is no near-tie"
        assert float((ours["network_boxes"][order] - theirs["network_boxes"]).abs().max()) <= tp.BOX_TOLERANCE_PX


def test_the_prepared_fp32_path_matches_the_plain_one(tmp_path_factory, architecture):
    """What the server and the tools run (DetectorImpl::prepare, fp32) gives
    the plain modules' results (which match torchvision bit for bit) within
    float32 tolerances: every detection of the plain path found with its
    label, box and score."""
    parity = parity_directory(tmp_path_factory, architecture)
    plain = torch.load(parity / "roiserve.pt")
    images = [torch.load(parity / f"image{index}.pt") for index in range(len(CASES[architecture].image_sizes))]
    prepared = tp.run_roiserve(parity / "bundle", images, tmp_path_factory.mktemp("prepared"), precision="fp32")
    for index in range(len(images)):
        ours, reference = tp.per_image(prepared, index), tp.per_image(plain, index)
        for level in range(5):
            expected = reference[f"features.{level}"]
            error = float((ours[f"features.{level}"] - expected).abs().max() / expected.abs().max())
            assert error <= tp.PREPARED_FEATURE_RELATIVE_TOLERANCE, f"image {index} P{level + 2}: {error:.3g}"
        assert len(ours["scores"]) == len(reference["scores"]) > 0
        box_error = (reference["boxes"][:, None, :] - ours["boxes"][None, :, :]).abs().amax(dim=2)
        same = ((reference["labels"][:, None] == ours["labels"][None, :]) & (box_error <= tp.PREPARED_BOX_TOLERANCE_PX)
                & ((reference["scores"][:, None] - ours["scores"][None, :]).abs() <= tp.PREPARED_SCORE_TOLERANCE))
        assert bool(same.any(dim=1).all()), f"image {index}: plain detections {same.any(dim=1).logical_not().nonzero()}"


def test_pasted_masks_match(maskrcnn):
    _, comparison, detection_orders = maskrcnn
    for index, (image, order) in enumerate(zip(comparison, detection_orders)):
        errors = tp.mask_errors(image["ours"], image["theirs"], order)
        assert len(errors) == len(order)
        assert max(errors) <= tp.MASK_TOLERANCE, f"image {index}: detection {int(np.argmax(errors))}"


def test_roiserve_detect_serves_the_imported_bundle(maskrcnn, tmp_path):
    """roiserve-detect serves the prepared fp32 path: torchvision's detections
    within its tolerances (near-ties may come in another order)."""
    parity, comparison, _ = maskrcnn
    output = tmp_path / "detections.json"
    run_tool("roiserve-detect", "--model", parity / "bundle", "--threads", tp.THREADS, "--json", output,
             parity / "image0.png")
    record = json.loads(output.read_text())["images"][0]
    theirs = comparison[0]["theirs"]
    assert len(record["detections"]) == len(theirs["scores"])
    unmatched = list(record["detections"])
    for box, score, label, probabilities in zip(theirs["boxes"], theirs["scores"], theirs["labels"], theirs["masks"]):
        detection = next((d for d in unmatched if d["category_id"] == int(label)
                          and abs(d["score"] - float(score)) <= tp.PREPARED_SCORE_TOLERANCE
                          and max(abs(a - float(b)) for a, b in zip(d["bbox"], box)) <= tp.PREPARED_BOX_TOLERANCE_PX),
                         None)
        assert detection is not None, f"no served detection of torchvision's {int(label)} at {box.tolist()}"
        unmatched.remove(detection)
        assert detection["category"] == COCO_CATEGORIES[int(label)]
        binary = pycocotools_mask.decode(detection["segmentation"]).astype(bool)
        expected = (probabilities > MASK_THRESHOLD).numpy()
        undecided = ((probabilities - MASK_THRESHOLD).abs() <= tp.PREPARED_MASK_TOLERANCE).numpy()
        assert not np.any((binary != expected) & ~undecided)


@pytest.mark.parametrize("architecture, flag, value, message", [
    ("maskrcnn_resnet50_fpn", "--head", "roi_pool", "has no box head 'roi_pool' (it has: roi_align)"),
    ("maskrcnn_resnet50_fpn", "--mask-pooler", "roi_pool", "has no mask pooler 'roi_pool' (it has: roi_align)"),
    ("fasterrcnn_resnet50_fpn", "--head", "spp", "has no box head 'spp' (it has: roi_align)"),
    ("fasterrcnn_resnet50_fpn", "--mask-pooler", "roi_align", "has no mask pooler 'roi_align' (it has: none)"),
])
def test_asking_for_a_head_the_import_lacks_is_a_clear_error(tmp_path_factory, tmp_path, architecture, flag, value,
                                                            message):
    parity = parity_directory(tmp_path_factory, architecture)
    completed = run_tool("roiserve-detect", "--model", parity / "bundle", flag, value, "--json", tmp_path / "out.json",
                         parity / "image0.png", check=False)
    assert completed.returncode == 1
    assert message in completed.stderr
    assert not (tmp_path / "out.json").exists()


def test_the_server_serves_imports_next_to_the_shipped_model(tmp_path_factory, maskrcnn, tmp_path):
    """Both imports load in one roiserve-server with shapes-v1: ListModels
    shows the three; the Mask R-CNN import answers as roiserve-detect does;
    heads, mask poolers and masks an import lacks are refused by name."""
    parity, _, _ = maskrcnn
    faster = parity_directory(tmp_path_factory, "fasterrcnn_resnet50_fpn")
    with ServerProcess("--model", parity / "bundle", "--model", faster / "bundle", "--max-batch-size", "1") as server:
        stub = server.stub()
        models = stub.ListModels(pb.ListModelsRequest(), timeout=CALL_TIMEOUT_S).models
        assert [(m.name, m.is_default) for m in models] == [
            ("shapes-v1", True), ("maskrcnn_resnet50_fpn", False), ("fasterrcnn_resnet50_fpn", False)]
        info = stub.GetModelInfo(pb.GetModelInfoRequest(name="maskrcnn_resnet50_fpn"), timeout=CALL_TIMEOUT_S)
        assert list(info.heads) == ["roi_align"] and list(info.mask_poolers) == ["roi_align"]
        assert [c.name for c in info.classes] == COCO_CATEGORIES[1:]
        assert (info.input.resize, info.input.min_size, info.input.max_size) == ("shorter_side", 800, 1333)

        image = (parity / "image0.png").read_bytes()
        served = stub.Detect(detect_request(image, model="maskrcnn_resnet50_fpn"), timeout=CALL_TIMEOUT_S)
        output = tmp_path / "detections.json"
        # One thread, as the server's: GEMMs round as their thread count splits them.
        run_tool("roiserve-detect", "--model", parity / "bundle", "--threads", 1, "--json", output,
                 parity / "image0.png")
        assert detection_records(served.detections) == json.loads(output.read_text())["images"][0]["detections"]

        for model, options, says in [
                ("maskrcnn_resnet50_fpn", {"head": "spp"}, "has no box head 'spp' (it has: roi_align)"),
                ("maskrcnn_resnet50_fpn", {"mask_pooler": "roi_pool"}, "has no mask pooler 'roi_pool'"),
                ("fasterrcnn_resnet50_fpn", {"head": "ps_roi_pool"}, "(it has: roi_align)"),
                ("fasterrcnn_resnet50_fpn", {"mask_format": pb.MASK_FORMAT_COCO_RLE}, "has no mask branch")]:
            error = call_error(stub.Detect, detect_request(image, model=model, **options))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (model, options)
            assert says in error.details(), error.details()
