// Anchors, matching and sampling, against values worked out by hand from
// torchvision's definitions.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "detector/model/anchor_generator.h"
#include "detector/model/matcher.h"

namespace roiserve::detector {
namespace {

TEST(AnchorGenerator, BaseAnchorsAreRoundedAndCentred) {
  // size 32: ratio 0.5 -> w = 32 * sqrt(2) = 45.25, h = 22.63 -> halves 22.63, 11.31 -> rounded.
  const AnchorGenerator generator({{32}}, {0.5, 1.0, 2.0});
  const at::Tensor features = at::zeros({1, 1, 1, 1});
  const at::Tensor anchors = generator.grid_anchors({features}, 32, 32);
  const at::Tensor expected =
      at::tensor({-23.f, -11.f, 23.f, 11.f, -16.f, -16.f, 16.f, 16.f, -11.f, -23.f, 11.f, 23.f})
          .view({3, 4});
  EXPECT_TRUE(at::equal(anchors, expected)) << anchors;
}

TEST(AnchorGenerator, ShiftsFollowRowsThenColumnsThenAnchors) {
  const AnchorGenerator generator({{16}, {32}}, {1.0});
  // Padded image 64 x 96: level 0 is 2 x 3 (stride 32), level 1 is 1 x 2 (stride 64 x 48).
  const at::Tensor anchors =
      generator.grid_anchors({at::zeros({1, 1, 2, 3}), at::zeros({1, 1, 1, 2})}, 64, 96);
  ASSERT_EQ(anchors.size(0), 6 + 2);
  // Level 0, row 1, column 2: centre (64, 32), half size 8.
  EXPECT_TRUE(at::equal(anchors[5], at::tensor({56.f, 24.f, 72.f, 40.f})));
  // Level 1, column 1: stride_x = 96 / 2 = 48, half size 16.
  EXPECT_TRUE(at::equal(anchors[7], at::tensor({32.f, -16.f, 64.f, 16.f})));
}

TEST(Matcher, ThresholdsAndIgnoredBand) {
  const Matcher matcher(0.7, 0.3, /*allow_low_quality_matches=*/false);
  // 2 ground truths x 4 predictions.
  const at::Tensor quality = at::tensor({0.9f, 0.5f, 0.1f, 0.2f, 0.2f, 0.1f, 0.8f, 0.29f}).view({2, 4});
  const at::Tensor matches = matcher(quality);
  EXPECT_TRUE(at::equal(matches, at::tensor(std::vector<int64_t>{0, kBetweenThresholds, 1,
                                                                 kBelowLowThreshold})))
      << matches;
}

TEST(Matcher, LowQualityMatchesKeepEachGroundTruthsBestPredictions) {
  const Matcher matcher(0.7, 0.3, /*allow_low_quality_matches=*/true);
  // Ground truth 1 overlaps at most 0.25, with predictions 2 and 3 tied.
  const at::Tensor quality = at::tensor({0.9f, 0.5f, 0.1f, 0.1f, 0.0f, 0.1f, 0.25f, 0.25f}).view({2, 4});
  const at::Tensor matches = matcher(quality);
  EXPECT_TRUE(at::equal(matches, at::tensor(std::vector<int64_t>{0, kBetweenThresholds, 1, 1}))) << matches;
}

TEST(SampleBalanced, CapsForegroundAndFillsWithBackground) {
  at::manual_seed(0);
  at::Tensor labels = at::zeros({100}, at::kLong);
  labels.narrow(0, 0, 30).fill_(2);
  labels.narrow(0, 30, 10).fill_(-1);
  const auto [positive, negative] = sample_balanced(labels, 40, 0.25);
  EXPECT_EQ(positive.numel(), 10);
  EXPECT_EQ(negative.numel(), 30);
  EXPECT_TRUE((labels.index_select(0, positive) >= 1).all().item<bool>());
  EXPECT_TRUE((labels.index_select(0, negative) == 0).all().item<bool>());
  EXPECT_EQ(std::get<0>(at::_unique(negative)).numel(), 30);
}

TEST(SampleBalanced, FewForegroundLeavesRoomForBackground) {
  at::manual_seed(0);
  at::Tensor labels = at::zeros({100}, at::kLong);
  labels.narrow(0, 0, 3).fill_(1);
  const auto [positive, negative] = sample_balanced(labels, 40, 0.5);
  EXPECT_EQ(positive.numel(), 3);
  EXPECT_EQ(negative.numel(), 37);
}

}  // namespace
}  // namespace roiserve::detector
