#pragma once
// A model's cumulative inference statistics, in the form of Triton's
// ModelStatistics: requests that succeeded and failed with their durations
// (receipt until the answer is built), their time queued, decoding and
// preprocessing (input), model stages (infer) and building the answer
// (output), and the batches run by size. Fed by the
// model's worker where batches run; read by the Open Inference Protocol's
// ModelStatistics (gRPC and REST).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "server/batch_scheduler.h"

namespace roiserve::server {

struct Duration {
  uint64_t count = 0;
  uint64_t ns = 0;
};

struct BatchSizeStatistics {
  uint64_t count = 0;
  uint64_t compute_ns = 0;  // the runner's time for batches of this size
};

struct ModelStatisticsSnapshot {
  uint64_t last_inference_ms = 0;  // since the epoch; 0: none yet
  uint64_t inference_count = 0;    // images inferred
  uint64_t execution_count = 0;    // batches run
  Duration success, fail, queue, compute_input, compute_infer, compute_output;
  std::map<uint64_t, BatchSizeStatistics> batches;  // by batch size
};

class ModelStatistics {
 public:
  // Runs `run` on the batch, recording every job's outcome as it is
  // answered and the batch's own time.
  void run_batch(JobBatch& batch, const std::function<void(JobBatch&)>& run);
  ModelStatisticsSnapshot snapshot() const;

  struct JobTimes {
    bool ok = false;
    uint64_t queue_ns = 0, input_ns = 0, infer_ns = 0;
  };

 private:
  // A job's outcome, before its answer is built; then the answer's time.
  void record(const JobTimes& times, uint64_t total_ns);
  void record_output(uint64_t output_ns);

  mutable std::mutex mutex_;
  ModelStatisticsSnapshot totals_;
};

}  // namespace roiserve::server
