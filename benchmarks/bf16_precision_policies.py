#!/usr/bin/env python3
"""How many of fp32's detections a bf16 precision policy keeps on the seeded
Mask R-CNN R50-FPN of the parity tests, and how much any perturbation of that
model costs: the evidence behind issue 17's bf16 accuracy gate (>= 98% of
fp32's detections, same class, IoU >= 0.5).

Each policy says which layers take bf16 sources and weights, which tensors
are rounded to bf16 on the way out (a convolution's dst, the residual stream
of the ResNet blocks, the FPN's top-down sums) and whether biases are rounded.
It is emulated in fp32: a bf16 convolution or linear rounds its input and
weight to bf16 and accumulates in fp32, as oneDNN's bf16 kernels do, so an
"fp32 dst" is exactly oneDNN's bf16 src/weights with an fp32 destination.
BatchNorm is folded into the convolutions, as roiserve prepares them. Besides
the bf16 policies, the table has the same model with a wider emulated
significand everywhere (how much precision the gate would need) and fp32 with
only its input perturbed (how chaotic the seeded weights are). The reference
is this script's fp32 (BN folded: it finds 99.9% of torchvision's own
detections). Masks do not change boxes or labels and are not computed.

Same inputs as compare_onnxruntime.py: shapes-v1 images zero-padded to 320 x
320, resized to 800 x 800. Besides the rate over all of fp32's 100 detections
per image, the rate over its 10 best-scored ones. Reports, asserts nothing.

    .venv-test/bin/python benchmarks/bf16_precision_policies.py [--cases all-bf16,...] [--threads 2]
        [--build build]
"""
import argparse
import collections
import copy
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_onnxruntime  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)
from compare_onnxruntime import detector_comparison  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BF16_SIGNIFICAND_BITS = 7  # stored mantissa bits
FP32_SIGNIFICAND_BITS = 23
TOP_SCORED = 10


def round_significand(tensor, bits):
    """tensor rounded to nearest-even with `bits` mantissa bits, kept in fp32
    storage (bits 7: exactly bfloat16)."""
    if bits >= FP32_SIGNIFICAND_BITS:
        return tensor
    if bits == BF16_SIGNIFICAND_BITS:
        return tensor.to(torch.bfloat16).float()
    dropped = FP32_SIGNIFICAND_BITS - bits
    raw = tensor.float().clone().view(torch.int32)
    raw = (raw + ((1 << (dropped - 1)) - 1) + ((raw >> dropped) & 1)) & ~((1 << dropped) - 1)
    return raw.view(torch.float32)


class Precision:
    """Whether a layer runs in low precision, what it rounds, and to how many bits."""

    def __init__(self, low, round_dst, bits, round_bias):
        self.low, self.round_dst, self.bits, self.round_bias = low, round_dst, bits, round_bias

    def rounded(self, tensor):
        return round_significand(tensor, self.bits) if self.low and self.round_dst else tensor


class FoldedLayer:
    """A convolution (with its frozen BatchNorm folded in) or a linear layer."""

    def __init__(self, module, norm=None):
        weight = module.weight.detach().clone()
        bias = module.bias.detach().clone() if module.bias is not None else torch.zeros(weight.shape[0])
        if norm is not None:
            scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
            weight = weight * scale.view(-1, *([1] * (weight.dim() - 1)))
            bias = bias * scale + norm.bias - norm.running_mean * scale
        self.module, self.weight, self.bias = module, weight, bias
        self.rounded_weights = {}

    def __call__(self, x, precision):
        weight, bias = self.weight, self.bias
        if precision.low:
            if precision.bits not in self.rounded_weights:
                self.rounded_weights[precision.bits] = (round_significand(weight, precision.bits),
                                                        round_significand(bias, precision.bits))
            weight, rounded_bias = self.rounded_weights[precision.bits]
            bias = rounded_bias if precision.round_bias else bias
            x = round_significand(x, precision.bits)
        if weight.dim() == 2:
            y = F.linear(x, weight, bias)
        else:
            m = self.module
            y = F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation, m.groups)
        return precision.rounded(y)


# Where a policy runs bf16: stem, layer1..layer4, fpn, rpn, mlp (fc6, fc7),
# predictor; which dsts it rounds: residual (conv3, downsample, the block's
# sum), fpn_sums (lateral convs and top-down sums), fpn_out, rpn_out,
# predictor_out; and biases. Inner activations (conv1/conv2 of a block, the
# RPN's hidden conv, fc6/fc7) are a bf16 layer's next source: rounded anyway.
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4", "fpn", "rpn", "mlp", "predictor")
ROUNDED_DSTS = ("residual", "fpn_sums", "fpn_out", "rpn_out", "predictor_out", "bias")


