// Requests' options against a model with every head: defaults filled in,
// each bad option refused with a message that names it.
#include <gtest/gtest.h>

#include "detector/bundle/model_bundle.h"
#include "server/request_options.h"

namespace roiserve::server {
namespace {

const detector::DetectorImpl& shapes_model() {
  // Architecture only: option checks never touch the weights.
  static const detector::Detector model(
      detector::read_model_config(std::filesystem::path(ROISERVE_SOURCE_DIR) / "models/shapes-v1"));
  return *model;
}

std::string error_of(const v1::DetectOptions& options, LimitsConfig limits = {}) {
  try {
    resolve_detect_options(options, shapes_model(), limits);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "accepted";
}

TEST(DetectOptions, DefaultsComeFromTheModel) {
  const ResolvedOptions resolved = resolve_detect_options({}, shapes_model(), {});
  ASSERT_EQ(resolved.variants.size(), 1u);
  EXPECT_EQ(resolved.variants[0].box_head, "roi_align");
  EXPECT_EQ(resolved.variants[0].mask_pooler, "roi_align");
  EXPECT_TRUE(resolved.variants[0].masks);
  EXPECT_EQ(resolved.mask_format, MaskFormat::kCocoRle);
  EXPECT_EQ(resolved.variants[0].max_detections, 100);
  EXPECT_FALSE(resolved.variants[0].score_threshold.has_value());
}

TEST(DetectOptions, NoMasksMeansNoPooler) {
  v1::DetectOptions options;
  options.set_head("spp");
  options.set_mask_format(v1::MASK_FORMAT_NONE);
  const ResolvedOptions resolved = resolve_detect_options(options, shapes_model(), {});
  EXPECT_EQ(resolved.variants[0].box_head, "spp");
  EXPECT_FALSE(resolved.variants[0].masks);
  EXPECT_EQ(resolved.variants[0].mask_pooler, "");
}

TEST(DetectOptions, UnknownHeadOrPoolerNamesWhatTheModelHas) {
  v1::DetectOptions options;
  options.set_head("roi_warp");
  EXPECT_NE(error_of(options).find("no box head 'roi_warp' (it has: ps_roi_pool, roi_align, roi_pool, spp)"),
            std::string::npos)
      << error_of(options);
  options.set_head("");
  options.set_mask_pooler("ps_roi_pool");
  EXPECT_NE(error_of(options).find("no mask pooler 'ps_roi_pool'"), std::string::npos);
}

TEST(DetectOptions, OutOfRangeValuesAreRefused) {
  v1::DetectOptions options;
  options.set_score_threshold(1.5f);
  EXPECT_NE(error_of(options).find("score_threshold must be in [0, 1]"), std::string::npos);
  options.Clear();
  options.set_nms_iou(std::nanf(""));
  EXPECT_NE(error_of(options).find("nms_iou"), std::string::npos);
  options.Clear();
  options.set_max_detections(0);
  EXPECT_NE(error_of(options).find("max_detections must be in 1..1000"), std::string::npos);
  LimitsConfig limits;
  limits.max_detections = 10;
  options.set_max_detections(11);
  EXPECT_NE(error_of(options, limits).find("1..10"), std::string::npos);
  options.Clear();
  options.set_mask_format(static_cast<v1::MaskFormat>(42));
  EXPECT_NE(error_of(options).find("unknown mask_format 42"), std::string::npos);
}

TEST(CompareOptions, VariantsAreResolvedAndCheckedForDuplicates) {
  v1::CompareRequest request;
  request.add_variants()->set_head("roi_pool");
  v1::Variant* second = request.add_variants();
  second->set_head("roi_pool");
  second->set_mask_pooler("roi_pool");
  const ResolvedOptions resolved = resolve_compare_options(request, shapes_model(), {});
  ASSERT_EQ(resolved.variants.size(), 2u);
  EXPECT_EQ(resolved.variants[0].mask_pooler, "roi_align");
  EXPECT_EQ(resolved.variants[1].mask_pooler, "roi_pool");

  second->set_mask_pooler("roi_align");  // now the same as the first
  EXPECT_THROW(resolve_compare_options(request, shapes_model(), {}), std::invalid_argument);
  request.mutable_variants()->RemoveLast();
  EXPECT_THROW(resolve_compare_options(request, shapes_model(), {}), std::invalid_argument);
}

TEST(CompareOptions, AgreementThresholds) {
  v1::CompareRequest request;
  EXPECT_EQ(resolve_agreement_options(request).match_iou, 0.5);
  request.set_match_iou(0.0f);
  EXPECT_THROW(resolve_agreement_options(request), std::invalid_argument);
  request.set_match_iou(0.7f);
  request.set_agreement_min_score(-0.1f);
  EXPECT_THROW(resolve_agreement_options(request), std::invalid_argument);
}

TEST(ImageInput, MissingImageIsNamed) {
  try {
    image_input(v1::Image(), 100);
    FAIL() << "an empty image was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("has no image"), std::string::npos);
  }
}

}  // namespace
}  // namespace roiserve::server
