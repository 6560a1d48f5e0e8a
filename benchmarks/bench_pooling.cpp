// Pooling ops on the FPN workload, for contiguous and channels-last features.
// Throughput is counted in RoIs: the bytes an op touches depend on how much its
// RoIs overlap, so a byte rate would not compare across ops.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "fpn_workload.h"
#include "ops/ops.h"

namespace roiserve::bench {
namespace {

using at::MemoryFormat;

// The layout conversion is done once here, outside the timed loop.
at::Tensor in_format(const at::Tensor& features, MemoryFormat format) {
  return features.contiguous(format);
}

void count_rois(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kNumRois);
}

void BM_RoIAlignForward(benchmark::State& state, MemoryFormat format) {
  const FpnWorkload& workload = fpn_workload();
  const at::Tensor features = in_format(workload.features, format);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ops::roi_align(features, workload.rois, kSpatialScale, kPooledSize,
                                            kPooledSize, kSamplingRatio, true));
  }
  count_rois(state);
}

void BM_RoIPoolForward(benchmark::State& state, MemoryFormat format) {
  const FpnWorkload& workload = fpn_workload();
  const at::Tensor features = in_format(workload.features, format);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ops::roi_pool(features, workload.rois, kSpatialScale, kPooledSize, kPooledSize));
  }
  count_rois(state);
}

void BM_PSRoIPoolForward(benchmark::State& state, MemoryFormat format) {
  const FpnWorkload& workload = fpn_workload();
  const at::Tensor features = in_format(workload.position_sensitive_features, format);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ops::ps_roi_pool(features, workload.rois, kSpatialScale, kPooledSize, kPooledSize));
  }
  count_rois(state);
}

void BM_PSRoIAlignForward(benchmark::State& state, MemoryFormat format) {
  const FpnWorkload& workload = fpn_workload();
  const at::Tensor features = in_format(workload.position_sensitive_features, format);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ops::ps_roi_align(features, workload.rois, kSpatialScale, kPooledSize,
                                               kPooledSize, kSamplingRatio));
  }
  count_rois(state);
}

void BM_SppRoIPoolForward(benchmark::State& state, MemoryFormat format) {
  const FpnWorkload& workload = fpn_workload();
  const at::Tensor features = in_format(workload.features, format);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ops::spp_roi_pool(features, workload.rois, kSpatialScale, {1, 2, 4}));
  }
  count_rois(state);
}

// Through autograd, as a training step runs it: forward, then backward of a
// fixed gradient into a freshly allocated input gradient.
void BM_RoIAlignForwardBackward(benchmark::State& state, MemoryFormat format) {
  const FpnWorkload& workload = fpn_workload();
  const at::Tensor features = in_format(workload.features, format).detach().requires_grad_();
  const at::Tensor grad_output =
      at::randn({kNumRois, kChannels, kPooledSize, kPooledSize}).contiguous(format);
  for (auto _ : state) {
    const at::Tensor output = ops::roi_align(features, workload.rois, kSpatialScale, kPooledSize,
                                             kPooledSize, kSamplingRatio, true);
    output.backward(grad_output);
    benchmark::DoNotOptimize(features.grad());
    features.mutable_grad().reset();
  }
  count_rois(state);
}

// Real time: the work runs on ATen's worker threads, whose CPU time the
// benchmark's main-thread clock would not see.
#define ROISERVE_POOLING_BENCHMARK(name)                             \
  BENCHMARK_CAPTURE(name, contiguous, MemoryFormat::Contiguous)      \
      ->Unit(benchmark::kMillisecond)                                \
      ->UseRealTime();                                               \
  BENCHMARK_CAPTURE(name, channels_last, MemoryFormat::ChannelsLast) \
      ->Unit(benchmark::kMillisecond)                                \
      ->UseRealTime()

ROISERVE_POOLING_BENCHMARK(BM_RoIAlignForward);
ROISERVE_POOLING_BENCHMARK(BM_RoIPoolForward);
ROISERVE_POOLING_BENCHMARK(BM_PSRoIPoolForward);
ROISERVE_POOLING_BENCHMARK(BM_PSRoIAlignForward);
ROISERVE_POOLING_BENCHMARK(BM_SppRoIPoolForward);
ROISERVE_POOLING_BENCHMARK(BM_RoIAlignForwardBackward);

}  // namespace
}  // namespace roiserve::bench
