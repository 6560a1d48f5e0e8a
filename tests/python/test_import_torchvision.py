"""tools/import_torchvision: what it reads (either key layout, training
checkpoints, other class counts), what it refuses with a clear message, and
that the model.yaml it writes holds torchvision's preprocessing, defaults and
COCO categories. The numerical parity of imported models is
test_torchvision_parity.py's."""
import pytest
import torch
import torchvision
import yaml
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

import torchvision_parity as tp  # first: it puts tools/import_torchvision on sys.path
import import_torchvision
import torchvision_state_dict as tv


@pytest.fixture(scope="module")
def maskrcnn_state():
    torch.manual_seed(0)
    return torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()


def test_old_and_new_key_layouts_import_to_the_same_tensors(maskrcnn_state):
    old = tp.old_key_layout(maskrcnn_state)
    assert set(old) != set(maskrcnn_state)
    new_import = tv.to_roiserve_state(maskrcnn_state)
    old_import = tv.to_roiserve_state(old)
    assert set(new_import) == set(old_import)
    assert all(torch.equal(new_import[name], old_import[name]) for name in new_import)
    # The BatchNorm step counters are all that is left out.
    assert len(new_import) == len(maskrcnn_state) - sum(k.endswith("num_batches_tracked") for k in maskrcnn_state)


def test_the_old_layout_of_the_tests_is_the_one_torchvision_reads(maskrcnn_state):
    # torchvision converts pre-0.13 names when it loads a state dict without
    # version metadata; a strict load proves old_key_layout writes those names.
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    model.load_state_dict(tp.old_key_layout(maskrcnn_state))
    assert torch.equal(model.rpn.head.conv[0][0].weight, maskrcnn_state["rpn.head.conv.0.0.weight"])


def test_the_architecture_follows_the_checkpoint(maskrcnn_state):
    assert tv.architecture_of(maskrcnn_state) == tv.MASK_RCNN
    without_masks = {k: v for k, v in maskrcnn_state.items() if not k.startswith("roi_heads.mask_")}
    assert tv.architecture_of(without_masks) == tv.FASTER_RCNN


@pytest.mark.parametrize("builder, refused_key", [
    (torchvision.models.detection.fasterrcnn_resnet50_fpn_v2, "backbone.fpn.inner_blocks.0.1.weight"),
    (torchvision.models.detection.keypointrcnn_resnet50_fpn, "roi_heads.keypoint_head.0.weight"),
])
def test_other_architectures_are_refused_by_name(builder, refused_key):
    state = builder(weights=None, weights_backbone=None).state_dict()
    assert refused_key in state
    with pytest.raises(tv.CheckpointError, match="not their _v2 variants, keypoint R-CNN"):
        tv.to_roiserve_state(state)
    with pytest.raises(tv.CheckpointError, match=f"unexpected tensor '{refused_key}'"):
        tv.roiserve_name(refused_key)


def test_another_resnet_depth_is_refused_by_stage():
    body = {f"backbone.body.{key}": tensor for key, tensor in torchvision.models.resnet101().state_dict().items()}
    with pytest.raises(tv.CheckpointError, match="backbone stage layer3 has 23 blocks; ResNet-50 has 6"):
        import_torchvision.check_resnet_depth(body, [3, 4, 6, 3])


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    completed = tp.import_checkpoint(tmp_path / "notes.pth", tmp_path / "bundle")
    assert completed.returncode == 1
    assert completed.stderr.startswith(f"import_torchvision: {tmp_path / 'notes.pth'}: ")
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "bundle").exists()


def test_a_checkpoint_that_is_no_detector_is_refused():
    with pytest.raises(tv.CheckpointError, match="not a torchvision Faster/Mask R-CNN"):
        tv.architecture_of(torchvision.models.resnet18().state_dict())
    with pytest.raises(tv.CheckpointError, match="expected a state dict"):
        tv.unwrap_checkpoint([1, 2])


def test_the_bundle_holds_torchvisions_preprocessing_defaults_and_coco_categories(tmp_path):
    model = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    torch.save(model.state_dict(), tmp_path / "faster.pth")
    completed = tp.import_checkpoint(tmp_path / "faster.pth", tmp_path / "bundle")
    assert completed.returncode == 0, completed.stderr
    config = yaml.safe_load((tmp_path / "bundle" / "model.yaml").read_text())
    assert config["name"] == "fasterrcnn_resnet50_fpn"
    assert config["classes"] == FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"][1:]
    transform, rpn, roi_heads = model.transform, model.rpn, model.roi_heads
    assert config["preprocess"] == {"mean": transform.image_mean, "std": transform.image_std,
                                    "resize": "shorter_side", "min_size": transform.min_size[-1],
                                    "max_size": transform.max_size, "size_divisible": transform.size_divisible}
    assert config["backbone"]["norm_eps"] == 0.0, "torchvision's COCO_V1 weights are evaluated with eps 0"
    assert config["rpn"]["pre_nms_top_n_test"] == rpn._pre_nms_top_n["testing"]
    assert config["rpn"]["post_nms_top_n_test"] == rpn._post_nms_top_n["testing"]
    assert (config["rpn"]["nms_iou"], config["rpn"]["min_size"], config["rpn"]["score_threshold"]) == \
        (rpn.nms_thresh, rpn.min_size, rpn.score_thresh)
    assert config["roi_heads"]["box_coder_weights"] == list(roi_heads.box_coder.weights)
    assert config["roi_heads"]["box_heads"] == {"roi_align": {"pooled_size": 7, "sampling_ratio": 2,
                                                              "representation_size": 1024}}
    assert "mask" not in config["roi_heads"]
    assert config["postprocess"] == {"score_threshold": roi_heads.score_thresh, "nms_iou": roi_heads.nms_thresh,
                                     "max_detections": roi_heads.detections_per_img}
    state = torch.load(tmp_path / "bundle" / "weights.pt")
    assert state["box_heads.roi_align.mlp.fc6.weight"].shape == (1024, 256 * 7 * 7)


def test_a_training_checkpoint_with_its_own_classes_imports(tmp_path):
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3)
    torch.save({"model": model.state_dict(), "epoch": 25}, tmp_path / "checkpoint.pth")
    completed = tp.import_checkpoint(tmp_path / "checkpoint.pth", tmp_path / "bundle")
    assert completed.returncode == 1
    assert "the checkpoint has 2 classes, not COCO's 90: name them with --classes" in completed.stderr

    (tmp_path / "classes.txt").write_text("cat\ndog\nbird\n")
    completed = tp.import_checkpoint(tmp_path / "checkpoint.pth", tmp_path / "bundle", "--classes",
                                     tmp_path / "classes.txt")
    assert completed.returncode == 1
    assert "lists 3 classes; the checkpoint's box predictor has 2" in completed.stderr

    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    completed = tp.import_checkpoint(tmp_path / "checkpoint.pth", tmp_path / "bundle", "--classes",
                                     tmp_path / "classes.txt", "--name", "pets", "--norm-eps", "1e-5")
    assert completed.returncode == 0, completed.stderr
    config = yaml.safe_load((tmp_path / "bundle" / "model.yaml").read_text())
    assert (config["name"], config["classes"], config["backbone"]["norm_eps"]) == ("pets", ["cat", "dog"], 1e-5)
    assert config["roi_heads"]["mask"]["poolers"] == ["roi_align"]
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == ["model.yaml", "weights.pt"]
