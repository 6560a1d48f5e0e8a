#pragma once
// RPN anchors with torchvision's AnchorGenerator semantics: per level, base
// anchors of every (size, aspect ratio) centred at 0 and rounded, shifted to
// every feature-map cell at the level's stride.
#include <ATen/core/Tensor.h>

#include <vector>

namespace roiserve::detector {

class AnchorGenerator {
 public:
  AnchorGenerator(const std::vector<std::vector<double>>& sizes_per_level,
                  const std::vector<double>& aspect_ratios);
  int64_t anchors_per_location() const { return anchors_per_location_; }
  // Anchors [sum over levels of H*W*A, 4] for features of a padded batch of
  // height x width, ordered level, row, column, anchor (the RPN head's order).
  at::Tensor grid_anchors(const std::vector<at::Tensor>& features, int64_t padded_height,
                          int64_t padded_width) const;

 private:
  std::vector<at::Tensor> cell_anchors_;  // per level [A, 4] float32
  int64_t anchors_per_location_;
};

}  // namespace roiserve::detector
