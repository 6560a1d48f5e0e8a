#include "shapes_support.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace roiserve::test {

const std::vector<detector::ShapesSample>& shapes_test_samples() {
  // Generated in parallel: every test process of the suite starts with this.
  static const std::vector<detector::ShapesSample> samples = [] {
    std::vector<detector::ShapesSample> generated(kShapesTestSampleCount);
    at::parallel_for(0, kShapesTestSampleCount, 1, [&](int64_t begin, int64_t end) {
      for (int64_t index = begin; index < end; ++index) {
        generated[index] = detector::generate_shapes_sample(kShapesTestSeed, index);
      }
    });
    return generated;
  }();
  return samples;
}

at::Tensor full_coverage_mask(const detector::ShapeObject& object, int64_t height, int64_t width) {
  const detector::Outline outline = detector::shape_outline(object.category, object.pose);
  at::Tensor mask = at::zeros({height, width}, at::kBool);
  auto pixels = mask.accessor<bool, 2>();
  // No part of a shape lies further than its circumradius from its centre.
  const detector::ShapePose& pose = object.pose;
  const auto first = [&](double centre) {
    return std::max<int64_t>(0, std::floor(centre - pose.circumradius));
  };
  const auto last = [&](double centre, int64_t size) {
    return std::min<int64_t>(size - 1, std::ceil(centre + pose.circumradius));
  };
  for (int64_t y = first(pose.center.y); y <= last(pose.center.y, height); ++y) {
    for (int64_t x = first(pose.center.x); x <= last(pose.center.x, width); ++x) {
      pixels[y][x] = outline.contains({x + 0.5, y + 0.5});
    }
  }
  return mask;
}

const std::vector<std::vector<at::Tensor>>& shapes_test_full_masks() {
  static const std::vector<std::vector<at::Tensor>> masks = [] {
    const auto& samples = shapes_test_samples();
    std::vector<std::vector<at::Tensor>> computed(samples.size());
    at::parallel_for(0, static_cast<int64_t>(samples.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) {
        for (const detector::ShapeObject& object : samples[s].objects) {
          computed[s].push_back(
              full_coverage_mask(object, samples[s].image.size(1), samples[s].image.size(2)));
        }
      }
    });
    return computed;
  }();
  return masks;
}

}  // namespace roiserve::test
