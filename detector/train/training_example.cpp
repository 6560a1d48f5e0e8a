#include "detector/train/training_example.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

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

class DatasetSource : public TrainingSource {
 public:
  DatasetSource(std::shared_ptr<const LabelledDataset> dataset,
                const std::vector<std::string>& model_classes, bool with_masks)
      : dataset_(std::move(dataset)), with_masks_(with_masks) {
    if (with_masks_ && !dataset_->has_masks()) {
      throw std::invalid_argument("the training set has no masks, but the plan trains a mask head");
    }
    for (const std::string& name : dataset_->class_names()) {
      const auto found = std::find(model_classes.begin(), model_classes.end(), name);
      if (found == model_classes.end()) {
        throw std::invalid_argument("the training set's class '" + name +
                                    "' is not one of the model's classes");
      }
      model_label_.push_back(found - model_classes.begin() + 1);
    }
    for (int64_t i = 0; i < dataset_->size(); ++i) {
      const std::vector<Instance> instances = dataset_->instances(i);
      if (std::any_of(instances.begin(), instances.end(),
                      [](const Instance& instance) { return !instance.is_crowd; })) {
        usable_.push_back(i);
      }
    }
    if (usable_.empty()) throw std::invalid_argument("the training set has no usable image");
  }

  TrainingExample example(int64_t index) const override {
    const LabelledImage labelled =
        dataset_->get(usable_[static_cast<size_t>(index) % usable_.size()]);
    std::vector<at::Tensor> boxes, labels, masks;
    for (const Instance& instance : labelled.instances) {
      if (instance.is_crowd) continue;
      boxes.push_back(at::tensor(std::vector<float>(instance.box.begin(), instance.box.end())));
      labels.push_back(at::tensor(model_label_[static_cast<size_t>(instance.label - 1)]));
      if (with_masks_) {
        std::vector<uint8_t> pixels = eval::decode(instance.mask);
        masks.push_back(at::tensor(pixels).view({instance.mask.height, instance.mask.width}));
      }
    }
    TrainingExample example;
    example.image = labelled.image;
    example.targets.boxes = at::stack(boxes);
    example.targets.labels = at::stack(labels);
    if (with_masks_) example.targets.masks = at::stack(masks);
    return example;
  }

 private:
  std::shared_ptr<const LabelledDataset> dataset_;
  bool with_masks_;
  std::vector<int64_t> model_label_;  // by dataset label - 1
  std::vector<int64_t> usable_;       // dataset indices with a non-crowd instance
};

}  // namespace

std::unique_ptr<TrainingSource> make_dataset_source(std::shared_ptr<const LabelledDataset> dataset,
                                                    const std::vector<std::string>& model_classes,
                                                    bool with_masks) {
  return std::make_unique<DatasetSource>(std::move(dataset), model_classes, with_masks);
}

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
