// The prepared serving layers (PreparedConv, PreparedLinear) against the
// plain torch modules they are prepared from: every kernel shape the detector
// uses (1 x 1, 3 x 3 at stride 1 and 2, 7 x 7 at stride 2, dilated), large
// 3 x 3 maps (where oneDNN builds run Winograd, between reorders to and from
// its blocked layouts), the fused ReLU and residual add, bfloat16, the
// transposed convolution as a 1 x 1 one and a pixel shuffle, empty batches,
// plans for several shapes in turn, and several threads at once. Whichever
// backend the build has (oneDNN or ATen) must answer the same.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <thread>
#include <vector>

#include "detector/model/prepared_conv.h"
#include "detector/model/prepared_linear.h"

namespace roiserve::detector {
namespace {

// Largest absolute difference, relative to the reference's largest magnitude.
double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor difference = (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max();
  return difference.item<double>() / std::max(expected.abs().max().item<double>(), 1e-12);
}

// Winograd F(4x4, 3x3) rounds differently from a direct convolution; these
// tolerances are float32's and bfloat16's for that, with room.
constexpr double kFloatTolerance = 1e-4;
constexpr double kBFloat16Tolerance = 2e-2;

struct ConvCase {
  int64_t in, out, kernel, stride, padding, dilation;
};

torch::nn::Conv2d make_conv(const ConvCase& c) {
  torch::manual_seed(c.in * 131 + c.out * 7 + c.kernel);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(c.in, c.out, c.kernel)
                             .stride(c.stride)
                             .padding(c.padding)
                             .dilation(c.dilation));
  return conv;
}

at::Tensor input_for(int64_t batch, int64_t channels, int64_t height, int64_t width) {
  return at::randn({batch, channels, height, width}).contiguous(at::MemoryFormat::ChannelsLast);
}

class PreparedConvShapes : public ::testing::TestWithParam<ConvCase> {};

TEST_P(PreparedConvShapes, MatchesThePlainConvolutionForSeveralInputShapesInTurn) {
  c10::InferenceMode inference;
  const ConvCase c = GetParam();
  torch::nn::Conv2d conv = make_conv(c);
  const PreparedConv prepared(*conv, at::kFloat);
  for (const auto& [batch, height, width] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 13, 17}, {3, 8, 8}, {1, 13, 17}}) {
    const at::Tensor input = input_for(batch, c.in, height, width);
    const at::Tensor expected = conv->forward(input.contiguous());
    const at::Tensor actual = prepared(input);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_TRUE(actual.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_LE(relative_error(actual, expected), kFloatTolerance)
        << "batch " << batch << ", " << height << " x " << width;
  }
}

INSTANTIATE_TEST_SUITE_P(DetectorKernels, PreparedConvShapes,
                         ::testing::Values(ConvCase{32, 48, 1, 1, 0, 1},   // bottleneck 1 x 1
                                           ConvCase{32, 32, 3, 1, 1, 1},   // FPN, RPN, mask head
                                           ConvCase{16, 32, 3, 2, 1, 1},   // strided 3 x 3
                                           ConvCase{3, 16, 7, 2, 3, 1},    // the stem
                                           ConvCase{16, 16, 3, 1, 2, 2},   // dilated
                                           ConvCase{32, 64, 1, 2, 0, 1})); // downsampling 1 x 1

TEST(PreparedConv, FusesTheResidualAddAndTheReluInThatOrder) {
  c10::InferenceMode inference;
  for (int64_t kernel : {1, 3}) {
    torch::nn::Conv2d conv = make_conv({24, 32, kernel, 1, kernel / 2, 1});
    const PreparedConv prepared(*conv, at::kFloat);
    const at::Tensor input = input_for(2, 24, 9, 11);
    const at::Tensor expected_sum = conv->forward(input.contiguous());
    const at::Tensor addend = at::randn_like(expected_sum);
    const at::Tensor expected = (expected_sum + addend).relu();

    // The caller keeps its addend: it must come back unchanged.
    const at::Tensor kept = addend.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor kept_before = kept.clone();
    EXPECT_LE(relative_error(prepared(input, {kept, true}), expected), kFloatTolerance);
    EXPECT_TRUE(at::equal(kept, kept_before)) << "a shared addend was written";

    // A handed-over addend may become the output.
    at::Tensor handed = addend.clone(at::MemoryFormat::ChannelsLast);
    EXPECT_LE(relative_error(prepared(input, {std::move(handed), true}), expected), kFloatTolerance);
    // Add alone, and an NCHW addend.
    EXPECT_LE(relative_error(prepared(input, {addend.contiguous(), false}), expected_sum + addend),
              kFloatTolerance);
    EXPECT_LE(relative_error(prepared(input, {{}, true}), expected_sum.relu()), kFloatTolerance);
  }
}

