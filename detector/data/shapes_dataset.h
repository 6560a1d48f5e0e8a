#pragma once
// shapes-v1: a synthetic instance-segmentation data set of filled shapes on
// gradient backgrounds with clutter and noise, generated on the fly. A
// (seed, index) pair gives the same sample, bit for bit, on every machine.
//
// A sample: H and W uniform in [192, 384]; a linear gradient between two
// random colours in a random direction; 0–4 anti-aliased clutter lines 1–2 px
// wide between random points; then, over them, 1–6 objects, each of a uniform
// class with circumradius uniform in [8, 64], a random rotation, wholly inside
// the image, and a solid anti-aliased fill that differs from the gradient at
// its centre by at least 120 (L1 over RGB); finally Gaussian noise with σ
// uniform in [0, 12]. Colours are whole numbers, uniform over 0..255 per
// channel. Later objects may occlude earlier ones but
// hide at most 40% of any: a placement that would hide more is redrawn, and an
// object that finds no place in kMaxPlacementAttempts ends the object list, so
// a sample may hold fewer objects than it drew (never fewer than one: the
// first always fits).
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

#include "detector/data/canvas.h"
#include "detector/data/shape_geometry.h"

namespace roiserve::detector {

// Indexed by category − 1.
inline constexpr std::array<const char*, kShapeCategoryCount> kShapesCategoryNames = {
    "circle", "square", "triangle", "star", "hexagon"};

// The name of category 1..5.
const char* shapes_category_name(int category);

constexpr int kMaxPlacementAttempts = 100;

struct ShapeObject {
  int category;
  // [x1, y1, x2, y2) in pixels: the tight box of the visible mask, with
  // x2 = max x + 1 and y2 = max y + 1.
  std::array<int, 4> box;
  // [H, W] bool: the pixels whose centre lies inside this object and inside no
  // later one.
  at::Tensor mask;

  // How the object was drawn, so that the ground truth can be checked.
  ShapePose pose;
  Rgb fill_color;
};

struct ClutterLine {
  Point from;
  Point to;
  double width;
  Rgb color;
};

struct ShapesSample {
  at::Tensor image;  // [3, H, W] uint8 RGB
  // In drawing order: each one lies on top of those before it.
  std::vector<ShapeObject> objects;

  // How the rest of the image was drawn.
  LinearGradient background;
  std::vector<ClutterLine> clutter_lines;
  double noise_sigma;
};

// index >= 0. Runs on the calling thread only.
ShapesSample generate_shapes_sample(uint64_t seed, int64_t index);

}  // namespace roiserve::detector
