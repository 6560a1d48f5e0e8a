// The box-head registry and each registered head's pooling and prediction shapes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "detector/heads/box_head.h"
#include "detector/model/roi_levels.h"

namespace roiserve::detector {
namespace {

constexpr int64_t kChannels = 8;
constexpr int64_t kClassesWithBackground = 4;

std::vector<at::Tensor> pyramid(int64_t batch) {
  std::vector<at::Tensor> levels;
  for (int64_t size : {32, 16, 8, 4, 2}) levels.push_back(at::randn({batch, kChannels, size, size}));
  return levels;
}

LevelledRois rois_for_two_images() {
  const at::Tensor small = at::tensor({2.f, 2.f, 20.f, 20.f, 10.f, 5.f, 60.f, 40.f}).view({2, 4});
  const at::Tensor large = at::tensor({0.f, 0.f, 120.f, 100.f, 8.f, 8.f, 9.f, 9.f, 30.f, 30.f,
                                       90.f, 110.f})
                               .view({3, 4});
  return assign_roi_levels({small, large}, LevelMapperConfig{56, 4});
}

TEST(BoxHeadRegistry, KnowsTheFourHeads) {
  const auto types = registered_box_head_types();
  for (const char* type : {"ps_roi_pool", "roi_align", "roi_pool", "spp"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
  }
}

TEST(BoxHeadRegistry, UnknownTypeAndUnknownSettingAreErrors) {
  const BoxHeadContext context{kChannels, kClassesWithBackground};
  EXPECT_THROW(
      {
        try {
          create_box_head("roi_warp", context, YAML::Node());
        } catch (const std::invalid_argument& error) {
          EXPECT_NE(std::string(error.what()).find("unknown box head type 'roi_warp'"),
                    std::string::npos);
          throw;
        }
      },
      std::invalid_argument);
  YAML::Node params;
  params["pooled_sise"] = 7;
  EXPECT_THROW(
      {
        try {
          create_box_head("roi_align", context, params);
        } catch (const std::invalid_argument& error) {
          EXPECT_NE(std::string(error.what()).find("unknown setting 'pooled_sise'"),
                    std::string::npos);
          throw;
        }
      },
      std::invalid_argument);
}

TEST(RoiLevels, MapsBySizeAndKeepsOrder) {
  const LevelledRois rois = rois_for_two_images();
  // canonical 56 at level 4: sqrt(area) 18 -> floor(4 + log2(18/56)) = 2 -> P2 (index 0);
  // sqrt(50*35)=41.8 -> 3 -> index 1; sqrt(120*100)=109.5 -> 4 -> index 2; 1 px -> P2;
  // sqrt(60*80)=69.3 -> 4 -> index 2.
  EXPECT_TRUE(at::equal(rois.levels, at::tensor({0, 1, 2, 0, 2}, at::kLong))) << rois.levels;
  EXPECT_TRUE(at::equal(rois.rois.select(1, 0), at::tensor({0.f, 0.f, 1.f, 1.f, 1.f})));
}

TEST(RoiLevels, PoolByLevelReturnsRoisInTheirOrder) {
  const auto features = pyramid(2);
  const LevelledRois rois = rois_for_two_images();
  // Pool the level's scale itself: the result must line up with each RoI's level.
  const at::Tensor pooled = pool_by_level(
      features, rois, [](const at::Tensor&, const at::Tensor& r, double scale) {
        return at::full({r.size(0), 1}, scale);
      });
  EXPECT_TRUE(at::allclose(pooled.squeeze(1), at::tensor({0.25, 0.125, 0.0625, 0.25, 0.0625},
                                                         at::kFloat)));
}

class EachBoxHead : public ::testing::TestWithParam<const char*> {};

TEST_P(EachBoxHead, PredictsClassesAndBoxesPerRoi) {
  const BoxHeadContext context{kChannels, kClassesWithBackground};
  const auto head = create_box_head(GetParam(), context, YAML::Node());
  const auto features = pyramid(2);
  const LevelledRois rois = rois_for_two_images();
  const BoxPrediction prediction = head->predict(head->pool(features, rois));
  EXPECT_EQ(prediction.class_logits.sizes(), (std::vector<int64_t>{5, kClassesWithBackground}));
  const int64_t deltas = prediction.box_deltas.size(1);
  EXPECT_TRUE(deltas == 4 || deltas == 4 * kClassesWithBackground) << deltas;
  EXPECT_EQ(prediction.box_deltas.size(0), 5);

  // No RoIs: shaped empty outputs.
  const LevelledRois none = assign_roi_levels({at::zeros({0, 4}), at::zeros({0, 4})}, {56, 4});
  const BoxPrediction empty = head->predict(head->pool(features, none));
  EXPECT_EQ(empty.class_logits.sizes(), (std::vector<int64_t>{0, kClassesWithBackground}));
  EXPECT_EQ(empty.box_deltas.sizes(), (std::vector<int64_t>{0, deltas}));
}

TEST_P(EachBoxHead, GradientsReachTheFeatures) {
  const BoxHeadContext context{kChannels, kClassesWithBackground};
  const auto head = create_box_head(GetParam(), context, YAML::Node());
  auto features = pyramid(2);
  for (auto& f : features) f.requires_grad_(true);
  const BoxPrediction prediction = head->predict(head->pool(features, rois_for_two_images()));
  (prediction.class_logits.sum() + prediction.box_deltas.sum()).backward();
  EXPECT_GT(features[0].grad().abs().sum().item<double>(), 0);
}

INSTANTIATE_TEST_SUITE_P(Heads, EachBoxHead,
                         ::testing::Values("roi_align", "roi_pool", "ps_roi_pool", "spp"));

}  // namespace
}  // namespace roiserve::detector
