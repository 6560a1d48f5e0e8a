"""roiserve-eval end to end: its numbers on a COCO-format export of shapes-v1
equal pycocotools' COCOeval on the detections it wrote; the report holds every
head and pooler; bad input is a clear error. And the shipped bundle is readable
by Python torch, as its format promises."""
import contextlib
import io
import json

import pytest
import torch
import yaml

from tool_support import CLASSES, SHIPPED_MODEL, export_shapes, run_tool

pytest.importorskip("pycocotools", reason="pycocotools is not installed: run with .venv-test/bin/python")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
HEADS = ["ps_roi_pool", "roi_align", "roi_pool", "spp"]
POOLERS = ["roi_align", "roi_pool"]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """20 validation images exported as COCO files, evaluated with every head and pooler."""
    data = tmp_path_factory.mktemp("data")
    export_shapes(data, 20)
    report_dir = tmp_path_factory.mktemp("report")
    run_tool("roiserve-eval", "--model", SHIPPED_MODEL, "--coco-annotations", data / "instances.json",
             "--coco-images", data / "images", "--write-results", "--threads", 2, "--output", report_dir)
    return data, report_dir, json.loads((report_dir / "report.json").read_text())


def pycocotools_stats(annotations, results, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        evaluation = COCOeval(truth, truth.loadRes(str(results)), iou_type)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return dict(zip(STAT_NAMES, evaluation.stats.tolist()))


def test_box_and_mask_ap_equal_pycocotools(evaluated):
    data, report_dir, report = evaluated
    for head in report["box_heads"]:
        expected = pycocotools_stats(data / "instances.json",
                                     report_dir / "results" / f"{head['head']}_bbox.json", "bbox")
        assert head["bbox"] == pytest.approx(expected, abs=1e-12), head["head"]
    for mask in report["masks"]:
        results = report_dir / "results" / f"{mask['head']}_{mask['mask_pooler']}_segm.json"
        expected = pycocotools_stats(data / "instances.json", results, "segm")
        assert mask["segm"] == pytest.approx(expected, abs=1e-12), (mask["head"], mask["mask_pooler"])


def test_report_covers_every_head_pooler_and_pair(evaluated):
    _, report_dir, report = evaluated
    assert report["images"] == 20
    assert report["classes"] == CLASSES
    assert sorted(h["head"] for h in report["box_heads"]) == HEADS
    assert sorted((m["head"], m["mask_pooler"]) for m in report["masks"]) == [
        (h, p) for h in HEADS for p in POOLERS]
    assert len(report["agreement"]) == 6
    for pair in report["agreement"]:
        assert pair["matched"] > 0 and 0.5 <= pair["mean_iou"] <= 1.0
    for stage in ("preprocess", "backbone", "rpn"):
        assert report["shared_latency_ms"][stage]["mean"] > 0
    markdown = (report_dir / "report.md").read_text()
    html = (report_dir / "report.html").read_text()
    for head in HEADS:
        assert f"| {head} |" in markdown and f"<td>{head}</td>" in html
    for plot in ("pr_bbox.png", "pr_segm.png"):
        assert (report_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_head_detects_shapes(evaluated):
    _, _, report = evaluated
    for head in report["box_heads"]:
        assert head["bbox"]["AP50"] >= 0.8, head["head"]
    for mask in report["masks"]:
        assert mask["segm"]["AP50"] >= 0.8, (mask["head"], mask["mask_pooler"])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--heads", "roi_align,fpn_magic"], "has no box head 'fpn_magic'"),
        (["--mask-poolers", "ps_roi_align"], "has no mask pooler 'ps_roi_align'"),
        (["--coco-annotations", "/nonexistent.json"], "/nonexistent.json"),
        (["--shapes-count", "0"], "--shapes-count"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, flags, message):
    completed = run_tool("roiserve-eval", "--model", SHIPPED_MODEL, "--shapes-count", 1, *flags,
                         "--output", tmp_path / "r", check=False)
    assert completed.returncode != 0
    assert message in completed.stderr, completed.stderr


def test_shipped_bundle_is_readable_by_python_torch():
    config = yaml.safe_load((SHIPPED_MODEL / "model.yaml").read_text())
    assert config["format_version"] == 1
    assert config["classes"] == CLASSES
    assert sorted(config["roi_heads"]["box_heads"]) == HEADS
    weights = torch.load(SHIPPED_MODEL / "weights.pt")
    assert isinstance(weights, dict) and len(weights) > 100
    assert all(isinstance(name, str) and isinstance(t, torch.Tensor) for name, t in weights.items())
    assert all(torch.isfinite(t.float()).all() for t in weights.values())
    stem = weights["backbone.body.conv1.weight"]
    assert stem.shape == (config["backbone"]["stem_channels"], 3, 7, 7)
