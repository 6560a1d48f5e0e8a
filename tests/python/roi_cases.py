"""Random case generation and comparison helpers shared by the parity tests.

A case is fully determined by its integer seed, so a failure message that
prints `describe(case)` is enough to reproduce it with `make_case(seed, ...)`.
Geometry is drawn in feature-map cells and divided by spatial_scale, so that
"inside", "outside" and "huge" mean what they say at every scale.
"""
import os
import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision  # noqa: F401  (registers torch.ops.torchvision.*)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIBRARY = REPO_ROOT / "build" / "ops" / "libroiserve_ops.so"
DEFAULT_CUDA_HOST_LIBRARY = REPO_ROOT / "build" / "ops" / "libroiserve_cuda_host.so"
# The suite runs against torch.ops.roiserve (the CPU kernels) or, with
# ROISERVE_OPS_NAMESPACE=roiserve_cuda_host, against the CUDA kernels run on
# the CPU by libroiserve_cuda_host.so.
OPS_NAMESPACE = os.environ.get("ROISERVE_OPS_NAMESPACE", "roiserve")
CUDA_HOST_NAMESPACE = "roiserve_cuda_host"
# The CUDA kernels' backward passes add with atomics, in an order no test may
# rely on: their gradients match the reference to rounding, not bit for bit.
ATOMIC_GRADIENTS = OPS_NAMESPACE == CUDA_HOST_NAMESPACE

DTYPES = (torch.float32, torch.float64)
SPATIAL_SCALES = (1.0, 0.5, 0.25, 1.0 / 8, 0.3)
SAMPLING_RATIOS = (-1, 0, 1, 2, 3)
# How the features are laid out in memory; every layout has the logical shape
# [N, C, H, W] and the kernels must read the same values from each.
LAYOUTS = (
    "contiguous",
    "channels_last",
    "sliced",  # x[:, :, 1:, ::2] of a larger map
    "channel_slice",  # every other channel of a larger map
    "channels_last_slice",  # every other channel of a channels-last map
    "expanded",  # one image expanded over the batch (batch stride 0)
    "transposed",  # a [N, C, W, H] tensor transposed back: H, W strides swapped
)
ROI_KINDS = ("inside", "partial", "outside", "degenerate", "huge")
DEGENERATE_KINDS = ("reversed_x", "reversed_y", "reversed_both", "zero_width", "zero_height", "point")


def ops_library_path():
    """ROISERVE_OPS_LIB if set, else the library of the default CMake build."""
    override = os.environ.get("ROISERVE_OPS_LIB")
    return Path(override) if override else DEFAULT_LIBRARY


def cuda_host_library_path():
    """ROISERVE_CUDA_HOST_LIB if set, else the emulation of the default CMake build."""
    override = os.environ.get("ROISERVE_CUDA_HOST_LIB")
    return Path(override) if override else DEFAULT_CUDA_HOST_LIBRARY


def rv():
    """The roiserve ops namespace under test (its library is loaded by conftest)."""
    return getattr(torch.ops, OPS_NAMESPACE)


def tv():
    """The torchvision 0.14 ops namespace: the reference."""
    return torch.ops.torchvision


def dtype_id(dtype):
    return str(dtype).replace("torch.", "")


# ---------------------------------------------------------------------------
# Features


def make_features(gen, shape, dtype, layout="contiguous", values="normal"):
    """A [N, C, H, W] tensor of `dtype` in the given memory layout.

    values: "normal" (continuous, ties practically impossible), "quantized"
    (integers 0..3: many ties, which exercises max pooling's tie-breaking) or
    "separated" (a scaled permutation: every pair of values differs by at least
    0.1, so finite differences never flip a max-pooling argmax).
    """
    n, c, h, w = shape

    def draw(size):
        numel = 1
        for s in size:
            numel *= s
        if values == "normal":
            data = torch.randn(size, generator=gen, dtype=torch.float64)
        elif values == "quantized":
            data = torch.randint(0, 4, size, generator=gen).to(torch.float64)
        elif values == "separated":
            data = torch.randperm(numel, generator=gen).to(torch.float64).reshape(size) / 10
        else:
            raise ValueError(values)
        return data.to(dtype)

    if layout == "contiguous":
        x = draw((n, c, h, w))
    elif layout == "channels_last":
        x = draw((n, c, h, w)).contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":
        x = draw((n, c, h + 1, 2 * w))[:, :, 1:, ::2]
    elif layout == "channel_slice":
        x = draw((n, 2 * c + 1, h, w))[:, 1::2]
    elif layout == "channels_last_slice":
        x = draw((n, h, w, 2 * c)).permute(0, 3, 1, 2)[:, ::2]
    elif layout == "expanded":
        x = draw((1, c, h, w)).expand(n, c, h, w)
    elif layout == "transposed":
        x = draw((n, c, w, h)).transpose(2, 3)
    else:
        raise ValueError(layout)
    assert x.shape == (n, c, h, w), (layout, x.shape)
    return x


