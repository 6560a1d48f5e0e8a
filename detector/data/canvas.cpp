#include "detector/data/canvas.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "detector/data/portable_math.h"

namespace roiserve::detector {

Rgb LinearGradient::color_at(Point point) const {
  const double t = (point.x * direction.x + point.y * direction.y - start_offset) / length;
  Rgb color;
  for (int c = 0; c < 3; ++c) color[c] = start_color[c] + t * (end_color[c] - start_color[c]);
  return color;
}

LinearGradient make_linear_gradient(const Rgb& start_color, const Rgb& end_color, double angle,
                                    int image_height, int image_width) {
  const SinCos direction = portable_sincos(angle);
  // The corners' positions along the direction: (0, 0) at 0, the other three here.
  const double along_width = image_width * direction.cos;
  const double along_height = image_height * direction.sin;
  const double corners[] = {0.0, along_width, along_height, along_width + along_height};
  const double first = *std::min_element(std::begin(corners), std::end(corners));
  const double last = *std::max_element(std::begin(corners), std::end(corners));
  return {start_color, end_color, {direction.cos, direction.sin}, first, last - first};
}

Canvas::Canvas(int height, int width)
    : height_(height), width_(width), values_(static_cast<size_t>(3) * height * width) {}

void Canvas::paint(const LinearGradient& gradient) {
  for (int y = 0; y < height_; ++y) {
    for (int x = 0; x < width_; ++x) {
      const Rgb color = gradient.color_at({x + 0.5, y + 0.5});
      for (int c = 0; c < 3; ++c) at(c, x, y) = color[c];
    }
  }
}

void Canvas::blend(const CoverageTile& coverage, const Rgb& color) {
  for (int y = coverage.y_begin; y < coverage.y_end; ++y) {
    for (int x = coverage.x_begin; x < coverage.x_end; ++x) {
      const double opacity = static_cast<double>(coverage.at(x, y)) / coverage.samples_per_pixel;
      if (opacity == 0.0) continue;
      for (int c = 0; c < 3; ++c) {
        double& value = at(c, x, y);
        value = value * (1.0 - opacity) + color[c] * opacity;
      }
    }
  }
}

at::Tensor Canvas::quantize_with_noise(double noise_sigma, Random& random) const {
  at::Tensor image = at::empty({3, height_, width_}, at::kByte);
  uint8_t* pixels = image.data_ptr<uint8_t>();
  for (size_t i = 0; i < values_.size(); ++i) {
    const double noisy = values_[i] + noise_sigma * random.normal();
    pixels[i] = static_cast<uint8_t>(std::round(std::clamp(noisy, 0.0, 255.0)));
  }
  return image;
}

}  // namespace roiserve::detector
