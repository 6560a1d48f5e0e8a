#pragma once
// A labelled image set, the common ground of evaluation and training: the
// generated shapes-v1 set and COCO-format sets on disk both look like this.
// Labels index the set's own class names (1-based); tools map them to a
// model's classes by name.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "detector/eval/rle.h"

namespace roiserve::detector {

struct Instance {
  int64_t id = 0;     // unique in the set, nonzero
  int64_t label = 0;  // 1..class_names().size()
  std::array<double, 4> box{};  // x1, y1, x2, y2 in pixels
  double area = 0;              // COCO's "area": picks the evaluation's area range
  bool is_crowd = false;
  eval::Rle mask;  // image-sized; empty (0 x 0) when the set has no masks
};

struct LabelledImage {
  int64_t id = 0;
  std::string name;  // a file name, or how a generated image was made
  at::Tensor image;  // [3, H, W] uint8 RGB
  std::vector<Instance> instances;
};

class LabelledDataset {
 public:
  virtual ~LabelledDataset() = default;
  virtual int64_t size() const = 0;
  virtual const std::vector<std::string>& class_names() const = 0;
  virtual bool has_masks() const = 0;
  // 0 <= index < size(); safe to call from several threads at once.
  virtual LabelledImage get(int64_t index) const = 0;
  // The ground truth of get(index) alone, without reading the image where
  // that can be avoided.
  virtual std::vector<Instance> instances(int64_t index) const { return get(index).instances; }
};

}  // namespace roiserve::detector