# ---------------------------------------------------------------------------
# RoIs


def _axis(rng, size, kind, huge):
    """One axis of a RoI in feature-map cells: (start, end), start <= end."""
    if kind == "inside":
        a, b = sorted(rng.uniform(0, size) for _ in range(2))
    elif kind == "partial":
        a = rng.uniform(-size / 2 - 1, size)
        b = a + rng.uniform(0, 1.5 * size + 2)
    elif kind == "outside":
        # Beyond the one-cell margin within which bilinear samples still clamp.
        length = rng.uniform(0, size)
        if rng.random() < 0.5:
            b = -rng.uniform(1.5, size + 2)
            a = b - length
        else:
            a = size + rng.uniform(1.5, size + 2)
            b = a + length
    elif kind == "huge":
        a = -rng.uniform(0, huge)
        b = size + rng.uniform(0, huge)
    else:
        raise ValueError(kind)
    return a, b


def _roi_in_cells(rng, h, w, kind, huge):
    if kind == "outside":
        # Wholly outside along one axis suffices; the other axis is anything.
        other = rng.choice(("inside", "partial", "outside"))
        x_kind, y_kind = ("outside", other) if rng.random() < 0.5 else (other, "outside")
    elif kind == "degenerate":
        x_kind = y_kind = "partial"
    else:
        x_kind = y_kind = kind
    x1, x2 = _axis(rng, w, x_kind, huge)
    y1, y2 = _axis(rng, h, y_kind, huge)
    if kind == "degenerate":
        variant = rng.choice(DEGENERATE_KINDS)
        if variant in ("reversed_x", "reversed_both"):
            x1, x2 = x2 + rng.uniform(0.1, 3), x1
        if variant in ("reversed_y", "reversed_both"):
            y1, y2 = y2 + rng.uniform(0.1, 3), y1
        if variant in ("zero_width", "point"):
            x2 = x1
        if variant in ("zero_height", "point"):
            y2 = y1
    coords = [x1, y1, x2, y2]
    if rng.random() < 0.3:
        # Half-cell grid: exact .5 products for RoIPool's rounding, integer
        # sample positions for RoIAlign.
        coords = [round(v * 2) / 2 for v in coords]
    return coords


def make_rois(rng, num_rois, batch, h, w, spatial_scale, dtype, kinds=ROI_KINDS, huge=40.0):
    """[K, 5] rois (batch index, x1, y1, x2, y2) in image coordinates.

    `huge` bounds how far "huge" RoIs reach past the map, in cells: keep it
    small with adaptive sampling (the reference takes ceil(size / bins) samples
    per bin and would crawl), large otherwise.
    """
    rows = []
    for _ in range(num_rois):
        kind = rng.choice(kinds)
        cells = _roi_in_cells(rng, h, w, kind, huge)
        rows.append([float(rng.randrange(batch))] + [v / spatial_scale for v in cells])
    return torch.tensor(rows, dtype=torch.float64).reshape(num_rois, 5).to(dtype)


# ---------------------------------------------------------------------------
# Cases


@dataclass
class RoiCase:
    seed: int
    x: torch.Tensor
    rois: torch.Tensor
    spatial_scale: float
    pooled_h: int
    pooled_w: int
    sampling_ratio: int
    aligned: bool
    layout: str

    @property
    def input_shape(self):
        return tuple(self.x.shape)


