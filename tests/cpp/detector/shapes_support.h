#pragma once
// Shared by the shapes-v1 tests: one set of generated samples, and the ground
// truth recomputed from each object's pose with Outline::contains, pixel by
// pixel, independently of the generator's row-by-row rasterization.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "detector/data/shapes_dataset.h"

namespace roiserve::test {

constexpr uint64_t kShapesTestSeed = 20240611;
constexpr int kShapesTestSampleCount = 200;

// Samples 0 .. kShapesTestSampleCount − 1 of kShapesTestSeed, generated once.
const std::vector<detector::ShapesSample>& shapes_test_samples();

// [H, W] bool: the pixels whose centre the object's outline contains.
at::Tensor full_coverage_mask(const detector::ShapeObject& object, int64_t height, int64_t width);

// full_coverage_mask of every object of every test sample, computed once.
const std::vector<std::vector<at::Tensor>>& shapes_test_full_masks();

}  // namespace roiserve::test
