#include "detector/train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>

#include "detector/config/yaml_reader.h"

namespace roiserve::detector {
namespace {

// `over`'s keys onto `base`: mappings merge key by key, anything else replaces.
void merge_into(YAML::Node base, const YAML::Node& over) {
  for (const auto& entry : over) {
    const auto key = entry.first.as<std::string>();
    if (base[key] && base[key].IsMap() && entry.second.IsMap()) {
      merge_into(base[key], entry.second);
    } else {
      base[key] = YAML::Clone(entry.second);
    }
  }
}

// The file's YAML, with `extends: OTHER` (relative to the file) resolved:
// OTHER's config with this file's keys over it.
YAML::Node load_config_yaml(const std::filesystem::path& file, int depth) {
  YAML::Node node;
  try {
    node = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(file.string() + ": " + error.what());
  }
  if (!node.IsMap() || !node["extends"]) return node;
  if (depth >= 8) throw std::invalid_argument(file.string() + ": 'extends' nests too deeply");
  YAML::Node merged;
  try {
    merged = load_config_yaml(file.parent_path() / node["extends"].as<std::string>(), depth + 1);
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(file.string() + ": 'extends' must name a file");
  }
  node.remove("extends");
  merge_into(merged, node);
  return merged;
}

}  // namespace

TrainConfig read_train_config(const std::filesystem::path& file,
                              const std::filesystem::path& base_dir) {
  const YAML::Node root = load_config_yaml(file, 0);
  try {
    TrainConfig config;
    MappingReader reader(root, "");
    std::string model, init;
    reader.read("model", model);
    reader.read("init", init);
    if (model.empty() == init.empty()) {
      throw std::invalid_argument("give exactly one of 'model' (a model.yaml) and 'init' (a bundle)");
    }
    if (!model.empty()) config.model_config = base_dir / model;
    if (!init.empty()) config.init_bundle = base_dir / init;

    MappingReader data(reader.child("data"), "data");
    DataConfig& source = config.data;
    std::string annotations, images;
    data.read("type", source.type);
    data.read("seed", source.seed);
    data.read("annotations", annotations);
    data.read("images", images);
    data.reject_unknown_keys();
    if (source.type == "coco") {
      if (annotations.empty() || images.empty()) {
        throw std::invalid_argument("'data.type' coco needs 'data.annotations' and 'data.images'");
      }
      source.annotations = base_dir / annotations;
      source.images = base_dir / images;
    } else if (source.type != "shapes-v1") {
      throw std::invalid_argument("'data.type' must be 'shapes-v1' or 'coco'");
    }

    TrainerOptions& trainer = config.trainer;
    reader.read("name", trainer.name);
    reader.read("seed", trainer.seed);
    reader.read("iterations", trainer.iterations);
    reader.read("batch_size", trainer.batch_size);
    reader.read("horizontal_flip", trainer.horizontal_flip);
    reader.read("checkpoint_every", trainer.checkpoint_every);
    reader.read("log_every", trainer.log_every);

    MappingReader optimizer(reader.child("optimizer"), "optimizer");
    OptimizerOptions& sgd = trainer.optimizer;
    optimizer.read("learning_rate", sgd.learning_rate);
    optimizer.read("momentum", sgd.momentum);
    optimizer.read("weight_decay", sgd.weight_decay);
    optimizer.read("warmup_iterations", sgd.warmup_iterations);
    optimizer.read("warmup_factor", sgd.warmup_factor);
    optimizer.read("decay_at", sgd.decay_at);
    optimizer.read("decay_factor", sgd.decay_factor);
    optimizer.read("clip_grad_norm", sgd.clip_grad_norm);
    optimizer.reject_unknown_keys();

    MappingReader plan(reader.child("plan"), "plan");
    plan.read("train_shared", trainer.plan.train_shared);
    plan.read("box_heads", trainer.plan.box_heads);
    plan.read("mask_poolers", trainer.plan.mask_poolers);
    plan.read("mask_rois_per_image", trainer.plan.mask_rois_per_image);
    plan.read("fresh_heads", trainer.plan.fresh_heads);
    plan.reject_unknown_keys();
    reader.reject_unknown_keys();

    if (trainer.iterations < 1 || trainer.batch_size < 1 || trainer.checkpoint_every < 1 ||
        trainer.log_every < 1) {
      throw std::invalid_argument(
          "'iterations', 'batch_size', 'checkpoint_every' and 'log_every' must be >= 1");
    }
    if (trainer.plan.box_heads.empty() && trainer.plan.mask_poolers.empty()) {
      throw std::invalid_argument("'plan' trains nothing: list box_heads and/or mask_poolers");
    }
    return config;
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(file.string() + ": " + error.what());
  }
}

}  // namespace roiserve::detector
