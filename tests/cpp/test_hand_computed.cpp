// Pooling ops on inputs whose outputs are known in closed form. On the ramp
// image value(x, y) = x + 10 y, bilinear interpolation is exact, so RoIAlign's
// average over a bin's sample points is the ramp at the points' centroid, and
// the maximum of a bin is its bottom-right cell.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

// [1, 1, height, width] float64 ramp: x + 10 y at column x, row y.
at::Tensor ramp_image(int64_t height, int64_t width) {
  const at::Tensor x = at::arange(width, at::kDouble).view({1, width});
  const at::Tensor y = at::arange(height, at::kDouble).view({height, 1});
  return (x + 10 * y).view({1, 1, height, width});
}

at::Tensor one_roi(double x1, double y1, double x2, double y2) {
  return at::tensor({0.0, x1, y1, x2, y2}, at::kDouble).view({1, 5});
}

void expect_values(const at::Tensor& actual, const std::vector<double>& expected) {
  const at::Tensor want = at::tensor(expected, at::kDouble).view(actual.sizes());
  EXPECT_TRUE(at::allclose(actual, want, 0, 1e-12)) << actual << "\nexpected\n" << want;
}

TEST(RoIAlignHandComputed, AlignedBinsAverageToTheRampAtTheirCentres) {
  // RoI [2, 6]² shifted by the half pixel: [1.5, 5.5]², bins of 2 cells
  // centred on 2.5 and 4.5. Any number of sample points averages to the centre.
  for (const int64_t sampling_ratio : {0, 1, 2, 3}) {
    SCOPED_TRACE(sampling_ratio);
    expect_values(
        ops::roi_align(ramp_image(10, 10), one_roi(2, 2, 6, 6), 1.0, 2, 2, sampling_ratio, true),
        {27.5, 29.5, 47.5, 49.5});
  }
}

TEST(RoIAlignHandComputed, UnalignedBinsAreHalfAPixelFurther) {
  // Without the half-pixel shift the bins span [2, 4] and [4, 6].
  expect_values(ops::roi_align(ramp_image(10, 10), one_roi(2, 2, 6, 6), 1.0, 2, 2, 2, false),
                {33.0, 35.0, 53.0, 55.0});
}

TEST(RoIAlignHandComputed, SpatialScaleMapsImageCoordinatesToTheFeatureMap) {
  expect_values(ops::roi_align(ramp_image(10, 10), one_roi(4, 4, 12, 12), 0.5, 2, 2, 2, true),
                {27.5, 29.5, 47.5, 49.5});
}

TEST(RoIAlignHandComputed, SamplesPastTheLastCellReadTheBorder) {
  // Samples at 9.25 and 9.75 lie within one pixel of the map: clamped to cell 9.
  expect_values(
      ops::roi_align(ramp_image(10, 10), one_roi(9.5, 9.5, 10.5, 10.5), 1.0, 1, 1, 2, true),
      {99.0});
}

TEST(RoIAlignHandComputed, SamplesMoreThanAPixelOutsideReadNothing) {
  expect_values(ops::roi_align(ramp_image(10, 10), one_roi(12, 12, 14, 14), 1.0, 2, 2, 2, true),
                {0.0, 0.0, 0.0, 0.0});
}

TEST(RoIPoolHandComputed, TakesEachBinsMaximumAndItsFlatIndex) {
  // Map 8 × 12. The RoI spans cells x 2..7, y 1..5; bins split x into [2, 5)
  // and [5, 8), y (5 rows into 2) into [1, 4) and [3, 6).
  const auto [output, argmax] = ops::roi_pool(ramp_image(8, 12), one_roi(2, 1, 7, 5), 1.0, 2, 2);
  expect_values(output, {34, 37, 54, 57});
  const int64_t width = 12;
  const at::Tensor expected_argmax =
      at::tensor({3 * width + 4, 3 * width + 7, 5 * width + 4, 5 * width + 7}, at::kInt)
          .view({1, 1, 2, 2});
  EXPECT_TRUE(at::equal(argmax, expected_argmax)) << argmax;
}

TEST(RoIPoolHandComputed, FindsASpikeInOneChannel) {
  at::Tensor input = at::full({1, 3, 8, 12}, -1.0, at::kDouble);
  input[0][1][4][6] = 5.0;
  const auto [output, argmax] = ops::roi_pool(input, one_roi(0, 0, 11, 7), 1.0, 1, 1);
  expect_values(output, {-1.0, 5.0, -1.0});
  EXPECT_EQ(argmax[0][1][0][0].item<int>(), 4 * 12 + 6);
}

