// Every op called through its C++ API function and through a typed dispatcher
// call of its registered schema gives identical results: the schemas, the
// signatures the tests spell out and the API functions agree.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>

#include <tuple>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

using Tensor = at::Tensor;
using TensorPair = std::tuple<Tensor, Tensor>;

template <typename Signature>
c10::TypedOperatorHandle<Signature> typed_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

void expect_identical(const Tensor& api, const Tensor& dispatched) {
  EXPECT_TRUE(at::equal(api, dispatched));
}

void expect_identical(const TensorPair& api, const TensorPair& dispatched) {
  EXPECT_TRUE(at::equal(std::get<0>(api), std::get<0>(dispatched)));
  EXPECT_TRUE(at::equal(std::get<1>(api), std::get<1>(dispatched)));
}

class DispatchTest : public ::testing::Test {
 protected:
  const Tensor input = random_features({2, 32, 12, 14}, 1);
  const Tensor rois = random_rois(9, 2, 48, 56, 2);
  static constexpr double kScale = kSpatialScale;
};

TEST_F(DispatchTest, RoIAlign) {
  const auto forward =
      typed_op<Tensor(const Tensor&, const Tensor&, double, int64_t, int64_t, int64_t, bool)>(
          "roiserve::roi_align");
  const Tensor output = ops::roi_align(input, rois, kScale, 3, 4, 2, true);
  expect_identical(output, forward.call(input, rois, kScale, 3, 4, 2, true));

  const auto backward =
      typed_op<Tensor(const Tensor&, const Tensor&, double, int64_t, int64_t, int64_t, int64_t,
                      int64_t, int64_t, int64_t, bool)>("roiserve::_roi_align_backward");
  const Tensor grad = random_features(output.sizes(), 3);
  expect_identical(ops::roi_align_backward(grad, rois, kScale, 3, 4, 2, 32, 12, 14, 2, true),
                   backward.call(grad, rois, kScale, 3, 4, 2, 32, 12, 14, 2, true));
}

TEST_F(DispatchTest, RoIPool) {
  const auto forward = typed_op<TensorPair(const Tensor&, const Tensor&, double, int64_t, int64_t)>(
      "roiserve::roi_pool");
  const auto [output, argmax] = ops::roi_pool(input, rois, kScale, 3, 4);
  expect_identical({output, argmax}, forward.call(input, rois, kScale, 3, 4));

  const auto backward =
      typed_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double, int64_t, int64_t,
                      int64_t, int64_t, int64_t, int64_t)>("roiserve::_roi_pool_backward");
  const Tensor grad = random_features(output.sizes(), 3);
  expect_identical(ops::roi_pool_backward(grad, rois, argmax, kScale, 3, 4, 2, 32, 12, 14),
                   backward.call(grad, rois, argmax, kScale, 3, 4, 2, 32, 12, 14));
}

TEST_F(DispatchTest, PSRoIPool) {
  const auto forward = typed_op<TensorPair(const Tensor&, const Tensor&, double, int64_t, int64_t)>(
      "roiserve::ps_roi_pool");
  const auto [output, mapping] = ops::ps_roi_pool(input, rois, kScale, 2, 4);
  expect_identical({output, mapping}, forward.call(input, rois, kScale, 2, 4));

  const auto backward =
      typed_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double, int64_t, int64_t,
                      int64_t, int64_t, int64_t, int64_t)>("roiserve::_ps_roi_pool_backward");
  const Tensor grad = random_features(output.sizes(), 3);
  expect_identical(ops::ps_roi_pool_backward(grad, rois, mapping, kScale, 2, 4, 2, 32, 12, 14),
                   backward.call(grad, rois, mapping, kScale, 2, 4, 2, 32, 12, 14));
}

TEST_F(DispatchTest, PSRoIAlign) {
  const auto forward =
      typed_op<TensorPair(const Tensor&, const Tensor&, double, int64_t, int64_t, int64_t)>(
          "roiserve::ps_roi_align");
  const auto [output, mapping] = ops::ps_roi_align(input, rois, kScale, 2, 4, 2);
  expect_identical({output, mapping}, forward.call(input, rois, kScale, 2, 4, 2));

  const auto backward =
      typed_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double, int64_t, int64_t,
                      int64_t, int64_t, int64_t, int64_t, int64_t)>(
          "roiserve::_ps_roi_align_backward");
  const Tensor grad = random_features(output.sizes(), 3);
  expect_identical(ops::ps_roi_align_backward(grad, rois, mapping, kScale, 2, 4, 2, 2, 32, 12, 14),
                   backward.call(grad, rois, mapping, kScale, 2, 4, 2, 2, 32, 12, 14));
}