def make_case(
    seed,
    dtype,
    *,
    position_sensitive=False,
    values="normal",
    max_batch=3,
    max_channels=24,
    max_size=24,
    max_rois=30,
    max_pooled=7,
    kinds=ROI_KINDS,
):
    """The random case number `seed`.

    Layout, sampling ratio and alignment cycle with the seed, so any 70
    consecutive seeds cover all of their combinations; the rest is random.
    position_sensitive: channels = C_out * pooled_h * pooled_w (C_out 1..2).
    """
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    layout = LAYOUTS[seed % len(LAYOUTS)]
    sampling_ratio = SAMPLING_RATIOS[(seed // len(LAYOUTS)) % len(SAMPLING_RATIOS)]
    aligned = bool((seed // (len(LAYOUTS) * len(SAMPLING_RATIOS))) % 2)
    n = rng.randint(1, max_batch)
    h = rng.randint(1, max_size)
    w = rng.randint(1, max_size)
    pooled_h = rng.randint(1, max_pooled)
    pooled_w = rng.randint(1, max_pooled) if rng.random() < 0.7 else pooled_h
    if position_sensitive:
        c = rng.randint(1, 2) * pooled_h * pooled_w
    else:
        c = rng.randint(1, max_channels)
    scale = rng.choice(SPATIAL_SCALES)
    num_rois = rng.randint(0, max_rois)
    huge = 40.0 if sampling_ratio <= 0 else 1e5
    x = make_features(gen, (n, c, h, w), dtype, layout, values)
    rois = make_rois(rng, num_rois, n, h, w, scale, dtype, kinds, huge)
    rois = layout_rois(rois, rng.choice(ROIS_LAYOUTS))
    return RoiCase(seed, x, rois, scale, pooled_h, pooled_w, sampling_ratio, aligned, layout)


ROIS_LAYOUTS = ("contiguous", "contiguous", "column_slice", "transposed")


def layout_rois(rois, layout):
    """The same rois as a non-contiguous view: columns 1..5 of a [K, 7]
    tensor, or a [5, K] tensor transposed."""
    if layout == "contiguous":
        return rois
    if layout == "column_slice":
        wide = torch.full((rois.shape[0], 7), -7.0, dtype=rois.dtype)
        wide[:, 1:6] = rois
        return wide[:, 1:6]
    if layout == "transposed":
        return rois.t().contiguous().t()
    raise ValueError(layout)


def describe(case):
    return (
        f"seed={case.seed} dtype={dtype_id(case.x.dtype)} input={list(case.x.shape)} "
        f"layout={case.layout} strides={case.x.stride()} K={case.rois.shape[0]} "
        f"rois_strides={case.rois.stride()} "
        f"scale={case.spatial_scale} pooled={case.pooled_h}x{case.pooled_w} "
        f"sampling_ratio={case.sampling_ratio} aligned={case.aligned}"
    )


def seeds_of_chunk(chunk, per_chunk, offset=0):
    return range(offset + chunk * per_chunk, offset + (chunk + 1) * per_chunk)


# ---------------------------------------------------------------------------
# Op calls with the arguments of a case, for either namespace.


def roi_align(ns, case, x=None):
    return ns.roi_align(
        case.x if x is None else x, case.rois, case.spatial_scale, case.pooled_h,
        case.pooled_w, case.sampling_ratio, case.aligned)


def roi_pool(ns, case, x=None):
    return ns.roi_pool(
        case.x if x is None else x, case.rois, case.spatial_scale, case.pooled_h, case.pooled_w)


def ps_roi_pool(ns, case, x=None):
    return ns.ps_roi_pool(
        case.x if x is None else x, case.rois, case.spatial_scale, case.pooled_h, case.pooled_w)


def ps_roi_align(ns, case, x=None):
    return ns.ps_roi_align(
        case.x if x is None else x, case.rois, case.spatial_scale, case.pooled_h,
        case.pooled_w, case.sampling_ratio)


def spp_reference(x, rois, spatial_scale, levels):
    """What spp_roi_pool must equal: torchvision roi_pool at L x L per level,
    flattened per RoI and concatenated. Returns (output, argmax)."""
    outs, args = [], []
    for level in levels:
        out, arg = tv().roi_pool(x, rois, spatial_scale, level, level)
        outs.append(out.flatten(1))
        args.append(arg.flatten(1))
    return torch.cat(outs, 1), torch.cat(args, 1)


# ---------------------------------------------------------------------------
# Comparison


def assert_bitwise_equal(actual, expected, what):
    """Same shape, dtype and values (compared as values: layouts may differ).
    -0.0 and 0.0 count as equal, as in torch.equal, and so do two NaNs."""
    assert actual.shape == expected.shape, f"{what}: shape {list(actual.shape)} != {list(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if torch.equal(actual, expected):
        return
    a = actual.contiguous().flatten()
    e = expected.contiguous().flatten()
    if a.is_floating_point():
        differs = ~((a == e) | (a.isnan() & e.isnan()))
    else:
        differs = a != e
    if not differs.any():
        return
    first = int(differs.nonzero()[0])
    detail = (
        f"{int(differs.sum())}/{a.numel()} elements differ; first at flat index {first}: "
        f"{a[first].item()!r} vs {e[first].item()!r}")
    if a.is_floating_point():
        finite = differs & a.isfinite() & e.isfinite()
        if finite.any():
            detail += f"; max |diff| {(a[finite] - e[finite]).abs().max().item():.3g}"
    raise AssertionError(f"{what}: not bit-identical: {detail}")


def assert_gradients_equal(actual, expected, what):
    """Bit-identical, except for kernels that sum with atomics (ATOMIC_GRADIENTS),
    which must agree to the rounding of a different order of additions."""
    if not ATOMIC_GRADIENTS:
        assert_bitwise_equal(actual, expected, what)
        return
    assert actual.shape == expected.shape, f"{what}: shape {list(actual.shape)} != {list(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    tolerance = 1e-12 if actual.dtype == torch.float64 else 1e-5
    torch.testing.assert_close(actual, expected, rtol=tolerance, atol=tolerance, equal_nan=True,
                               msg=lambda m: f"{what}: {m}")


# ---------------------------------------------------------------------------
# Gradients

GRAD_LAYOUTS = ("contiguous", "channels_last", "transposed", "sliced", "expanded")


def make_grad(gen, shape, dtype, layout):
    """A gradient of the pooled output's shape [K, C, PH, PW] in a layout the
    backward ops must handle; "expanded" is what autograd hands over for
    out.sum() (every stride 0)."""
    k, c, ph, pw = shape

    def draw(size):
        # Drawn in the final dtype: .to() would make a non-dense view dense.
        return torch.randn(size, generator=gen, dtype=dtype)

    if layout == "contiguous":
        g = draw(shape)
    elif layout == "channels_last":
        g = draw(shape).contiguous(memory_format=torch.channels_last)
    elif layout == "transposed":
        g = draw((k, c, pw, ph)).transpose(2, 3)
    elif layout == "sliced":
        g = draw((k, 2 * c, ph, pw + 1))[:, ::2, :, 1:]
    elif layout == "expanded":
        g = draw((1, 1, 1, 1)).expand(shape)
    else:
        raise ValueError(layout)
    assert g.shape == shape
    return g


def input_grad(run, ns, case, grad_output):
    """d(sum(run(ns, case)[0] * grad_output)) / d(features), through autograd."""
    x = case.x.detach().requires_grad_(True)
    out = run(ns, case, x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    out.backward(grad_output)
    return x.grad


def assert_input_grad_matches_torchvision(run, name, case, seed, channels_out):
    """Backpropagates a seeded random grad_output of the pooled shape
    [K, channels_out, PH, PW] through `run` in both libraries and asserts the
    input gradients are bit-identical."""
    shape = (case.rois.shape[0], channels_out, case.pooled_h, case.pooled_w)
    grad_output = torch.randn(shape, generator=torch.Generator().manual_seed(seed),
                              dtype=case.x.dtype)
    ours = input_grad(run, rv(), case, grad_output)
    expected = input_grad(run, tv(), case, grad_output)
    assert_gradients_equal(ours, expected, f"{name} input grad, {describe(case)}")
