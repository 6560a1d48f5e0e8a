#pragma once
// shapes-v1 as a LabelledDataset: images first_index .. first_index + count - 1
// of a seed, with COCO-style ground truth (the visible masks as RLEs, their
// pixel counts as areas, the tight boxes).
#include <cstdint>
#include <memory>

#include "detector/data/dataset.h"

namespace roiserve::detector {

// The validation set the shipped model's gates are measured on: seed 2 (the
// training set is seed 1), images 0..199.
inline constexpr uint64_t kShapesValidationSeed = 2;
inline constexpr int64_t kShapesValidationSize = 200;

std::unique_ptr<LabelledDataset> make_shapes_dataset(uint64_t seed, int64_t first_index,
                                                     int64_t count);

}  // namespace roiserve::detector
