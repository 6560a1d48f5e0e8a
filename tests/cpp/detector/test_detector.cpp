// The assembled detector on the tiny configuration: stages and timings of a
// forward, masks for every detection, shared features across heads, request
// errors, concurrent forwards and the training losses.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <thread>

#include "detector/data/shapes_dataset.h"
#include "detector/model/detector.h"
#include "detector/train/training_example.h"
#include "model_support.h"

namespace roiserve::detector {
namespace {

Detector tiny_detector() {
  at::manual_seed(7);
  Detector detector(test::tiny_model_config());
  detector->eval();
  return detector;
}

std::vector<at::Tensor> test_images() {
  return {generate_shapes_sample(3, 0).image, generate_shapes_sample(3, 1).image};
}

TEST(Detector, DetectTimesEveryStageAndMasksEveryDetection) {
  Detector detector = tiny_detector();
  const auto images = test_images();
  StageTimings timings;
  const auto detections = detector->detect(images, HeadRequest{}, timings);
  ASSERT_EQ(detections.size(), 2u);
  for (const char* stage : {"preprocess", "backbone", "rpn", "box_pool", "box_head", "postprocess",
                            "mask_pool", "mask_head", "paste", "total"}) {
    ASSERT_NE(timings.find(stage), nullptr) << stage;
    EXPECT_GE(*timings.find(stage), 0.0);
  }
  for (size_t i = 0; i < detections.size(); ++i) {
    const ImageDetections& image = detections[i];
    EXPECT_EQ(image.image_size.height, images[i].size(1));
    EXPECT_EQ(image.image_size.width, images[i].size(2));
    const int64_t count = image.boxes.size(0);
    EXPECT_GT(count, 0);
    EXPECT_LE(count, 100);
    EXPECT_EQ(static_cast<int64_t>(image.masks.size()), count);
    EXPECT_TRUE((image.labels >= 1).all().item<bool>());
    EXPECT_TRUE((image.labels <= detector->config().num_classes()).all().item<bool>());
    // Decreasing scores; boxes inside the image.
    EXPECT_TRUE((image.scores.narrow(0, 1, count - 1) <= image.scores.narrow(0, 0, count - 1))
                    .all()
                    .item<bool>());
    EXPECT_GE(image.boxes.min().item<float>(), 0.0f);
    EXPECT_LE(image.boxes.select(1, 2).max().item<float>(), images[i].size(2));
    for (const MaskPatch& mask : image.masks) {
      EXPECT_LE(mask.top + mask.probabilities.size(0), images[i].size(1));
      EXPECT_LE(mask.left + mask.probabilities.size(1), images[i].size(2));
    }
  }
}

TEST(Detector, BoxesOnlyRequestSkipsTheMaskStages) {
  Detector detector = tiny_detector();
  StageTimings timings;
  HeadRequest request;
  request.masks = false;
  const auto detections = detector->detect(test_images(), request, timings);
  EXPECT_TRUE(detections[0].masks.empty());
  EXPECT_EQ(timings.find("mask_pool"), nullptr);
  EXPECT_EQ(timings.find("paste"), nullptr);
}

TEST(Detector, RequestOverridesLimitDetections) {
  Detector detector = tiny_detector();
  StageTimings timings;
  HeadRequest request;
  request.max_detections = 3;
  request.masks = false;
  for (const auto& image : detector->detect(test_images(), request, timings)) {
    EXPECT_LE(image.boxes.size(0), 3);
  }
}

TEST(Detector, EveryHeadAndPoolerRunsOnTheSameSharedStages) {
  Detector detector = tiny_detector();
  const SharedStages shared = detector->run_shared(test_images());
  for (const auto& head : detector->box_head_names()) {
    for (const auto& pooler : detector->mask_pooler_names()) {
      StageTimings timings;
      HeadRequest request;
      request.box_head = head;
      request.mask_pooler = pooler;
      const auto detections = detector->run_head(shared, request, timings);
      EXPECT_EQ(detections[0].masks.size(), static_cast<size_t>(detections[0].boxes.size(0)))
          << head << " " << pooler;
    }
  }
}

TEST(Detector, UnknownHeadOrPoolerIsAnErrorNamingIt) {
  Detector detector = tiny_detector();
  StageTimings timings;
  HeadRequest request;
  request.box_head = "roi_warp";
  try {
    detector->detect(test_images(), request, timings);
    FAIL() << "no error";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("no box head 'roi_warp'"), std::string::npos);
  }
  request.box_head.clear();
  request.mask_pooler = "ps_roi_pool";
  EXPECT_THROW(detector->detect(test_images(), request, timings), std::invalid_argument);
}

TEST(Detector, ConcurrentForwardsMatchSerialOnes) {
  Detector detector = tiny_detector();
  const auto images = test_images();
  StageTimings timings;
  const auto expected = detector->detect(images, HeadRequest{}, timings);
  std::vector<std::vector<ImageDetections>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] {
      StageTimings own;
      result = detector->detect(images, HeadRequest{}, own);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(at::equal(result[i].boxes, expected[i].boxes));
      EXPECT_TRUE(at::equal(result[i].scores, expected[i].scores));
      EXPECT_TRUE(at::equal(result[i].masks[0].probabilities, expected[i].masks[0].probabilities));
    }
  }
}

