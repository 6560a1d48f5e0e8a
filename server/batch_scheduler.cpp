#include "server/batch_scheduler.h"

#include <algorithm>

namespace roiserve::server {

grpc::Status InferenceJob::liveness(Clock::time_point now) const {
  // The deadline first: gRPC cancels a call whose deadline passes, and that
  // call is answered (and counted) as DEADLINE_EXCEEDED, not CANCELLED.
  if (deadline && now >= *deadline) {
    return {grpc::StatusCode::DEADLINE_EXCEEDED, "the deadline passed while the request waited"};
  }
  if (cancelled.load(std::memory_order_relaxed)) {
    return {grpc::StatusCode::CANCELLED, "the call was cancelled"};
  }
  return grpc::Status::OK;
}

JobOutcome InferenceJob::abandoned(Clock::time_point now, std::string skipped_stage) const {
  JobOutcome outcome;
  outcome.status = liveness(now);
  outcome.skipped_stage = std::move(skipped_stage);
  return outcome;
}

BatchScheduler::BatchScheduler(BatchingConfig config, SchedulerHooks hooks, int workers)
    : config_(config), hooks_(std::move(hooks)) {
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

BatchScheduler::~BatchScheduler() { stop(); }

grpc::Status BatchScheduler::submit(std::shared_ptr<InferenceJob> job) {
  JobBatch dead;
  grpc::Status status;
  size_t depth;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      return {grpc::StatusCode::UNAVAILABLE,
              "the model no longer serves (unloaded, reloaded or the server is stopping)"};
    }
    if (static_cast<int64_t>(queue_.size()) >= config_.max_queue_size) {
      // Make room from jobs nobody waits for any more before refusing.
      const Clock::time_point now = Clock::now();
      const auto live_end = std::stable_partition(
          queue_.begin(), queue_.end(), [now](const auto& queued) { return queued->liveness(now).ok(); });
      dead.assign(live_end, queue_.end());
      queue_.erase(live_end, queue_.end());
    }
    if (static_cast<int64_t>(queue_.size()) >= config_.max_queue_size) {
      status = {grpc::StatusCode::RESOURCE_EXHAUSTED,
                "the model's queue is full (" + std::to_string(config_.max_queue_size) +
                    " requests waiting); retry later"};
    } else {
      job->enqueued = Clock::now();
      queue_.push_back(std::move(job));
    }
    depth = queue_.size();
  }
  wake_.notify_one();
  drop_dead_jobs(dead);
  if (hooks_.on_queue_depth) hooks_.on_queue_depth(depth);
  return status;
}

size_t BatchScheduler::queue_depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void BatchScheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void BatchScheduler::drop_dead_jobs(JobBatch& dead) {
  const Clock::time_point now = Clock::now();
  for (auto& job : dead) job->on_done(job->abandoned(now, "decode"));
  dead.clear();
}

JobBatch BatchScheduler::take_batch(std::unique_lock<std::mutex>& lock, JobBatch& dead) {
  const auto max_batch = static_cast<size_t>(config_.max_batch_size);
  const auto delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(config_.max_queue_delay_ms));
  wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return {};
  const uint64_t key = queue_.front()->batch_key;
  auto batchable = [&] {
    size_t count = 0;
    for (const auto& job : queue_) count += job->batch_key == key;
    return count;
  };
  // Wait for the batch to fill, until the oldest job has waited `delay`.
  wake_.wait_until(lock, queue_.front()->enqueued + delay,
                   [&] { return stopping_ || batchable() >= max_batch; });
  JobBatch batch;
  const Clock::time_point now = Clock::now();
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < max_batch;) {
    if (!(*it)->liveness(now).ok()) {
      dead.push_back(std::move(*it));
    } else if ((*it)->batch_key == key) {
      batch.push_back(std::move(*it));
    } else {
      ++it;
      continue;
    }
    it = queue_.erase(it);
  }
  return batch;
}

void BatchScheduler::work() {
  if (hooks_.on_worker_start) hooks_.on_worker_start();
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    JobBatch dead;
    JobBatch batch = take_batch(lock, dead);
    const size_t depth = queue_.size();
    const bool done = batch.empty() && dead.empty() && stopping_ && queue_.empty();
    lock.unlock();
    // Another worker may start on the queue's rest meanwhile.
    wake_.notify_one();
    if (hooks_.on_queue_depth) hooks_.on_queue_depth(depth);
    drop_dead_jobs(dead);
    if (!batch.empty()) {
      if (hooks_.on_batch) hooks_.on_batch(batch.size());
      hooks_.run_batch(batch);
    }
    if (done) return;
    lock.lock();
  }
}

}  // namespace roiserve::server