def policy(low=(), rounded=ROUNDED_DSTS, bits=BF16_SIGNIFICAND_BITS):
    return {"low": set(low), "rounded": set(rounded), "bits": bits}


BACKBONE_BODY = ("stem", "layer1", "layer2", "layer3", "layer4")
CASES = {
    "all-bf16": ("all bf16 (roiserve's bf16 today)", policy(STAGES)),
    "all-bf16-fp32-dsts": ("all bf16 sources and weights; every dst that is not a bf16 layer's next source "
                           "fp32 (residual stream, FPN, RPN and predictor outputs), fp32 biases",
                           policy(STAGES, rounded=())),
    "all-bf16-fp32-residual": ("all bf16, residual stream fp32", policy(STAGES, rounded=set(ROUNDED_DSTS) - {
        "residual"})),
    "body-only": ("ResNet body bf16 only", policy(BACKBONE_BODY)),
    "layer4-only": ("layer4 bf16 only", policy(("layer4",))),
    "fpn-only": ("FPN bf16 only (fp32 dsts)", policy(("fpn",), rounded=("bias",))),
    "rpn-only": ("RPN head bf16 only (fp32 objectness and deltas)", policy(("rpn",), rounded=("bias",))),
    "box-head-only": ("fc6, fc7 and predictor bf16 only (fp32 logits)", policy(("mlp", "predictor"),
                                                                              rounded=("bias",))),
    "significand-10": ("all-bf16 pattern, 10-bit mantissa (TF32, fp16)", policy(STAGES, bits=10)),
    "significand-12": ("all-bf16 pattern, 12-bit mantissa", policy(STAGES, bits=12)),
    "significand-14": ("all-bf16 pattern, 14-bit mantissa", policy(STAGES, bits=14)),
    "significand-16": ("all-bf16 pattern, 16-bit mantissa", policy(STAGES, bits=16)),
    "input-bf16": ("fp32, input image rounded to bf16", policy()),
    "input-noise-1e-3": ("fp32, input x (1 + 1e-3 N(0, 1))", policy()),
    "input-noise-1e-4": ("fp32, input x (1 + 1e-4 N(0, 1))", policy()),
}
INPUT_PERTURBATIONS = {
    "input-bf16": lambda image, generator: image.to(torch.bfloat16).float(),
    "input-noise-1e-3": lambda image, generator: image * (1 + 1e-3 * torch.randn(image.shape, generator=generator)),
    "input-noise-1e-4": lambda image, generator: image * (1 + 1e-4 * torch.randn(image.shape, generator=generator)),
}