TEST(PreparedConv, LargeThreeByThreeMapsWithAndWithoutTheFusedAdd) {
  c10::InferenceMode inference;
  torch::nn::Conv2d conv = make_conv({64, 64, 3, 1, 1, 1});
  const PreparedConv prepared(*conv, at::kFloat);
  // 0.34 and 0.60 G multiply-adds: above the Winograd threshold.
  for (const auto& [batch, height, width] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 96, 96}, {2, 80, 72}, {1, 96, 96}}) {
    const at::Tensor input = input_for(batch, 64, height, width);
    const at::Tensor expected = conv->forward(input.contiguous());
    EXPECT_LE(relative_error(prepared(input), expected), kFloatTolerance) << batch;
    const at::Tensor addend = at::randn_like(expected);
    EXPECT_LE(relative_error(prepared(input, {addend.clone(at::MemoryFormat::ChannelsLast), true}),
                             (expected + addend).relu()),
              kFloatTolerance)
        << batch;
  }
}

TEST(PreparedConv, RunsInBFloat16WithinItsRounding) {
  c10::InferenceMode inference;
  for (int64_t kernel : {1, 3}) {
    torch::nn::Conv2d conv = make_conv({32, 32, kernel, 1, kernel / 2, 1});
    const PreparedConv prepared(*conv, at::kBFloat16);
    const at::Tensor input = input_for(2, 32, 10, 10);
    const at::Tensor expected = conv->forward(input.contiguous()).relu();
    const at::Tensor actual = prepared(input.to(at::kBFloat16), {{}, true});
    EXPECT_EQ(actual.scalar_type(), at::kBFloat16);
    EXPECT_LE(relative_error(actual.to(at::kFloat), expected), kBFloat16Tolerance);
  }
}

TEST(PreparedConv, TransposedConvolutionAsOneByOneAndPixelShuffle) {
  c10::InferenceMode inference;
  torch::manual_seed(3);
  torch::nn::ConvTranspose2d upsample(torch::nn::ConvTranspose2dOptions(32, 16, 2).stride(2));
  const PreparedConv prepared(*upsample, at::kFloat);
  const at::Tensor input = input_for(5, 32, 14, 14);
  const at::Tensor expected = upsample->forward(input.contiguous()).relu();
  const at::Tensor actual = prepared(input, {{}, true});
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_LE(relative_error(actual, expected), kFloatTolerance);
  EXPECT_THROW(prepared(input, {at::zeros_like(expected), false}), std::invalid_argument);
}

TEST(PreparedConv, AnEmptyBatchGivesAnEmptyOutputOfTheRightShape) {
  c10::InferenceMode inference;
  torch::nn::Conv2d conv = make_conv({16, 32, 3, 2, 1, 1});
  const PreparedConv prepared(*conv, at::kFloat);
  const at::Tensor output = prepared(input_for(0, 16, 14, 15), {{}, true});
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{0, 32, 7, 8}));
}

TEST(PreparedConv, ServesSeveralThreadsAtOnce) {
  c10::InferenceMode outer;
  torch::nn::Conv2d conv = make_conv({32, 32, 3, 1, 1, 1});
  const PreparedConv prepared(*conv, at::kFloat);
  std::vector<at::Tensor> inputs, expected;
  for (int64_t i = 0; i < 6; ++i) {
    inputs.push_back(input_for(1 + i % 3, 32, 8 + i, 9));
    expected.push_back(conv->forward(inputs.back().contiguous()).relu());
  }
  std::vector<double> errors(inputs.size(), 1.0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < inputs.size(); ++i) {
    threads.emplace_back([&, i] {
      c10::InferenceMode inference;
      for (int repeat = 0; repeat < 3; ++repeat) {
        errors[i] = relative_error(prepared(inputs[i], {{}, true}), expected[i]);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (size_t i = 0; i < errors.size(); ++i) EXPECT_LE(errors[i], kFloatTolerance) << "input " << i;
}

TEST(PreparedLinear, MatchesThePlainLayerWithAndWithoutRelu) {
  c10::InferenceMode inference;
  torch::manual_seed(5);
  torch::nn::Linear layer(96, 40);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const PreparedLinear prepared(*layer, dtype);
    EXPECT_EQ(prepared.dtype(), dtype);
    const double tolerance = dtype == at::kFloat ? kFloatTolerance : kBFloat16Tolerance;
    for (int64_t rows : {1, 7, 300}) {
      const at::Tensor input = at::randn({rows, 96});
      const at::Tensor expected = layer->forward(input);
      const at::Tensor typed = input.to(dtype);
      const at::Tensor same_dtype = prepared(typed, /*relu=*/true, dtype);
      EXPECT_EQ(same_dtype.scalar_type(), dtype);
      EXPECT_LE(relative_error(same_dtype.to(at::kFloat), expected.relu()), tolerance) << rows;
      const at::Tensor as_float = prepared(typed, /*relu=*/false, at::kFloat);
      EXPECT_EQ(as_float.scalar_type(), at::kFloat);
      EXPECT_LE(relative_error(as_float, expected), tolerance) << rows;
    }
    EXPECT_EQ(prepared(at::empty({0, 96}, dtype), true, at::kFloat).sizes(),
              (std::vector<int64_t>{0, 40}));
  }
}

}  // namespace
}  // namespace roiserve::detector
