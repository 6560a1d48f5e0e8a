#pragma once
// The image while a sample is painted: RGB in double precision, so blending
// several layers rounds once, when noise is added and the image is quantized.
#include <ATen/core/Tensor.h>

#include <array>
#include <vector>

#include "detector/data/coverage.h"
#include "detector/data/random.h"
#include "detector/data/shape_geometry.h"

namespace roiserve::detector {

using Rgb = std::array<double, 3>;

// Colour that changes linearly along a direction: start_color at the image
// corner lying furthest back along it, end_color at the one furthest ahead.
struct LinearGradient {
  Rgb start_color;
  Rgb end_color;
  Point direction;      // unit vector
  double start_offset;  // the first corner's position along direction
  double length;        // from the first corner to the last, along direction

  Rgb color_at(Point point) const;
};

LinearGradient make_linear_gradient(const Rgb& start_color, const Rgb& end_color, double angle,
                                    int image_height, int image_width);

class Canvas {
 public:
  Canvas(int height, int width);

  // Every pixel takes the gradient's colour at its centre.
  void paint(const LinearGradient& gradient);

  // Lays `color` over each pixel of the tile with the fraction of its samples
  // inside as opacity; a fully covered pixel takes exactly `color`.
  void blend(const CoverageTile& coverage, const Rgb& color);

  // The canvas plus independent N(0, noise_sigma²) noise on every channel of
  // every pixel (drawn in channel, row, column order), clamped to [0, 255] and
  // rounded: a [3, H, W] uint8 RGB tensor.
  at::Tensor quantize_with_noise(double noise_sigma, Random& random) const;

 private:
  double& at(int channel, int x, int y) {
    return values_[(static_cast<size_t>(channel) * height_ + y) * width_ + x];
  }

  int height_;
  int width_;
  std::vector<double> values_;  // [3, H, W]
};

}  // namespace roiserve::detector