TEST(RoIPoolHandComputed, RoIOutsideTheMapPoolsEmptyBins) {
  const auto [output, argmax] =
      ops::roi_pool(ramp_image(8, 12), one_roi(20, 20, 30, 30), 1.0, 2, 2);
  expect_values(output, {0, 0, 0, 0});
  EXPECT_TRUE(at::equal(argmax, at::full({1, 1, 2, 2}, -1, at::kInt)));
}

TEST(RoIPoolHandComputed, ARoIFarBeyondTheMapCoversAllOfIt) {
  // Corners 1e27 cells away once converted to integers out of range
  // (undefined; on x86 both became INT64_MIN, a 1-cell RoI at the origin).
  const auto [output, argmax] =
      ops::roi_pool(ramp_image(8, 12), one_roi(-1e27, -1e27, 1e27, 1e27), 1.0, 1, 1);
  expect_values(output, {7 * 10 + 11});
  EXPECT_EQ(argmax.item<int>(), 8 * 12 - 1);
}

TEST(RoIPoolHandComputed, BackwardRoutesEachGradientToItsMaximum) {
  const at::Tensor input = ramp_image(8, 12);
  const at::Tensor roi = one_roi(2, 1, 7, 5);
  const auto [output, argmax] = ops::roi_pool(input, roi, 1.0, 2, 2);
  const at::Tensor grad = at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble).view({1, 1, 2, 2});
  const at::Tensor grad_input = ops::roi_pool_backward(grad, roi, argmax, 1.0, 2, 2, 1, 1, 8, 12);
  at::Tensor expected = at::zeros({1, 1, 8, 12}, at::kDouble);
  expected[0][0][3][4] = 1.0;
  expected[0][0][3][7] = 2.0;
  expected[0][0][5][4] = 3.0;
  expected[0][0][5][7] = 4.0;
  EXPECT_TRUE(at::equal(grad_input, expected));
}

TEST(SppRoIPoolHandComputed, ConcatenatesRoIPoolOfEveryLevel) {
  const int64_t channels = 3;
  const at::Tensor input = random_features({2, channels, 16, 16}, 1).to(at::kDouble);
  // Integer corners at scale 1: the window is cells [x1, x2] × [y1, y2].
  const std::vector<double> corners = {0, 1, 2, 9, 13, 1, 4, 0, 15, 6, 1, 7, 7, 7, 7};
  const at::Tensor rois = at::tensor(corners, at::kDouble).view({3, 5});
  const auto [output, argmax] = ops::spp_roi_pool(input, rois, 1.0, {1, 2, 4});
  const int64_t num_rois = rois.size(0);
  ASSERT_EQ(output.sizes(), at::IntArrayRef({num_rois, channels * (1 + 4 + 16)}));

  for (int64_t k = 0; k < num_rois; ++k) {
    const auto corner = [&](int64_t i) { return rois[k][i].item<int64_t>(); };
    const at::Tensor window =
        input[corner(0)].slice(1, corner(2), corner(4) + 1).slice(2, corner(1), corner(3) + 1);
    EXPECT_TRUE(at::equal(output[k].slice(0, 0, channels), window.amax({1, 2})));
  }
  const at::Tensor level2 = std::get<0>(ops::roi_pool(input, rois, 1.0, 2, 2));
  const at::Tensor level4 = std::get<0>(ops::roi_pool(input, rois, 1.0, 4, 4));
  EXPECT_TRUE(at::equal(output.slice(1, channels, 5 * channels), level2.flatten(1)));
  EXPECT_TRUE(at::equal(output.slice(1, 5 * channels), level4.flatten(1)));
}

TEST(PSRoIPoolHandComputed, EachBinAveragesItsOwnChannel) {
  // Channel c holds the constant c, so bin (i, j) of output channel o reads
  // channel (o * 2 + i) * 2 + j whatever the RoI.
  const at::Tensor input =
      at::arange(8, at::kDouble).view({1, 8, 1, 1}).expand({1, 8, 6, 6}).contiguous();
  const auto [output, mapping] = ops::ps_roi_pool(input, one_roi(0, 0, 5, 5), 1.0, 2, 2);
  expect_values(output, {0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_TRUE(at::equal(mapping, at::arange(8, at::kInt).view({1, 2, 2, 2})));
}

}  // namespace
}  // namespace roiserve::test
