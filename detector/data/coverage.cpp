#include "detector/data/coverage.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace roiserve::detector {

CoverageTile sample_coverage(const Outline& outline, int image_height, int image_width,
                             int samples_per_axis) {
  const int n = samples_per_axis;
  TORCH_CHECK_VALUE(n == 1 || n == 2 || n == 4 || n == 8,
                    "sample_coverage: samples_per_axis must be 1, 2, 4 or 8, got ", n);
  const Bounds bounds = outline.bounds();
  const auto clip = [](double value, int limit) {
    return static_cast<int>(std::clamp(value, 0.0, static_cast<double>(limit)));
  };
  CoverageTile tile;
  tile.x_begin = clip(std::floor(bounds.x_min), image_width);
  tile.y_begin = clip(std::floor(bounds.y_min), image_height);
  // Ending one pixel past the one holding the bounds' maximum absorbs any
  // crossing that rounding puts a hair beyond the bounds.
  tile.x_end = clip(std::floor(bounds.x_max) + 1.0, image_width);
  tile.y_end = clip(std::floor(bounds.y_max) + 1.0, image_height);
  tile.samples_per_pixel = n * n;
  tile.inside_samples.assign(static_cast<size_t>(tile.width()) * tile.height(), 0);

  // Sample column s sits at x = (s + ½) / n, which lies in [a, b) exactly when
  // ceil(a·n − ½) <= s < ceil(b·n − ½); both sides are exact in binary.
  const double first_column = static_cast<double>(tile.x_begin) * n;
  const double end_column = static_cast<double>(tile.x_end) * n;
  std::vector<double> crossings;
  for (int row = tile.y_begin * n; row < tile.y_end * n; ++row) {
    outline.row_crossings((row + 0.5) / n, crossings);
    uint8_t* counts =
        &tile.inside_samples[static_cast<size_t>(row / n - tile.y_begin) * tile.width()];
    for (size_t i = 0; i + 1 < crossings.size(); i += 2) {
      const int begin =
          static_cast<int>(std::clamp(std::ceil(crossings[i] * n - 0.5), first_column, end_column));
      const int end = static_cast<int>(
          std::clamp(std::ceil(crossings[i + 1] * n - 0.5), first_column, end_column));
      for (int column = begin; column < end; ++column) ++counts[column / n - tile.x_begin];
    }
  }
  return tile;
}

}  // namespace roiserve::detector
