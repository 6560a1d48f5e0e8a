#pragma once
// A training run as a YAML file (configs/train/*.yaml): what to start from,
// the data, the plan (which parts train) and the optimizer. See
// docs/TRAINING.md.
#include <filesystem>
#include <string>

#include "detector/train/trainer.h"

namespace roiserve::detector {

// Where the training images come from.
struct DataConfig {
  std::string type = "shapes-v1";  // or "coco"
  uint64_t seed = 1;               // shapes-v1: the data set's seed
  std::filesystem::path annotations;  // coco: the instances JSON
  std::filesystem::path images;       // coco: the image folder
};

struct TrainConfig {
  // Exactly one: a model.yaml to build fresh weights from, or a bundle to
  // continue from (stage 2 starts from stage 1's bundle).
  std::filesystem::path model_config;
  std::filesystem::path init_bundle;
  DataConfig data;
  TrainerOptions trainer;
};

// Relative paths in the file are resolved against `base_dir`. Throws
// std::invalid_argument naming the offending key.
TrainConfig read_train_config(const std::filesystem::path& file,
                              const std::filesystem::path& base_dir);

}  // namespace roiserve::detector
