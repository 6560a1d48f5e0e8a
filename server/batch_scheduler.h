#pragma once
// Dynamic batching for one model, in the manner of Triton's dynamic batcher:
// admitted jobs wait in a bounded FIFO queue; a worker takes the oldest and
// up to max_batch_size - 1 more of the same batch key (image size), waiting
// at most max_queue_delay_ms after the oldest arrived for others to join,
// and hands the batch to the runner (backbone and RPN run once per batch). A full queue refuses new jobs at
// once. Jobs cancelled or past their deadline are answered and dropped
// before they run, and never count towards a batch.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/inference_job.h"
#include "server/server_config.h"

namespace roiserve::server {

using JobBatch = std::vector<std::shared_ptr<InferenceJob>>;

struct SchedulerHooks {
  // Runs on the worker thread; must answer every job of the batch.
  std::function<void(JobBatch&)> run_batch;
  // Called after every change of the queue's length (may be empty).
  std::function<void(size_t depth)> on_queue_depth;
  // Called once per batch before it runs, with the number of live jobs.
  std::function<void(size_t size)> on_batch;
  // Prepares each worker thread (e.g. its intra-op thread count).
  std::function<void()> on_worker_start;
};

class BatchScheduler {
 public:
  BatchScheduler(BatchingConfig config, SchedulerHooks hooks, int workers = 1);
  ~BatchScheduler();  // stop()
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Queues the job, or returns RESOURCE_EXHAUSTED (queue full) or
  // UNAVAILABLE (stopping) without calling on_done.
  grpc::Status submit(std::shared_ptr<InferenceJob> job);

  size_t queue_depth() const;
  const BatchingConfig& config() const { return config_; }

  // Refuses new jobs, runs those queued, and joins the workers.
  void stop();

 private:
  void work();
  // Takes the next batch under the lock; the dead jobs it skips go to `dead`.
  JobBatch take_batch(std::unique_lock<std::mutex>& lock, JobBatch& dead);
  void drop_dead_jobs(JobBatch& dead);

  const BatchingConfig config_;
  const SchedulerHooks hooks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<InferenceJob>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace roiserve::server