TEST(Detector, TrainingLossesOfEachPlanAreFiniteAndDifferentiable) {
  Detector detector = tiny_detector();
  detector->train();
  const auto source = make_shapes_source(5);
  std::vector<at::Tensor> images;
  std::vector<InstanceTargets> targets;
  for (int64_t i = 0; i < 2; ++i) {
    const TrainingExample example = source->example(i);
    images.push_back(example.image);
    targets.push_back(example.targets);
  }
  TrainingPlan stage1{true, {"roi_align"}, {"roi_align"}, 8};
  TrainingPlan stage2{false, {"roi_pool", "ps_roi_pool", "spp"}, {"roi_pool"}, 8};
  for (const TrainingPlan& plan : {stage1, stage2}) {
    const auto losses = detector->losses(images, targets, plan);
    const size_t expected_count = (plan.train_shared ? 2 : 0) + 2 * plan.box_heads.size() +
                                  plan.mask_poolers.size();
    EXPECT_EQ(losses.size(), expected_count);
    at::Tensor total = at::zeros({});
    for (const auto& [name, loss] : losses) {
      EXPECT_TRUE(std::isfinite(loss.item<double>())) << name;
      total = total + loss;
    }
    total.backward();
    for (const auto& parameter : detector->trainable_parameters(plan)) {
      ASSERT_TRUE(parameter.grad().defined());
    }
  }
}

}  // namespace
}  // namespace roiserve::detector

namespace roiserve::detector {
namespace {

TEST(Detector, ReinitializingHeadsTouchesThePlansHeadsOnly) {
  Detector detector = tiny_detector();
  std::map<std::string, at::Tensor> before;
  for (const auto& entry : detector->named_parameters()) before[entry.key()] = entry.value().clone();
  TrainingPlan plan;
  plan.train_shared = false;
  plan.box_heads = {"spp"};
  plan.mask_poolers = {"roi_pool"};
  at::manual_seed(99);
  detector->reinitialize_heads(plan);
  for (const auto& entry : detector->named_parameters()) {
    const std::string& name = entry.key();
    const bool in_plan = name.rfind("box_heads.spp.", 0) == 0 || name.rfind("mask_heads.roi_pool.", 0) == 0;
    ASSERT_TRUE(before.count(name)) << name;
    // Zero-initialized biases stay equal; every reinitialized weight changes.
    if (!in_plan) {
      EXPECT_TRUE(at::equal(entry.value(), before[name])) << name;
    } else if (name.find("weight") != std::string::npos) {
      EXPECT_FALSE(at::equal(entry.value(), before[name])) << name;
    }
  }
  plan.box_heads = {"nonexistent"};
  EXPECT_THROW(detector->reinitialize_heads(plan), std::invalid_argument);
}

}  // namespace
}  // namespace roiserve::detector
