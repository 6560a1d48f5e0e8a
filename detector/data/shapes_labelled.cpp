#include "detector/data/shapes_labelled.h"

#include <stdexcept>
#include <string>

#include "detector/data/shapes_dataset.h"
#include "detector/eval/rle_tensor.h"

namespace roiserve::detector {
namespace {

// Room for every object of an image in the instance ids (at most 6 objects).
constexpr int64_t kInstanceIdsPerImage = 16;

class ShapesLabelledDataset : public LabelledDataset {
 public:
  ShapesLabelledDataset(uint64_t seed, int64_t first_index, int64_t count)
      : seed_(seed), first_index_(first_index), count_(count),
        class_names_(kShapesCategoryNames.begin(), kShapesCategoryNames.end()) {}

  int64_t size() const override { return count_; }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  bool has_masks() const override { return true; }

  LabelledImage get(int64_t index) const override {
    if (index < 0 || index >= count_) {
      throw std::out_of_range("shapes-v1 set of " + std::to_string(count_) + " images has no image " +
                              std::to_string(index));
    }
    const int64_t sample_index = first_index_ + index;
    const ShapesSample sample = generate_shapes_sample(seed_, sample_index);
    LabelledImage image;
    image.id = sample_index + 1;
    image.name = "shapes-v1 seed " + std::to_string(seed_) + " image " + std::to_string(sample_index);
    image.image = sample.image;
    for (size_t k = 0; k < sample.objects.size(); ++k) {
      const ShapeObject& object = sample.objects[k];
      Instance instance;
      instance.id = image.id * kInstanceIdsPerImage + static_cast<int64_t>(k);
      instance.label = object.category;
      for (size_t side = 0; side < 4; ++side) instance.box[side] = object.box[side];
      instance.mask = eval::encode(object.mask);
      instance.area = static_cast<double>(eval::area(instance.mask));
      image.instances.push_back(std::move(instance));
    }
    return image;
  }

 private:
  uint64_t seed_;
  int64_t first_index_;
  int64_t count_;
  std::vector<std::string> class_names_;
};

}  // namespace

std::unique_ptr<LabelledDataset> make_shapes_dataset(uint64_t seed, int64_t first_index,
                                                     int64_t count) {
  if (first_index < 0 || count < 0) {
    throw std::invalid_argument("shapes-v1: first index and count must be >= 0");
  }
  return std::make_unique<ShapesLabelledDataset>(seed, first_index, count);
}

}  // namespace roiserve::detector
