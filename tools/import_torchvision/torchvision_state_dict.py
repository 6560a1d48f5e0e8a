"""torchvision's Faster/Mask R-CNN ResNet-50 FPN state dicts in roiserve's names.

torchvision renamed some modules in 0.13 (FPN blocks, the RPN head's conv and
the mask head's convs became Conv2dNormActivation, one level deeper); a
checkpoint in either layout maps to the same roiserve tensors. Anything this
module does not recognise is an error: a checkpoint of another architecture
(keypoint R-CNN, the _v2 models with normalized heads, another backbone) must
not load with parts silently dropped.
"""
import re

MASK_RCNN = "maskrcnn_resnet50_fpn"
FASTER_RCNN = "fasterrcnn_resnet50_fpn"

# (torchvision key pattern, roiserve name template); both layouts of a renamed
# module are listed. roiserve serves the box head as its "roi_align" head and
# the mask head as the "roi_align" mask pooler.
_RENAMES = [
    (r"backbone\.body\.(.+)", r"backbone.body.\1"),
    (r"backbone\.fpn\.(inner|layer)_blocks\.(\d+)\.(?:0\.)?(weight|bias)", r"backbone.fpn.\1_blocks.\2.\3"),
    (r"rpn\.head\.conv\.(?:0\.0\.)?(weight|bias)", r"rpn.head.conv.\1"),
    (r"rpn\.head\.(cls_logits|bbox_pred)\.(weight|bias)", r"rpn.head.\1.\2"),
    (r"roi_heads\.box_head\.(fc6|fc7)\.(weight|bias)", r"box_heads.roi_align.mlp.\1.\2"),
    (r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.(weight|bias)", r"box_heads.roi_align.mlp.\1.\2"),
    (r"roi_heads\.mask_head\.(\d+)\.0\.(weight|bias)", r"mask_heads.roi_align.convs.\1.\2"),
    (r"roi_heads\.mask_predictor\.conv5_mask\.(weight|bias)", r"mask_heads.roi_align.upsample.\1"),
    (r"roi_heads\.mask_predictor\.mask_fcn_logits\.(weight|bias)", r"mask_heads.roi_align.logits.\1"),
]
# Before torchvision 0.13 the mask head's convs were mask_fcn1..4 (1-based).
_OLD_MASK_CONV = re.compile(r"roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)")
# BatchNorm's step counter: torchvision's FrozenBatchNorm2d ignores it, and so
# does roiserve's frozen norm.
_IGNORED = re.compile(r".*\.num_batches_tracked")


class CheckpointError(ValueError):
    """The file is not a checkpoint of an architecture this importer knows."""


def unwrap_checkpoint(loaded):
    """The state dict of a torch.load result: a bare state dict, or the
    {"model": state_dict, "optimizer": ...} checkpoints of torchvision's
    detection training references."""
    if isinstance(loaded, dict) and isinstance(loaded.get("model"), dict):
        loaded = loaded["model"]
    if not isinstance(loaded, dict) or not loaded:
        raise CheckpointError("expected a state dict ({name: tensor}) or a checkpoint holding one under 'model'")
    return loaded


def architecture_of(state):
    """MASK_RCNN when the checkpoint has torchvision's mask branch, else FASTER_RCNN."""
    if not any(key.startswith("roi_heads.box_predictor.") for key in state):
        raise CheckpointError("no roi_heads.box_predictor tensors: not a torchvision Faster/Mask R-CNN state dict")
    return MASK_RCNN if any(key.startswith("roi_heads.mask_") for key in state) else FASTER_RCNN


def roiserve_name(key):
    """The roiserve tensor a torchvision key maps to; None for ignored keys."""
    if _IGNORED.fullmatch(key):
        return None
    old_mask_conv = _OLD_MASK_CONV.fullmatch(key)
    if old_mask_conv:
        index, kind = old_mask_conv.groups()
        return f"mask_heads.roi_align.convs.{int(index) - 1}.{kind}"
    for pattern, template in _RENAMES:
        match = re.fullmatch(pattern, key)
        if match:
            return match.expand(template)
    raise CheckpointError(
        f"unexpected tensor '{key}': the importer reads torchvision's {MASK_RCNN} and {FASTER_RCNN} "
        f"(not their _v2 variants, keypoint R-CNN or other backbones)")


def to_roiserve_state(state):
    """{roiserve name: float32 contiguous tensor} of a torchvision state dict."""
    converted = {}
    for key, tensor in state.items():
        name = roiserve_name(key)
        if name is None:
            continue
        if name in converted:
            raise CheckpointError(f"'{key}' maps to '{name}', which another key of the checkpoint maps to too")
        converted[name] = tensor.detach().to("cpu").float().contiguous()
    return converted


def num_classes_with_background(state):
    """The class count of the box predictor (91 for torchvision's COCO models)."""
    return state["box_heads.roi_align.mlp.cls_score.weight"].shape[0]
