#pragma once
// The training loop: SGD with momentum and weight decay, linear warmup, step
// decay, optional gradient clipping, horizontal flips, a prefetching data
// thread, progress with ETA and running losses, and checkpoints that a later
// run resumes from exactly (data order and sampling depend only on the seed
// and the iteration).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "detector/model/detector.h"
#include "detector/train/training_example.h"

namespace roiserve::detector {

struct OptimizerOptions {
  double learning_rate = 0.02;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  int64_t warmup_iterations = 500;
  double warmup_factor = 1e-3;
  std::vector<int64_t> decay_at;  // iterations where the rate is multiplied by decay_factor
  double decay_factor = 0.1;
  double clip_grad_norm = 0;  // 0: no clipping
};

struct TrainerOptions {
  std::string name = "train";  // shown in the progress lines
  int64_t iterations = 1000;
  int64_t batch_size = 4;
  uint64_t seed = 1;
  bool horizontal_flip = true;
  OptimizerOptions optimizer;
  TrainingPlan plan;
  int64_t checkpoint_every = 500;
  int64_t log_every = 20;
  std::filesystem::path output_dir;  // checkpoint.pt, bundle/, training.json
};

// The learning rate at an iteration (warmup, then steps).
double learning_rate_at(const OptimizerOptions& options, int64_t iteration);

// Trains, resuming from output_dir/checkpoint.pt when it exists, and writes
// output_dir/bundle at every checkpoint. Returns the final running losses.
std::map<std::string, double> train(DetectorImpl& detector, const TrainingSource& source,
                                    const TrainerOptions& options);

}  // namespace roiserve::detector