class EmulatedDetector:
    """The seeded model's layers, folded, run under one policy; torchvision's
    own anchors, proposal filtering, RoI pooling and box postprocessing."""

    def __init__(self, model):
        body = model.backbone.body
        self.stem = FoldedLayer(body.conv1, body.bn1)
        self.stages = [[(FoldedLayer(block.conv1, block.bn1), FoldedLayer(block.conv2, block.bn2),
                         FoldedLayer(block.conv3, block.bn3),
                         FoldedLayer(*block.downsample) if block.downsample is not None else None)
                        for block in getattr(body, f"layer{index}")] for index in range(1, 5)]
        fpn = model.backbone.fpn
        self.lateral = [FoldedLayer(block[0]) for block in fpn.inner_blocks]
        self.output = [FoldedLayer(block[0]) for block in fpn.layer_blocks]
        rpn = model.rpn.head
        self.rpn = [FoldedLayer(rpn.conv[0][0]), FoldedLayer(rpn.cls_logits), FoldedLayer(rpn.bbox_pred)]
        box_head, predictor = model.roi_heads.box_head, model.roi_heads.box_predictor
        self.mlp = [FoldedLayer(box_head.fc6), FoldedLayer(box_head.fc7)]
        self.predictor = [FoldedLayer(predictor.cls_score), FoldedLayer(predictor.bbox_pred)]
        self.model = model

    def _precision(self, policy, stage, dst):
        low = stage in policy["low"]
        rounded = dst is None or dst in policy["rounded"]
        return Precision(low, rounded, policy["bits"], "bias" in policy["rounded"])

    def backbone(self, images, policy):
        x = self.stem(images, self._precision(policy, "stem", None)).relu()
        x = F.max_pool2d(x, 3, 2, 1)
        stage_outputs = []
        for index, blocks in enumerate(self.stages, start=1):
            inner = self._precision(policy, f"layer{index}", None)
            residual = self._precision(policy, f"layer{index}", "residual")
            for reduce, spatial, expand, downsample in blocks:
                y = expand(spatial(reduce(x, inner).relu(), inner).relu(), residual)
                x = residual.rounded(y + (downsample(x, residual) if downsample is not None else x)).relu()
            stage_outputs.append(x)
        sums = self._precision(policy, "fpn", "fpn_sums")
        outputs = self._precision(policy, "fpn", "fpn_out")
        top_down = self.lateral[-1](stage_outputs[-1], sums)
        pyramid = [self.output[-1](top_down, outputs)]
        for level in range(len(stage_outputs) - 2, -1, -1):
            lateral = self.lateral[level](stage_outputs[level], sums)
            top_down = sums.rounded(lateral + F.interpolate(top_down, size=lateral.shape[-2:], mode="nearest"))
            pyramid.insert(0, self.output[level](top_down, outputs))
        pyramid.append(F.max_pool2d(pyramid[-1], 1, 2, 0))
        return collections.OrderedDict(zip(("0", "1", "2", "3", "pool"), pyramid))

    def rpn_head(self, features, policy):
        hidden_precision = self._precision(policy, "rpn", None)
        out_precision = self._precision(policy, "rpn", "rpn_out")
        hidden = [self.rpn[0](feature, hidden_precision).relu() for feature in features]
        return ([self.rpn[1](h, out_precision) for h in hidden], [self.rpn[2](h, out_precision) for h in hidden])

    def box_head(self, pooled, policy):
        inner = self._precision(policy, "mlp", None)
        x = self.mlp[1](self.mlp[0](pooled.flatten(1), inner).relu(), inner).relu()
        out_precision = self._precision(policy, "predictor", "predictor_out")
        return tuple(layer(x, out_precision) for layer in self.predictor)

    def detections(self, image, policy):
        """{boxes, labels, scores} of one image, torchvision's thresholds."""
        detector = copy.copy(self.model)
        detector.backbone = _Stage(lambda images: self.backbone(images, policy))
        detector.rpn = copy.copy(self.model.rpn)
        detector.rpn.head = _Stage(lambda features: self.rpn_head(features, policy))
        detector.roi_heads = copy.copy(self.model.roi_heads)
        detector.roi_heads.box_head = _Stage(lambda pooled: pooled)
        detector.roi_heads.box_predictor = _Stage(lambda pooled: self.box_head(pooled, policy))
        return detector([image])[0]


class _Stage(torch.nn.Module):
    """A function where torchvision's detector calls a submodule."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, *inputs):
        return self.function(*inputs)


def top_scored(detections, count):
    return [{key: value[:count] for key, value in image.items()} for image in detections]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--build", type=Path, default=detector_comparison.REPO_ROOT / "build",
                        help="where tools/roiserve-shapes is")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = detector_comparison.seeded_torchvision_model.build("maskrcnn_resnet50_fpn", detector_comparison.SEED,
                                                               compare_onnxruntime.NORM_EPS)
    model.roi_heads.mask_roi_pool = model.roi_heads.mask_head = model.roi_heads.mask_predictor = None
    model.eval()
    with tempfile.TemporaryDirectory() as directory:
        images = detector_comparison.square_inputs(args.build, directory)
    detector = EmulatedDetector(model)
    with torch.inference_mode():
        reference = [detector.detections(image, policy()) for image in images]
        torchvision_fp32 = [model([image])[0] for image in images]
    folding_kept = compare_onnxruntime.matched_fraction(_pairs(torchvision_fp32), _pairs(reference))
    print(f"reference (fp32, BN folded) finds {100 * folding_kept:.1f}% of torchvision's detections; "
          f"{len(images)} images, {sum(len(d['boxes']) for d in reference)} detections\n")
    print(f"| case | matched | of the {TOP_SCORED} best-scored |\n|---|---:|---:|")
    generator = torch.Generator().manual_seed(1)
    for case in args.cases.split(","):
        title, case_policy = CASES[case]
        perturb = INPUT_PERTURBATIONS.get(case, lambda image, _: image)
        with torch.inference_mode():
            detections = [detector.detections(perturb(image, generator), case_policy) for image in images]
        all_matched = compare_onnxruntime.matched_fraction(_pairs(reference), _pairs(detections))
        best_matched = compare_onnxruntime.matched_fraction(_pairs(top_scored(reference, TOP_SCORED)),
                                                            _pairs(detections))
        print(f"| {title} | {100 * all_matched:.1f}% | {100 * best_matched:.1f}% |", flush=True)
    return 0


def _pairs(detections):
    return [(d["boxes"], d["labels"]) for d in detections]


if __name__ == "__main__":
    sys.exit(main())
