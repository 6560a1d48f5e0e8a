// Results do not depend on the number of threads: forward and backward are
// bit-identical at 1 thread and at several, for contiguous and channels-last
// features. The backward passes split work so that every gradient element is
// summed by one thread in a fixed order; this checks that they do.
#include <gtest/gtest.h>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

struct Results {
  std::vector<at::Tensor> outputs;
  at::Tensor input_grad;
};

Results run_with_threads(int threads, const PoolingOp& op, const at::Tensor& input,
                         const at::Tensor& rois) {
  const ScopedNumThreads scoped(threads);
  return {op.forward(input, rois), input_gradient(op, input, rois, 3)};
}

class ThreadCountTest : public ::testing::TestWithParam<PoolingOp> {
 protected:
  // Mid-size: enough RoIs and channel blocks for every thread to get work.
  const at::Tensor input = random_features({2, 64, 40, 50}, 1);
  const at::Tensor rois = random_rois(200, 2, 160, 200, 2);
};

TEST_P(ThreadCountTest, ResultsAreBitIdenticalAcrossThreadCounts) {
  const PoolingOp& op = GetParam();
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    SCOPED_TRACE(format);
    const at::Tensor features = input.contiguous(format);
    const Results serial = run_with_threads(1, op, features, rois);
    // 3 threads split the work unevenly.
    for (const int threads : {2, 3}) {
      SCOPED_TRACE(threads);
      const Results parallel = run_with_threads(threads, op, features, rois);
      for (size_t i = 0; i < serial.outputs.size(); ++i) {
        EXPECT_TRUE(at::equal(parallel.outputs[i], serial.outputs[i])) << "output " << i;
      }
      EXPECT_TRUE(at::equal(parallel.input_grad, serial.input_grad));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPoolingOps, ThreadCountTest, ::testing::ValuesIn(pooling_ops()),
                         pooling_op_label);

}  // namespace
}  // namespace roiserve::test
