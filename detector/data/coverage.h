#pragma once
// How much of each pixel of an image a region covers, measured by sampling:
// pixel (x, y) is sampled at the n × n points (x + (i + ½) / n, y + (j + ½) / n),
// and a sample counts when Outline::contains holds there. With n = 1 that is
// the pixel centre alone: the rule that defines the ground-truth masks. With
// n = 4 the count / 16 is the anti-aliasing weight.
#include <cstdint>
#include <vector>

#include "detector/data/shape_geometry.h"

namespace roiserve::detector {

// Sample counts over the pixels [x_begin, x_end) × [y_begin, y_end) of the
// image that the region's bounds reach; every other pixel has none.
struct CoverageTile {
  int x_begin = 0;
  int y_begin = 0;
  int x_end = 0;
  int y_end = 0;
  int samples_per_pixel = 1;
  std::vector<uint8_t> inside_samples;  // row-major over the tile

  int width() const { return x_end - x_begin; }
  int height() const { return y_end - y_begin; }
  // Image coordinates; (x, y) must lie in the tile.
  int at(int x, int y) const { return inside_samples[(y - y_begin) * width() + (x - x_begin)]; }
};

// samples_per_axis must be 1, 2, 4 or 8: powers of two put the sample points
// exactly where the row-by-row count assumes.
CoverageTile sample_coverage(const Outline& outline, int image_height, int image_width,
                             int samples_per_axis);

}  // namespace roiserve::detector
