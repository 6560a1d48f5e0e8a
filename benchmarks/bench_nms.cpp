// NMS of the FPN workload's 4000 proposals, at the RPN's IoU threshold.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "fpn_workload.h"
#include "ops/ops.h"

namespace roiserve::bench {
namespace {

void BM_Nms(benchmark::State& state) {
  const FpnWorkload& workload = fpn_workload();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ops::nms(workload.nms_boxes, workload.nms_scores, kNmsThreshold));
  }
  state.SetItemsProcessed(state.iterations() * kNumNmsBoxes);
}

BENCHMARK(BM_Nms)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace roiserve::bench