TEST_F(DispatchTest, SppRoIPool) {
  const std::vector<int64_t> levels = {1, 2, 4};
  const auto forward = typed_op<TensorPair(const Tensor&, const Tensor&, double, c10::IntArrayRef)>(
      "roiserve::spp_roi_pool");
  const auto [output, argmax] = ops::spp_roi_pool(input, rois, kScale, levels);
  expect_identical({output, argmax}, forward.call(input, rois, kScale, levels));

  const auto backward =
      typed_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double, c10::IntArrayRef,
                      int64_t, int64_t, int64_t, int64_t)>("roiserve::_spp_roi_pool_backward");
  const Tensor grad = random_features(output.sizes(), 3);
  expect_identical(ops::spp_roi_pool_backward(grad, rois, argmax, kScale, levels, 2, 32, 12, 14),
                   backward.call(grad, rois, argmax, kScale, levels, 2, 32, 12, 14));
}

TEST(DispatchBoxesTest, NmsAndBatchedNms) {
  const Tensor boxes = random_boxes(200, 100, 100, 4);
  const Tensor scores = at::rand({200}, at::detail::createCPUGenerator(5));
  const Tensor categories = at::randint(3, {200}, at::detail::createCPUGenerator(6), at::kLong);

  const auto nms = typed_op<Tensor(const Tensor&, const Tensor&, double)>("roiserve::nms");
  expect_identical(ops::nms(boxes, scores, 0.5), nms.call(boxes, scores, 0.5));

  const auto batched_nms = typed_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double)>(
      "roiserve::batched_nms");
  expect_identical(ops::batched_nms(boxes, scores, categories, 0.5),
                   batched_nms.call(boxes, scores, categories, 0.5));
}

TEST(DispatchBoxesTest, BoxUtilities) {
  const Tensor boxes = random_boxes(20, 100, 100, 7);
  const Tensor others = random_boxes(30, 100, 100, 8);
  const Tensor codes = random_features({20, 8}, 9);
  const std::vector<double> weights = {10, 10, 5, 5};

  expect_identical(ops::box_area(boxes),
                   typed_op<Tensor(const Tensor&)>("roiserve::box_area").call(boxes));
  expect_identical(
      ops::box_iou(boxes, others),
      typed_op<Tensor(const Tensor&, const Tensor&)>("roiserve::box_iou").call(boxes, others));
  expect_identical(
      ops::clip_boxes_to_image(boxes, 60, 80),
      typed_op<Tensor(const Tensor&, int64_t, int64_t)>("roiserve::clip_boxes_to_image")
          .call(boxes, 60, 80));
  expect_identical(
      ops::remove_small_boxes(boxes, 20),
      typed_op<Tensor(const Tensor&, double)>("roiserve::remove_small_boxes").call(boxes, 20));
  expect_identical(ops::encode_boxes(boxes, others.slice(0, 0, 20), weights),
                   typed_op<Tensor(const Tensor&, const Tensor&, c10::ArrayRef<double>)>(
                       "roiserve::encode_boxes")
                       .call(boxes, others.slice(0, 0, 20), weights));
  expect_identical(ops::decode_boxes(codes, boxes, weights, 4.0),
                   typed_op<Tensor(const Tensor&, const Tensor&, c10::ArrayRef<double>, double)>(
                       "roiserve::decode_boxes")
                       .call(codes, boxes, weights, 4.0));
}

#ifdef ROISERVE_CUDA
// The CUDA build (-DROISERVE_CUDA=ON) registers a CUDA kernel beside every CPU
// kernel: a .cu file left out of the build or a registration left out of a
// .cu file fails here, on a machine without a GPU.
TEST(DispatchCudaTest, EveryOpWithACpuKernelHasACudaKernel) {
  auto& dispatcher = c10::Dispatcher::singleton();
  int ops_with_cpu_kernels = 0;
  for (const c10::OperatorName& name : dispatcher.getAllOpNames()) {
    if (name.name.rfind("roiserve::", 0) != 0) {
      continue;
    }
    const c10::OperatorHandle op = *dispatcher.findOp(name);
    if (op.hasKernelForDispatchKey(c10::DispatchKey::CPU)) {
      ++ops_with_cpu_kernels;
      EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::CUDA)) << c10::toString(name);
    }
  }
  EXPECT_GT(ops_with_cpu_kernels, 0);
}
#endif

}  // namespace
}  // namespace roiserve::test
