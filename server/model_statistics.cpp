#include "server/model_statistics.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace roiserve::server {
namespace {

uint64_t nanoseconds(Clock::duration duration) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count());
}

uint64_t stage_nanoseconds(const detector::StageTimings& timings,
                           std::initializer_list<const char*> stages) {
  double milliseconds = 0;
  for (const char* stage : stages) {
    if (const double* value = timings.find(stage)) milliseconds += *value;
  }
  return static_cast<uint64_t>(milliseconds * 1e6);
}

void add(Duration& duration, uint64_t ns) {
  ++duration.count;
  duration.ns += ns;
}

// Queue, input and model times of an answered job, before its answer is built.
ModelStatistics::JobTimes job_times(const JobOutcome& outcome) {
  ModelStatistics::JobTimes times;
  times.ok = outcome.status.ok();
  const detector::StageTimings& shared = outcome.shared_timings;
  times.queue_ns = stage_nanoseconds(shared, {"queue_wait"});
  times.input_ns = stage_nanoseconds(shared, {"decode", "preprocess"});
  times.infer_ns = stage_nanoseconds(shared, {"backbone", "rpn"});
  for (const VariantOutcome& variant : outcome.variants) {
    times.infer_ns += stage_nanoseconds(variant.timings, {"box_pool", "box_head", "postprocess",
                                                          "mask_pool", "mask_head", "paste"});
  }
  return times;
}

}  // namespace

void ModelStatistics::run_batch(JobBatch& batch, const std::function<void(JobBatch&)>& run) {
  // Shared: a job answered after run() returned would still find it.
  auto answering = std::make_shared<std::atomic<int64_t>>(0);
  for (const auto& job : batch) {
    job->on_done = [this, job = job.get(), answering,
                    answer = std::move(job->on_done)](JobOutcome&& outcome) {
      // Counted before the answer leaves: whoever has it finds it counted.
      const Clock::time_point start = Clock::now();
      record(job_times(outcome), nanoseconds(start - job->received));
      answer(std::move(outcome));
      const uint64_t spent = nanoseconds(Clock::now() - start);
      *answering += static_cast<int64_t>(spent);
      record_output(spent);
    };
  }
  const size_t size = batch.size();
  {
    // Counted before its answers leave, as the jobs are.
    std::lock_guard<std::mutex> lock(mutex_);
    ++totals_.execution_count;
    ++totals_.batches[size].count;
  }
  const Clock::time_point start = Clock::now();
  run(batch);
  const int64_t compute = static_cast<int64_t>(nanoseconds(Clock::now() - start)) - *answering;
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.batches[size].compute_ns += static_cast<uint64_t>(std::max<int64_t>(compute, 0));
}

void ModelStatistics::record(const JobTimes& times, uint64_t total_ns) {
  const auto epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.last_inference_ms = static_cast<uint64_t>(epoch_ms);
  if (!times.ok) {
    add(totals_.fail, total_ns);
    return;
  }
  ++totals_.inference_count;
  add(totals_.success, total_ns);
  add(totals_.queue, times.queue_ns);
  add(totals_.compute_input, times.input_ns);
  add(totals_.compute_infer, times.infer_ns);
}

void ModelStatistics::record_output(uint64_t output_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  add(totals_.compute_output, output_ns);
}

ModelStatisticsSnapshot ModelStatistics::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return totals_;
}

}  // namespace roiserve::server
