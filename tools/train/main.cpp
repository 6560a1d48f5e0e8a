// roiserve-train: trains a detector from a training config (configs/train/*.yaml)
// and writes OUTPUT/bundle, OUTPUT/checkpoint.pt (resumed when present) and
// OUTPUT/training.json.
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <thread>

#include "detector/bundle/model_bundle.h"
#include "detector/train/train_config.h"
#include "detector/train/trainer.h"
#ifdef ROISERVE_TRAIN_READS_COCO
#include "tools/coco_dataset/coco_dataset.h"
#endif

namespace {

using namespace roiserve::detector;

Detector initial_model(const TrainConfig& config) {
  if (!config.init_bundle.empty()) return load_bundle(config.init_bundle);
  return Detector(read_model_config_file(config.model_config));
}

std::unique_ptr<TrainingSource> training_source(const TrainConfig& config,
                                                const ModelConfig& model) {
  if (config.data.type == "shapes-v1") return make_shapes_source(config.data.seed);
#ifdef ROISERVE_TRAIN_READS_COCO
  auto coco = std::make_shared<roiserve::tools::CocoDataset>(config.data.annotations,
                                                              config.data.images);
  return make_dataset_source(coco, model.class_names, !config.trainer.plan.mask_poolers.empty());
#else
  (void)model;
  throw std::invalid_argument("this roiserve-train was built without OpenCV and nlohmann-json, "
                              "so it reads shapes-v1 only");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a roiserve detector"};
  std::string config_file;
  std::string output_dir;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int64_t iterations = 0;
  app.add_option("--config", config_file, "training config (YAML)")->required()->check(
      CLI::ExistingFile);
  app.add_option("--output", output_dir, "output directory (checkpoint, bundle, summary)")
      ->required();
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  app.add_option("--iterations", iterations, "override the config's iteration count")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  try {
    at::set_num_threads(threads);
    // Paths in a config are relative to the repository root, where it is run from.
    TrainConfig config = read_train_config(config_file, std::filesystem::current_path());
    if (iterations > 0) config.trainer.iterations = iterations;
    config.trainer.output_dir = output_dir;
    Detector detector = initial_model(config);
    const auto source = training_source(config, detector->config());
    train(*detector, *source, config.trainer);
    std::fprintf(stderr, "bundle written to %s/bundle\n", output_dir.c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-train: %s\n", error.what());
    return 1;
  }
  return 0;
}
