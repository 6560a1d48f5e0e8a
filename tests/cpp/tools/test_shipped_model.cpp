// The shipped model (models/shapes-v1) detects shapes in generated validation
// images with every box head and both mask poolers. The gates of the issue are
// measured on 200 images by roiserve-eval; these floors, on 24 images, catch a
// broken model, bundle or head.
#include <gtest/gtest.h>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_labelled.h"
#include "tools/eval/head_comparison.h"

namespace roiserve::tools {
namespace {

constexpr double kMinBoxAp = 0.5;
constexpr double kMinMaskAp = 0.5;

TEST(ShippedModel, EveryHeadAndPoolerDetectsShapes) {
  detector::Detector model =
      detector::load_bundle(std::filesystem::path(ROISERVE_SOURCE_DIR) / "models" / "shapes-v1");
  ASSERT_EQ(model->box_head_names().size(), 4u);
  ASSERT_EQ(model->mask_pooler_names().size(), 2u);
  const auto data = detector::make_shapes_dataset(detector::kShapesValidationSeed, 0, 24);
  const HeadComparison comparison = compare_heads(*model, *data, "24 validation images", {});
  for (const BoxHeadResult& head : comparison.box_heads) {
    EXPECT_GE(head.bbox.stats[0], kMinBoxAp) << head.head;
  }
  for (const MaskResult& mask : comparison.masks) {
    EXPECT_GE(mask.segm.stats[0], kMinMaskAp) << mask.head << " + " << mask.pooler;
  }
  for (const HeadAgreement& pair : comparison.agreements) {
    EXPECT_GT(pair.agreement.matched, pair.agreement.only_a + pair.agreement.only_b)
        << pair.head_a << " vs " << pair.head_b;
  }
}

}  // namespace
}  // namespace roiserve::tools
