#include "detector/train/training_example.h"

#include <ATen/ATen.h>

#include "detector/data/shapes_dataset.h"

namespace roiserve::detector {
namespace {

class ShapesSource : public TrainingSource {
 public:
  explicit ShapesSource(uint64_t seed) : seed_(seed) {}

  TrainingExample example(int64_t index) const override {
    ShapesSample sample = generate_shapes_sample(seed_, index);
    TrainingExample example;
    example.image = sample.image;
    const int64_t count = static_cast<int64_t>(sample.objects.size());
    example.targets.boxes = at::empty({count, 4}, at::kFloat);
    example.targets.labels = at::empty({count}, at::kLong);
    std::vector<at::Tensor> masks;
    for (int64_t i = 0; i < count; ++i) {
      const ShapeObject& object = sample.objects[static_cast<size_t>(i)];
      for (int64_t k = 0; k < 4; ++k) {
        example.targets.boxes[i][k] = static_cast<float>(object.box[static_cast<size_t>(k)]);
      }
      example.targets.labels[i] = object.category;
      masks.push_back(object.mask.to(at::kByte));
    }
    example.targets.masks = at::stack(masks);
    return example;
  }

 private:
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<TrainingSource> make_shapes_source(uint64_t seed) {
  return std::make_unique<ShapesSource>(seed);
}

TrainingExample flip_horizontally(const TrainingExample& example) {
  TrainingExample flipped;
  const int64_t width = example.image.size(2);
  flipped.image = example.image.flip({2}).contiguous();
  flipped.targets.labels = example.targets.labels;
  const at::Tensor& boxes = example.targets.boxes;
  flipped.targets.boxes = at::stack(
      {width - boxes.select(1, 2), boxes.select(1, 1), width - boxes.select(1, 0),
       boxes.select(1, 3)},
      1);
  if (example.targets.masks.defined()) {
    flipped.targets.masks = example.targets.masks.flip({2}).contiguous();
  }
  return flipped;
}

}  // namespace roiserve::detector
