// The /v1 routes' options: a request's JSON, then query parameters over it
// (server/http_routes_v1).
#include <gtest/gtest.h>

#include <stdexcept>

#include "server/http_routes_v1.h"

namespace roiserve::server {
namespace {

using Query = std::multimap<std::string, std::string>;

TEST(DetectRequestOf, ReadsEveryQueryParameter) {
  const v1::DetectRequest request = detect_request_of(
      "", {{"model", "m"}, {"head", "spp"}, {"mask_pooler", "roi_pool"}, {"score_threshold", "0.25"},
           {"nms_iou", "0.6"}, {"max_detections", "7"}, {"mask_format", "png"}, {"request_id", "r1"}});
  EXPECT_EQ(request.options().model(), "m");
  EXPECT_EQ(request.options().head(), "spp");
  EXPECT_EQ(request.options().mask_pooler(), "roi_pool");
  EXPECT_FLOAT_EQ(request.options().score_threshold(), 0.25f);
  EXPECT_FLOAT_EQ(request.options().nms_iou(), 0.6f);
  EXPECT_EQ(request.options().max_detections(), 7u);
  EXPECT_EQ(request.options().mask_format(), v1::MASK_FORMAT_PNG);
  EXPECT_EQ(request.request_id(), "r1");
  EXPECT_FALSE(request.has_image());
}

TEST(DetectRequestOf, QueryParametersApplyOverTheJson) {
  const v1::DetectRequest request = detect_request_of(
      R"({"options": {"head": "spp", "score_threshold": 0.9, "mask_format": "MASK_FORMAT_NONE"}})",
      {{"score_threshold", "0.1"}});
  EXPECT_EQ(request.options().head(), "spp");
  EXPECT_FLOAT_EQ(request.options().score_threshold(), 0.1f);
  EXPECT_EQ(request.options().mask_format(), v1::MASK_FORMAT_NONE);
}

TEST(DetectRequestOf, UnsetOptionsStayUnset) {
  const v1::DetectRequest request = detect_request_of("", {});
  EXPECT_FALSE(request.options().has_score_threshold());
  EXPECT_FALSE(request.options().has_max_detections());
}

TEST(DetectRequestOf, RefusesWhatItCannotRead) {
  const Query bad[] = {{{"score", "0.5"}},           {{"score_threshold", "half"}},
                       {{"score_threshold", ""}},    {{"max_detections", "-1"}},
                       {{"max_detections", "1.5"}},  {{"max_detections", "4294967296"}},
                       {{"mask_format", "jpeg"}},    {{"variants", "spp,roi_pool"}}};
  for (const Query& query : bad) {
    EXPECT_THROW(detect_request_of("", query), std::invalid_argument) << query.begin()->first;
  }
  EXPECT_THROW(detect_request_of("{", {}), std::invalid_argument);
  EXPECT_THROW(detect_request_of(R"({"options": {"heads": "spp"}})", {}), std::invalid_argument);
}

TEST(CompareRequestOf, ReadsVariantsAsRoiserveClientDoes) {
  const v1::CompareRequest request = compare_request_of(
      "", {{"variants", "roi_align/roi_pool,spp"}, {"match_iou", "0.7"}, {"agreement_min_score", "0.4"},
           {"nms_iou", "0.3"}});
  ASSERT_EQ(request.variants_size(), 2);
  EXPECT_EQ(request.variants(0).head(), "roi_align");
  EXPECT_EQ(request.variants(0).mask_pooler(), "roi_pool");
  EXPECT_EQ(request.variants(1).head(), "spp");
  EXPECT_EQ(request.variants(1).mask_pooler(), "");
  EXPECT_FLOAT_EQ(request.match_iou(), 0.7f);
  EXPECT_FLOAT_EQ(request.agreement_min_score(), 0.4f);
  EXPECT_FLOAT_EQ(request.options().nms_iou(), 0.3f);
}

TEST(CompareRequestOf, QueryVariantsReplaceTheJsons) {
  const v1::CompareRequest request =
      compare_request_of(R"({"variants": [{"head": "a"}, {"head": "b"}, {"head": "c"}]})", {{"variants", "x,y"}});
  ASSERT_EQ(request.variants_size(), 2);
  EXPECT_EQ(request.variants(0).head(), "x");
}

}  // namespace
}  // namespace roiserve::server
