// The offline A/B run on a tiny untrained model: every head and pooler is
// evaluated on one shared pass per image, the report files appear, and bad
// requests are errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../detector/model_support.h"
#include "detector/data/shapes_labelled.h"
#include "../detector/temp_dir.h"
#include "tools/eval/comparison_report.h"
#include "tools/eval/head_comparison.h"

namespace roiserve::tools {
namespace {

class HeadComparisonTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    at::manual_seed(5);
    model_ = detector::Detector(test::tiny_model_config());
    model_->eval();
  }
  detector::Detector model_{nullptr};
  std::unique_ptr<detector::LabelledDataset> data_ = detector::make_shapes_dataset(2, 0, 2);
};

TEST_F(HeadComparisonTest, EveryHeadAndPoolerOnOneSharedPassPerImage) {
  const HeadComparison comparison = compare_heads(*model_, *data_, "two images", {});
  ASSERT_EQ(comparison.box_heads.size(), 4u);
  EXPECT_EQ(comparison.masks.size(), 8u);
  EXPECT_EQ(comparison.agreements.size(), 6u);
  // The backbone ran once per image, each head's box stages once per image.
  EXPECT_EQ(comparison.shared_latency.at("backbone").milliseconds.size(), 2u);
  for (const auto& head : comparison.box_heads) {
    EXPECT_EQ(head.latency.at("box_pool").milliseconds.size(), 2u);
    EXPECT_GE(head.bbox.stats[0], 0.0);
    EXPECT_LE(head.bbox.stats[0], 1.0);
  }
  for (const auto& mask : comparison.masks) {
    EXPECT_EQ(mask.latency.at("paste").milliseconds.size(), 2u);
  }

  write_comparison_report(comparison, dir_, /*write_results=*/true, {1, 2, 3, 4, 5});
  for (const char* file : {"report.md", "report.html", "report.json", "pr_bbox.png", "pr_segm.png",
                           "results/spp_bbox.json", "results/roi_pool_roi_align_segm.json"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(dir_ / file)) << file;
  }
  const auto report = nlohmann::json::parse(std::ifstream(dir_ / "report.json"));
  EXPECT_EQ(report["box_heads"].size(), 4u);
  EXPECT_EQ(report["masks"][0]["mask_pooler"], "roi_align");
  EXPECT_DOUBLE_EQ(report["box_heads"][0]["bbox"]["AP"].get<double>(),
                   comparison.box_heads[0].bbox.stats[0]);
}

TEST_F(HeadComparisonTest, ChosenHeadsBoxesOnly) {
  ComparisonOptions options;
  options.heads = {"spp", "roi_pool"};
  options.masks = false;
  const HeadComparison comparison = compare_heads(*model_, *data_, "two images", options);
  ASSERT_EQ(comparison.box_heads.size(), 2u);
  EXPECT_EQ(comparison.box_heads[0].head, "spp");
  EXPECT_TRUE(comparison.masks.empty());
  write_comparison_report(comparison, dir_, false, {1, 2, 3, 4, 5});
  EXPECT_FALSE(std::filesystem::exists(dir_ / "pr_segm.png"));
}

TEST_F(HeadComparisonTest, UnknownHeadsAndPoolersAreErrors) {
  ComparisonOptions options;
  options.heads = {"roi_align", "fpn_magic"};
  try {
    compare_heads(*model_, *data_, "", options);
    FAIL();
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("no box head 'fpn_magic' (it has: "), std::string::npos)
        << error.what();
  }
  options.heads = {};
  options.mask_poolers = {"ps_roi_align"};
  EXPECT_THROW(compare_heads(*model_, *data_, "", options), std::invalid_argument);
}

}  // namespace
}  // namespace roiserve::tools
