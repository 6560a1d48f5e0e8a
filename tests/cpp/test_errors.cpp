// Bad arguments raise the c10::Error subclass that Python maps to the matching
// built-in exception, with a message naming the op and the argument: plain
// c10::Error (RuntimeError) where torchvision also rejects the input, as its
// own checks do; c10::IndexError / c10::ValueError where torchvision trusts it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <limits>
#include <typeinfo>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

using ::testing::HasSubstr;

// The message of a c10::Error that is none of its subclasses, each of which
// Python maps to an exception other than RuntimeError.
template <typename Call>
std::string runtime_error_message(const Call& call) {
  try {
    call();
  } catch (const c10::Error& e) {
    EXPECT_TRUE(typeid(e) == typeid(c10::Error))
        << typeid(e).name() << ": " << e.what_without_backtrace();
    return e.what_without_backtrace();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

class PoolingOpErrorTest : public ::testing::TestWithParam<PoolingOp> {
 protected:
  const at::Tensor input = random_features({2, 16, 8, 8}, 1);
  const at::Tensor rois = random_rois(4, 2, 32, 32, 2);
};

TEST_P(PoolingOpErrorTest, BatchIndexOutsideTheBatchIsAnIndexError) {
  const PoolingOp& op = GetParam();
  for (const float index : {2.0f, -1.0f, 0.5f}) {
    SCOPED_TRACE(index);
    at::Tensor bad = rois.clone();
    bad[3][0] = index;
    const std::string message = error_message<c10::IndexError>([&] { op.forward(input, bad); });
    EXPECT_THAT(message, HasSubstr(op.op));
    EXPECT_THAT(message, HasSubstr("rois[3, 0]"));
  }
}

TEST_P(PoolingOpErrorTest, NonFiniteCoordinateIsAValueError) {
  const PoolingOp& op = GetParam();
  at::Tensor bad = rois.clone();
  bad[1][2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(error_message<c10::ValueError>([&] { op.forward(input, bad); }),
              HasSubstr("rois[1, 2]"));
}

TEST_P(PoolingOpErrorTest, RoisNotShapedKBy5IsARuntimeError) {
  const PoolingOp& op = GetParam();
  EXPECT_THAT(runtime_error_message([&] { op.forward(input, rois.slice(1, 1)); }),
              HasSubstr("rois must have shape [K, 5]"));
}

TEST_P(PoolingOpErrorTest, RoisOfAnotherDtypeIsARuntimeError) {
  const PoolingOp& op = GetParam();
  EXPECT_THAT(runtime_error_message([&] { op.forward(input, rois.to(at::kDouble)); }),
              HasSubstr("rois must have the dtype of the features"));
}

TEST_P(PoolingOpErrorTest, InputNotFourDimensionalIsARuntimeError) {
  const PoolingOp& op = GetParam();
  EXPECT_THAT(runtime_error_message([&] { op.forward(input[0], rois); }),
              HasSubstr("input must be a 4-D tensor"));
}

INSTANTIATE_TEST_SUITE_P(AllPoolingOps, PoolingOpErrorTest, ::testing::ValuesIn(pooling_ops()),
                         pooling_op_label);

class ArgumentErrorTest : public ::testing::Test {
 protected:
  const at::Tensor input = random_features({2, 16, 8, 8}, 1);
  const at::Tensor rois = random_rois(4, 2, 32, 32, 2);
};

TEST_F(ArgumentErrorTest, NonPositiveOutputSizeIsARuntimeError) {
  const std::string expected = "output size must be positive";
  EXPECT_THAT(runtime_error_message([&] { ops::roi_align(input, rois, 0.25, 0, 7, 2, true); }),
              HasSubstr(expected));
  EXPECT_THAT(runtime_error_message([&] { ops::roi_pool(input, rois, 0.25, 7, -1); }),
              HasSubstr(expected));
  EXPECT_THAT(runtime_error_message([&] { ops::ps_roi_pool(input, rois, 0.25, 0, 0); }),
              HasSubstr(expected));
  EXPECT_THAT(runtime_error_message([&] { ops::ps_roi_align(input, rois, 0.25, 4, 0, 2); }),
              HasSubstr(expected));
}

// Pyramid levels are ours (torchvision has no SPP): ValueError.
TEST_F(ArgumentErrorTest, NonPositivePyramidLevelIsAValueError) {
  EXPECT_THROW(ops::spp_roi_pool(input, rois, 0.25, {1, 0, 4}), c10::ValueError);
  EXPECT_THROW(ops::spp_roi_pool(input, rois, 0.25, {}), c10::ValueError);
}

TEST_F(ArgumentErrorTest, NonPositiveSpatialScaleIsAValueError) {
  EXPECT_THROW(ops::roi_align(input, rois, 0.0, 7, 7, 2, true), c10::ValueError);
  EXPECT_THROW(ops::roi_pool(input, rois, -0.25, 7, 7), c10::ValueError);
}

TEST_F(ArgumentErrorTest, PositionSensitiveChannelsMustSplitIntoTheBins) {
  EXPECT_THAT(runtime_error_message([&] { ops::ps_roi_pool(input, rois, 0.25, 3, 3); }),
              HasSubstr("divisible"));
  EXPECT_THAT(runtime_error_message([&] { ops::ps_roi_align(input, rois, 0.25, 3, 3, 2); }),
              HasSubstr("divisible"));
}

TEST_F(ArgumentErrorTest, BackwardChecksTheGradientShape) {
  const at::Tensor grad = at::ones({4, 16, 7, 6});
  EXPECT_THAT(error_message<c10::ValueError>(
                  [&] { ops::roi_align_backward(grad, rois, 0.25, 7, 7, 2, 16, 8, 8, 2, true); }),
              HasSubstr("grad must have shape"));
}

TEST_F(ArgumentErrorTest, BackwardChecksTheArgmaxRange) {
  const auto [output, argmax] = ops::roi_pool(input, rois, 0.25, 7, 7);
  const at::Tensor outside = argmax.clone().fill_(8 * 8);
  // Not `output` in the lambda: C++17 lambdas cannot capture structured bindings.
  const at::Tensor grad = at::ones_like(output);
  EXPECT_THAT(error_message<c10::ValueError>([&] {
                ops::roi_pool_backward(grad, rois, outside, 0.25, 7, 7, 2, 16, 8, 8);
              }),
              HasSubstr("argmax"));
}

TEST_F(ArgumentErrorTest, BackwardChecksBatchIndicesAgainstBatchSize) {
  const at::Tensor grad = at::ones({4, 16, 7, 7});
  at::Tensor bad = rois.clone();
  bad[0][0] = 2;
  EXPECT_THROW(ops::roi_align_backward(grad, bad, 0.25, 7, 7, 2, 16, 8, 8, 2, true),
               c10::IndexError);
}

TEST(NmsErrorTest, MismatchedScoresAreARuntimeError) {
  EXPECT_THAT(runtime_error_message([] {
                ops::nms(at::zeros({5, 4}), at::zeros({4}), 0.5);
              }),
              HasSubstr("scores must have shape [5]"));
}

TEST(NmsErrorTest, MixedDtypesAreARuntimeError) {
  EXPECT_THAT(runtime_error_message([] {
                ops::nms(at::zeros({5, 4}), at::zeros({5}, at::kDouble), 0.5);
              }),
              HasSubstr("share one floating point dtype"));
}

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
// torch 2.x's float8 types are floating point to at::isFloatingType, but no
// kernel computes in them: a RuntimeError, not AT_DISPATCH's NotImplementedError.
TEST(DtypeErrorTest, Float8IsARuntimeError) {
  const at::Tensor input = random_features({2, 16, 8, 8}, 1).to(at::kFloat8_e4m3fn);
  const at::Tensor rois = random_rois(4, 2, 32, 32, 2).to(at::kFloat8_e4m3fn);
  EXPECT_THAT(runtime_error_message([&] { ops::roi_align(input, rois, 0.25, 2, 2, 2, true); }),
              HasSubstr("input must be a floating point tensor"));
  const at::Tensor boxes = at::rand({5, 4}).to(at::kFloat8_e4m3fn);
  EXPECT_THAT(runtime_error_message([&] { ops::nms(boxes, boxes.select(1, 0), 0.5); }),
              HasSubstr("share one floating point dtype"));
}
#endif

TEST(NmsErrorTest, FloatingCategoriesAreATypeError) {
  EXPECT_THROW(ops::batched_nms(at::zeros({5, 4}), at::zeros({5}), at::zeros({5}), 0.5),
               c10::TypeError);
}

}  // namespace
}  // namespace roiserve::test
