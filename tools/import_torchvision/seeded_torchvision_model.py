"""torchvision's Faster/Mask R-CNN ResNet-50 FPN with seeded, non-trivial
random weights: what the parity tests and the benchmark run instead of
downloaded COCO weights.

The model is the one torchvision builds for its COCO checkpoints:
maskrcnn_resnet50_fpn / fasterrcnn_resnet50_fpn(weights=None,
weights_backbone=None) with every BatchNorm2d replaced by a FrozenBatchNorm2d
of the given eps. Default initialisation would leave parts of it inert (RPN
logits near 0 make every objectness a tie at 0.5, untrained BatchNorm
statistics let activations vanish or explode through 50 layers), so:
- the frozen norms get the statistics of a calibration image, perturbed, and
  random scales and shifts: every channel is transformed, none is dead;
- the RPN, box and mask predictors are rescaled so that on that image their
  outputs have a spread that makes scores, box deltas and mask probabilities
  differ from one anchor, class and pixel to the next.
Every layer then changes the result, so a converter or detector mistake in
any of them shows in the comparison.
"""
import torch
import torchvision
from torchvision.ops.misc import FrozenBatchNorm2d

BUILDERS = {
    "maskrcnn_resnet50_fpn": torchvision.models.detection.maskrcnn_resnet50_fpn,
    "fasterrcnn_resnet50_fpn": torchvision.models.detection.fasterrcnn_resnet50_fpn,
}
# The calibration image: smooth noise, resized by the model to 800 x 1066 like
# a typical COCO image.
CALIBRATION_HEIGHT, CALIBRATION_WIDTH = 240, 320
NOISE_CELL = 12  # pixels per random colour before smoothing
# Target standard deviations of the predictors' outputs on the calibration
# image: objectness and class scores spread out but far from saturating the
# sigmoid and softmax in float32, boxes moved by a fraction of their size.
RPN_LOGIT_STD = 1.5
RPN_DELTA_STD = 0.2
CLASS_LOGIT_STD = 1.5
BOX_DELTA_STD = 1.0  # before the (10, 10, 5, 5) box coder weights
MASK_LOGIT_STD = 3.0


def smooth_noise_image(height, width, generator):
    """A [3, H, W] uint8 image of bicubically smoothed random colours."""
    coarse = torch.rand(1, 3, -(-height // NOISE_CELL), -(-width // NOISE_CELL), generator=generator)
    image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    return (image[0].clamp(0, 1) * 255).round().to(torch.uint8)


def _calibrate_norms(backbone, image, generator):
    """Random affines first, then the batch statistics they produce on `image`
    as running statistics (one train-mode pass with cumulative averaging),
    perturbed. Returns the FPN features of that pass, which the heads are
    calibrated on."""
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.weight.data = torch.empty_like(norm.weight).uniform_(0.5, 1.5, generator=generator)
        norm.bias.data = 0.2 * torch.randn(norm.bias.shape, generator=generator)
        norm.momentum = None
        norm.reset_running_stats()
    backbone.train()
    with torch.no_grad():
        features = backbone(image)
    backbone.eval()
    for norm in norms:
        # Bounded below so that eps 0.0 never divides by zero.
        norm.running_mean += 0.1 * norm.running_var.sqrt() * torch.randn(norm.running_mean.shape, generator=generator)
        norm.running_var *= torch.empty_like(norm.running_var).uniform_(0.8, 1.25, generator=generator)
        norm.running_var += 1e-2
    return features


def _freeze_norms(module, eps):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=eps)
            for buffer in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, buffer).copy_(getattr(child, buffer).detach())
            setattr(module, name, frozen)
        else:
            _freeze_norms(child, eps)


def _rescale(layer, output, target_std, generator):
    """Scales the layer's weight so that `output` (its output) would have
    target_std, and gives it a random bias of a third of that spread."""
    layer.weight.data *= target_std / output.std().clamp_min(1e-12)
    layer.bias.data = (target_std / 3) * torch.randn(layer.bias.shape, generator=generator)


def _calibrate_heads(model, batch, features, generator):
    """Rescales each predictor after the ones before it, on the proposals the
    model itself makes for the calibration image."""
    with torch.no_grad():
        head = model.rpn.head
        hidden = [head.conv(level) for level in features.values()]
        _rescale(head.cls_logits, torch.cat([head.cls_logits(h).flatten() for h in hidden]), RPN_LOGIT_STD, generator)
        _rescale(head.bbox_pred, torch.cat([head.bbox_pred(h).flatten() for h in hidden]), RPN_DELTA_STD, generator)

        proposals, _ = model.rpn(batch, features)
        box_features = model.roi_heads.box_head(model.roi_heads.box_roi_pool(features, proposals, batch.image_sizes))
        predictor = model.roi_heads.box_predictor
        _rescale(predictor.cls_score, predictor.cls_score(box_features), CLASS_LOGIT_STD, generator)
        _rescale(predictor.bbox_pred, predictor.bbox_pred(box_features), BOX_DELTA_STD, generator)

        if model.roi_heads.has_mask():
            # As many RoIs as the mask branch sees at test time (max detections).
            mask_rois = [boxes[:model.roi_heads.detections_per_img] for boxes in proposals]
            mask_features = model.roi_heads.mask_head(
                model.roi_heads.mask_roi_pool(features, mask_rois, batch.image_sizes))
            mask_predictor = model.roi_heads.mask_predictor
            upsampled = mask_predictor.relu(mask_predictor.conv5_mask(mask_features))
            _rescale(mask_predictor.mask_fcn_logits, mask_predictor.mask_fcn_logits(upsampled), MASK_LOGIT_STD,
                     generator)


def build(architecture, seed, norm_eps):
    """The eval-mode torchvision model of `architecture`, its weights a function of seed."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = BUILDERS[architecture](weights=None, weights_backbone=None)
    model.eval()
    image = smooth_noise_image(CALIBRATION_HEIGHT, CALIBRATION_WIDTH, generator)
    batch, _ = model.transform([image.float() / 255])
    features = _calibrate_norms(model.backbone, batch.tensors, generator)
    _freeze_norms(model.backbone.body, norm_eps)
    _calibrate_heads(model, batch, features, generator)
    return model
