// Jobs' variant lists compared as values: thresholds that print alike to six
// decimals (std::to_string, the old grouping key) are still different
// requests, every field counts, and sorting puts equal lists together.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "server/variant_lists.h"

namespace roiserve::server {
namespace {

using Variants = std::vector<detector::HeadRequest>;

Variants one_variant(std::optional<double> score_threshold, std::optional<double> nms_iou = {}) {
  detector::HeadRequest variant;
  variant.box_head = "roi_align";
  variant.score_threshold = score_threshold;
  variant.nms_iou = nms_iou;
  return {variant};
}

void expect_different(const Variants& a, const Variants& b) {
  EXPECT_FALSE(same_variants(a, b));
  EXPECT_FALSE(same_variants(b, a));
  EXPECT_NE(variants_before(a, b), variants_before(b, a)) << "exactly one comes first";
}

TEST(VariantLists, ThresholdsThatPrintAlikeAreDifferentRequests) {
  ASSERT_EQ(std::to_string(0.1234561), std::to_string(0.1234564));
  expect_different(one_variant(0.1234561), one_variant(0.1234564));
  expect_different(one_variant(0.5, 0.1234561), one_variant(0.5, 0.1234564));
}

TEST(VariantLists, EqualListsAreTheSameAndNeitherComesFirst) {
  const Variants a = one_variant(0.1234561, 0.5), b = one_variant(0.1234561, 0.5);
  EXPECT_TRUE(same_variants(a, b));
  EXPECT_FALSE(variants_before(a, b));
  EXPECT_FALSE(variants_before(b, a));
  EXPECT_TRUE(same_variants({}, {}));
}

TEST(VariantLists, EveryFieldCounts) {
  const Variants base = one_variant(0.3, 0.5);
  auto changed = [&](auto change) {
    Variants variants = base;
    change(variants.front());
    return variants;
  };
  expect_different(base, changed([](detector::HeadRequest& v) { v.box_head = "roi_pool"; }));
  expect_different(base, changed([](detector::HeadRequest& v) { v.mask_pooler = "roi_pool"; }));
  expect_different(base, changed([](detector::HeadRequest& v) { v.masks = false; }));
  expect_different(base, changed([](detector::HeadRequest& v) { v.score_threshold.reset(); }));
  expect_different(base, changed([](detector::HeadRequest& v) { v.nms_iou.reset(); }));
  expect_different(base, changed([](detector::HeadRequest& v) { v.max_detections = 10; }));
  // A list and its prefix, and the order of a list's variants.
  Variants two = base;
  two.push_back(one_variant(0.7).front());
  expect_different(base, two);
  expect_different(two, Variants{two[1], two[0]});
}

TEST(VariantLists, SortingPutsEqualListsTogetherInTheirOrder) {
  const Variants a = one_variant(0.1234561), b = one_variant(0.1234564), c = one_variant({});
  struct Job {
    Variants variants;
    int arrival;
  };
  std::vector<Job> jobs{{a, 0}, {b, 1}, {c, 2}, {a, 3}, {b, 4}, {c, 5}};
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& x, const Job& y) {
    return variants_before(x.variants, y.variants);
  });
  for (size_t i = 0; i < jobs.size(); i += 2) {
    EXPECT_TRUE(same_variants(jobs[i].variants, jobs[i + 1].variants)) << "position " << i;
    EXPECT_LT(jobs[i].arrival, jobs[i + 1].arrival) << "stable within a group";
  }
  EXPECT_FALSE(same_variants(jobs[0].variants, jobs[2].variants));
  EXPECT_FALSE(same_variants(jobs[2].variants, jobs[4].variants));
}

}  // namespace
}  // namespace roiserve::server
