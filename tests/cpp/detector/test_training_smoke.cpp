// A few training iterations of the tiny model: losses stay finite, the bundle
// and the summary are written, and a run resumed from its checkpoint ends
// with the same weights as an uninterrupted one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "detector/bundle/model_bundle.h"
#include "detector/train/trainer.h"
#include "model_support.h"
#include "temp_dir.h"

namespace roiserve::detector {
namespace {

TrainerOptions tiny_options(const std::filesystem::path& output, int64_t iterations) {
  TrainerOptions options;
  options.iterations = iterations;
  options.batch_size = 2;
  options.checkpoint_every = 2;
  options.optimizer.warmup_iterations = 2;
  options.plan = TrainingPlan{true, {"roi_align"}, {"roi_align"}, 4};
  options.output_dir = output;
  return options;
}

Detector fresh_detector() {
  at::manual_seed(11);
  return Detector(test::tiny_model_config());
}

using TrainingSmoke = test::TempDirTest;

TEST_F(TrainingSmoke, ResumedRunEqualsUninterruptedRun) {
  const auto source = make_shapes_source(2);
  const auto straight_dir = dir_ / "straight";
  const auto resumed_dir = dir_ / "resumed";

  Detector straight = fresh_detector();
  const auto losses = train(*straight, *source, tiny_options(straight_dir, 4));
  for (const auto& [name, value] : losses) EXPECT_TRUE(std::isfinite(value)) << name;
  EXPECT_TRUE(std::filesystem::exists(straight_dir / "bundle" / kWeightsFile));
  EXPECT_TRUE(std::filesystem::exists(straight_dir / "training.json"));

  Detector first_half = fresh_detector();
  train(*first_half, *source, tiny_options(resumed_dir, 2));
  Detector second_half = fresh_detector();  // different weights until the checkpoint loads
  train(*second_half, *source, tiny_options(resumed_dir, 4));

  const Detector a = load_bundle(straight_dir / "bundle");
  const Detector b = load_bundle(resumed_dir / "bundle");
  const auto expected = a->named_parameters();
  for (const auto& entry : b->named_parameters()) {
    EXPECT_TRUE(at::allclose(entry.value(), expected[entry.key()], 1e-5, 1e-6)) << entry.key();
  }
}

TEST(LearningRate, WarmsUpThenSteps) {
  OptimizerOptions options;
  options.learning_rate = 0.1;
  options.warmup_iterations = 10;
  options.warmup_factor = 0.01;
  options.decay_at = {20, 30};
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 0), 0.001);
  EXPECT_NEAR(learning_rate_at(options, 5), 0.1 * (0.01 * 0.5 + 0.5), 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate_at(options, 10), 0.1);
  EXPECT_NEAR(learning_rate_at(options, 25), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate_at(options, 30), 0.001, 1e-12);
}

}  // namespace
}  // namespace roiserve::detector
