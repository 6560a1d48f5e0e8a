// Training configs: `extends` merges a base file under a config's own keys,
// and the shipped model's configs read as the runs that trained it.
#include <gtest/gtest.h>

#include <fstream>

#include "detector/train/train_config.h"
#include "temp_dir.h"

namespace roiserve::detector {
namespace {

using TrainConfigFile = test::TempDirTest;

TEST_F(TrainConfigFile, ExtendsMergesMappingsKeyByKey) {
  std::ofstream(dir_ / "base.yaml") << "model: m.yaml\niterations: 10\n"
                                        "optimizer: {learning_rate: 0.5, momentum: 0.8}\n"
                                        "plan: {box_heads: [spp], mask_poolers: []}\n";
  std::ofstream(dir_ / "run.yaml") << "extends: base.yaml\niterations: 20\n"
                                       "optimizer: {momentum: 0.7}\nplan: {box_heads: [roi_pool]}\n";
  const TrainConfig config = read_train_config(dir_ / "run.yaml", dir_);
  EXPECT_EQ(config.model_config, dir_ / "m.yaml");
  EXPECT_EQ(config.trainer.iterations, 20);
  EXPECT_EQ(config.trainer.optimizer.learning_rate, 0.5);
  EXPECT_EQ(config.trainer.optimizer.momentum, 0.7);
  EXPECT_EQ(config.trainer.plan.box_heads, std::vector<std::string>{"roi_pool"});
}

TEST_F(TrainConfigFile, ExtendsOfAMissingFileNamesIt) {
  std::ofstream(dir_ / "run.yaml") << "extends: nowhere.yaml\n";
  try {
    read_train_config(dir_ / "run.yaml", dir_);
    FAIL() << "a missing base was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("nowhere.yaml"), std::string::npos) << error.what();
  }
}

TEST(ShippedTrainConfigs, ReadAsTheRunsThatTrainedTheModel) {
  const std::filesystem::path root(ROISERVE_SOURCE_DIR);
  const TrainConfig joint = read_train_config(root / "configs/train/shapes-v1-joint.yaml", root);
  EXPECT_EQ(joint.model_config, root / "configs/models/shapes-v1.yaml");
  EXPECT_EQ(joint.trainer.iterations, 1600);
  EXPECT_EQ(joint.trainer.optimizer.warmup_iterations, 200);
  EXPECT_EQ(joint.trainer.optimizer.decay_at, (std::vector<int64_t>{1250, 1500}));
  EXPECT_EQ(joint.trainer.optimizer.clip_grad_norm, 10);
  EXPECT_EQ(joint.trainer.plan.box_heads.size(), 4u);
  EXPECT_EQ(joint.trainer.plan.mask_rois_per_image, 32);
  const TrainConfig long_run = read_train_config(root / "configs/train/shapes-v1-joint-long.yaml", root);
  EXPECT_EQ(long_run.init_bundle, root / "runs/joint-continued/bundle");
  EXPECT_EQ(long_run.trainer.seed, 3u);
  EXPECT_EQ(long_run.trainer.optimizer.warmup_factor, 0.01);
  EXPECT_EQ(long_run.trainer.optimizer.learning_rate, 0.02);
  EXPECT_EQ(long_run.data.seed, 1u);
}

}  // namespace
}  // namespace roiserve::detector
