#pragma once
// Shared by the test files: seeded inputs, the table of pooling ops that the
// layout, thread, empty-RoI and error tests run over, and small helpers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace roiserve::test {

// Feature maps of the generic tests are 1/kSpatialScale times smaller than the
// images their RoIs are drawn in.
constexpr double kSpatialScale = 0.25;

// Standard normal features of the given sizes, reproducible from seed.
at::Tensor random_features(at::IntArrayRef sizes, uint64_t seed);

// count RoIs (batch index, x1, y1, x2, y2) over `batch` images of
// image_height × image_width, reproducible from seed; some reach past the border.
at::Tensor random_rois(int64_t count, int64_t batch, double image_height, double image_width,
                       uint64_t seed);

// count boxes (x1, y1, x2, y2) drawn as random_rois draws its corners.
at::Tensor random_boxes(int64_t count, double image_height, double image_width, uint64_t seed);

// A pooling op with fixed parameters, called through the C++ API. forward
// returns every output of the op, the differentiable one first.
struct PoolingOp {
  std::string label;  // test-name suffix
  std::string op;     // the name the op's error messages start with
  std::function<std::vector<at::Tensor>(const at::Tensor& input, const at::Tensor& rois)> forward;
};

// Every pooling op, plus the other sampling modes of the RoIAlign ops, at
// spatial scale kSpatialScale. Position-sensitive ops pool 4×4 bins, so the
// input channels must be a multiple of 16.
std::vector<PoolingOp> pooling_ops();

// Lets gtest name and print the parameter of an op-parameterized test.
std::string pooling_op_label(const ::testing::TestParamInfo<PoolingOp>& info);
void PrintTo(const PoolingOp& op, std::ostream* os);

// d/d(input) of sum(weights * op(input)[0]) through autograd, with standard
// normal weights reproducible from seed.
at::Tensor input_gradient(const PoolingOp& op, const at::Tensor& input, const at::Tensor& rois,
                          uint64_t seed);

// Sets the ATen thread count for its lifetime, then restores the previous one.
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int threads);
  ~ScopedNumThreads();
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int previous_;
};

// The message of a c10::Error without its backtrace: the backtrace names the
// kernels' functions, which would satisfy any check for an op's name.
template <typename Error, typename Call>
std::string error_message(const Call& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what_without_backtrace();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

}  // namespace roiserve::test
