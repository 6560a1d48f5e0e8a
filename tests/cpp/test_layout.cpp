// Channels-last features (the layout of a channels-last backbone) give the
// same values as contiguous ones, forward and backward, for every pooling op.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

class ChannelsLastTest : public ::testing::TestWithParam<PoolingOp> {
 protected:
  const at::Tensor input = random_features({2, 32, 17, 23}, 1);
  const at::Tensor channels_last = input.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor rois = random_rois(40, 2, 68, 92, 2);
};

TEST_P(ChannelsLastTest, ForwardMatchesContiguous) {
  const PoolingOp& op = GetParam();
  const auto expected = op.forward(input, rois);
  const auto actual = op.forward(channels_last, rois);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(at::equal(actual[i], expected[i])) << "output " << i;
  }
}

TEST_P(ChannelsLastTest, BackwardMatchesContiguous) {
  const PoolingOp& op = GetParam();
  EXPECT_TRUE(
      at::equal(input_gradient(op, channels_last, rois, 3), input_gradient(op, input, rois, 3)));
}

INSTANTIATE_TEST_SUITE_P(AllPoolingOps, ChannelsLastTest, ::testing::ValuesIn(pooling_ops()),
                         pooling_op_label);

// RoIAlign and RoIPool keep the caller's layout, as convolutions do.
TEST(OutputLayoutTest, FollowsTheInputForRoIAlignAndRoIPool) {
  const at::Tensor rois = random_rois(5, 1, 32, 32, 2);
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(format);
    const at::Tensor input = random_features({1, 8, 8, 8}, 1).contiguous(format);
    EXPECT_TRUE(ops::roi_align(input, rois, 0.25, 3, 3, 2, true).is_contiguous(format));
    const auto [output, argmax] = ops::roi_pool(input, rois, 0.25, 3, 3);
    EXPECT_TRUE(output.is_contiguous(format));
    EXPECT_TRUE(argmax.is_contiguous(format));
  }
}

}  // namespace
}  // namespace roiserve::test
