// No RoIs (K = 0) is a valid batch: every output has the shape it would have
// for K RoIs with K = 0, and the input gradient is all zeros.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

class EmptyRoIsTest : public ::testing::TestWithParam<PoolingOp> {};

TEST_P(EmptyRoIsTest, GiveShapedEmptyOutputsAndZeroGradient) {
  const PoolingOp& op = GetParam();
  const at::Tensor input = random_features({2, 32, 10, 12}, 1);
  const at::Tensor rois = random_rois(3, 2, 40, 48, 2);
  const auto shaped = op.forward(input, rois);
  const auto empty = op.forward(input, rois.slice(0, 0, 0));
  ASSERT_EQ(empty.size(), shaped.size());
  for (size_t i = 0; i < empty.size(); ++i) {
    std::vector<int64_t> expected = shaped[i].sizes().vec();
    expected[0] = 0;
    EXPECT_EQ(empty[i].sizes(), at::IntArrayRef(expected)) << "output " << i;
    EXPECT_EQ(empty[i].scalar_type(), shaped[i].scalar_type()) << "output " << i;
  }
  const at::Tensor grad = input_gradient(op, input, rois.slice(0, 0, 0), 3);
  EXPECT_TRUE(at::equal(grad, at::zeros_like(input)));
}

INSTANTIATE_TEST_SUITE_P(AllPoolingOps, EmptyRoIsTest, ::testing::ValuesIn(pooling_ops()),
                         pooling_op_label);

TEST(EmptyBoxesTest, NmsKeepsNothing) {
  const at::Tensor keep = ops::nms(at::zeros({0, 4}), at::zeros({0}), 0.5);
  EXPECT_EQ(keep.sizes(), at::IntArrayRef({0}));
  EXPECT_EQ(keep.scalar_type(), at::kLong);
  const at::Tensor batched =
      ops::batched_nms(at::zeros({0, 4}), at::zeros({0}), at::zeros({0}, at::kLong), 0.5);
  EXPECT_EQ(batched.sizes(), at::IntArrayRef({0}));
}

}  // namespace
}  // namespace roiserve::test
