// Autograd from C++: the gradient that backward() accumulates into the input
// is the op's registered backward applied to a gradient of ones, and the index
// outputs (argmax, channel_mapping) are not differentiable.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

class AutogradTest : public ::testing::Test {
 protected:
  // d/dx of output.sum(), accumulated by autograd into x.
  static at::Tensor grad_of_sum(const at::Tensor& output, const at::Tensor& x) {
    output.sum().backward();
    return x.grad();
  }

  const at::Tensor x = random_features({2, 32, 12, 14}, 1).requires_grad_();
  const at::Tensor rois = random_rois(9, 2, 48, 56, 2);
  static constexpr double kScale = kSpatialScale;
};

TEST_F(AutogradTest, RoIAlign) {
  const at::Tensor output = ops::roi_align(x, rois, kScale, 3, 4, 2, true);
  ASSERT_TRUE(output.requires_grad());
  const at::Tensor expected =
      ops::roi_align_backward(at::ones_like(output), rois, kScale, 3, 4, 2, 32, 12, 14, 2, true);
  EXPECT_TRUE(at::equal(grad_of_sum(output, x), expected));
}

TEST_F(AutogradTest, RoIPool) {
  const auto [output, argmax] = ops::roi_pool(x, rois, kScale, 3, 4);
  EXPECT_FALSE(argmax.requires_grad());
  const at::Tensor expected =
      ops::roi_pool_backward(at::ones_like(output), rois, argmax, kScale, 3, 4, 2, 32, 12, 14);
  EXPECT_TRUE(at::equal(grad_of_sum(output, x), expected));
}

TEST_F(AutogradTest, PSRoIPool) {
  const auto [output, mapping] = ops::ps_roi_pool(x, rois, kScale, 2, 4);
  EXPECT_FALSE(mapping.requires_grad());
  const at::Tensor expected =
      ops::ps_roi_pool_backward(at::ones_like(output), rois, mapping, kScale, 2, 4, 2, 32, 12, 14);
  EXPECT_TRUE(at::equal(grad_of_sum(output, x), expected));
}

TEST_F(AutogradTest, PSRoIAlign) {
  const auto [output, mapping] = ops::ps_roi_align(x, rois, kScale, 2, 4, 2);
  EXPECT_FALSE(mapping.requires_grad());
  const at::Tensor expected = ops::ps_roi_align_backward(at::ones_like(output), rois, mapping,
                                                         kScale, 2, 4, 2, 2, 32, 12, 14);
  EXPECT_TRUE(at::equal(grad_of_sum(output, x), expected));
}

TEST_F(AutogradTest, SppRoIPool) {
  const std::vector<int64_t> levels = {1, 2, 4};
  const auto [output, argmax] = ops::spp_roi_pool(x, rois, kScale, levels);
  EXPECT_FALSE(argmax.requires_grad());
  const at::Tensor expected = ops::spp_roi_pool_backward(at::ones_like(output), rois, argmax,
                                                         kScale, levels, 2, 32, 12, 14);
  EXPECT_TRUE(at::equal(grad_of_sum(output, x), expected));
}

}  // namespace
}  // namespace roiserve::test
