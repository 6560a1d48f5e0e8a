// The dynamic batcher alone, with a runner that records what it is given:
// batching, the bounded queue, deadlines, cancellation and draining.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "server/batch_scheduler.h"

namespace roiserve::server {
namespace {

// Runs batches on the scheduler's worker, records them, and can hold the
// worker inside a batch until released (so that the queue fills meanwhile).
class RecordingRunner {
 public:
  SchedulerHooks hooks() {
    SchedulerHooks hooks;
    hooks.run_batch = [this](JobBatch& batch) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        batch_sizes_.push_back(batch.size());
      }
      if (hold_next_) {
        hold_next_ = false;
        entered_.set_value();
        release_.get_future().wait();
      }
      for (auto& job : batch) {
        JobOutcome outcome;
        outcome.batch_size = static_cast<int64_t>(batch.size());
        job->on_done(std::move(outcome));
      }
    };
    return hooks;
  }
  // The next batch blocks until release(); returns when it has started.
  std::future<void> hold_next_batch() {
    hold_next_ = true;
    return entered_.get_future();
  }
  void release() { release_.set_value(); }
  std::vector<size_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batch_sizes_;
  }

 private:
  std::mutex mutex_;
  std::vector<size_t> batch_sizes_;
  std::atomic<bool> hold_next_{false};
  std::promise<void> entered_;
  std::promise<void> release_;
};

// A job whose outcome can be waited for.
struct TrackedJob {
  std::shared_ptr<InferenceJob> job = std::make_shared<InferenceJob>();
  std::shared_ptr<std::promise<JobOutcome>> done = std::make_shared<std::promise<JobOutcome>>();
  std::future<JobOutcome> outcome = done->get_future();

  TrackedJob() {
    job->on_done = [done = done](JobOutcome&& result) { done->set_value(std::move(result)); };
  }
  JobOutcome wait() {
    EXPECT_EQ(outcome.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return outcome.get();
  }
};

BatchingConfig batching(int64_t max_batch, double delay_ms, int64_t max_queue) {
  BatchingConfig config;
  config.max_batch_size = max_batch;
  config.max_queue_delay_ms = delay_ms;
  config.max_queue_size = max_queue;
  return config;
}

TEST(BatchScheduler, QueuedJobsShareBatchesUpToTheMaximum) {
  RecordingRunner runner;
  BatchScheduler scheduler(batching(3, 0, 100), runner.hooks());
  // Hold the worker in a first batch while seven more jobs queue up.
  auto entered = runner.hold_next_batch();
  TrackedJob first;
  ASSERT_TRUE(scheduler.submit(first.job).ok());
  entered.wait();
  std::vector<TrackedJob> jobs(7);
  for (auto& job : jobs) ASSERT_TRUE(scheduler.submit(job.job).ok());
  EXPECT_EQ(scheduler.queue_depth(), 7u);
  runner.release();
  EXPECT_TRUE(first.wait().status.ok());
  for (auto& job : jobs) EXPECT_TRUE(job.wait().status.ok());
  EXPECT_EQ(runner.batch_sizes(), (std::vector<size_t>{1, 3, 3, 1}));
}

TEST(BatchScheduler, TheQueueDelayLetsLaterJobsJoin) {
  RecordingRunner runner;
  // A long delay: two jobs submitted back to back share one batch.
  BatchScheduler scheduler(batching(4, 500, 100), runner.hooks());
  TrackedJob a, b;
  ASSERT_TRUE(scheduler.submit(a.job).ok());
  ASSERT_TRUE(scheduler.submit(b.job).ok());
  EXPECT_EQ(a.wait().batch_size, 2);
  EXPECT_EQ(b.wait().batch_size, 2);
}

TEST(BatchScheduler, OnlyImagesOfOneSizeShareABatch) {
  RecordingRunner runner;
  BatchScheduler scheduler(batching(4, 0, 100), runner.hooks());
  auto entered = runner.hold_next_batch();
  TrackedJob first;
  ASSERT_TRUE(scheduler.submit(first.job).ok());
  entered.wait();
  // Queued: sizes A B A B A; batches: the oldest's size first, in order.
  std::vector<TrackedJob> jobs(5);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].job->batch_key = i % 2 ? 20 : 10;
    ASSERT_TRUE(scheduler.submit(jobs[i].job).ok());
  }
  runner.release();
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].wait().batch_size, i % 2 ? 2 : 3) << "job " << i;
  }
  EXPECT_EQ(runner.batch_sizes(), (std::vector<size_t>{1, 3, 2}));
}

TEST(BatchScheduler, AFullQueueRefusesAtOnce) {
  RecordingRunner runner;
  BatchScheduler scheduler(batching(1, 0, 2), runner.hooks());
  auto entered = runner.hold_next_batch();
  TrackedJob running, queued1, queued2, refused;
  ASSERT_TRUE(scheduler.submit(running.job).ok());
  entered.wait();
  ASSERT_TRUE(scheduler.submit(queued1.job).ok());
  ASSERT_TRUE(scheduler.submit(queued2.job).ok());
  const grpc::Status status = scheduler.submit(refused.job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("queue is full"), std::string::npos);
  runner.release();
  EXPECT_TRUE(queued2.wait().status.ok());
  // A refused job is never answered by the scheduler: the caller answers it.
  EXPECT_EQ(refused.outcome.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
}

TEST(BatchScheduler, CancelledAndExpiredJobsAreAnsweredUnrun) {
  RecordingRunner runner;
  BatchScheduler scheduler(batching(4, 0, 100), runner.hooks());
  auto entered = runner.hold_next_batch();
  TrackedJob running, cancelled, expired, alive;
  ASSERT_TRUE(scheduler.submit(running.job).ok());
  entered.wait();
  cancelled.job->cancelled = true;
  expired.job->deadline = Clock::now() - std::chrono::milliseconds(1);
  for (auto* job : {&cancelled, &expired, &alive}) ASSERT_TRUE(scheduler.submit(job->job).ok());
  runner.release();
  const JobOutcome& cancelled_outcome = cancelled.wait();
  const JobOutcome& expired_outcome = expired.wait();
  EXPECT_EQ(cancelled_outcome.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(expired_outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Dropped from the queue: not even the image was decoded.
  EXPECT_EQ(cancelled_outcome.skipped_stage, "decode");
  EXPECT_EQ(expired_outcome.skipped_stage, "decode");
  const JobOutcome& alive_outcome = alive.wait();
  EXPECT_TRUE(alive_outcome.status.ok());
  EXPECT_EQ(alive_outcome.skipped_stage, "");
  // The dead jobs never reached the runner: the second batch held one job.
  EXPECT_EQ(runner.batch_sizes(), (std::vector<size_t>{1, 1}));
}

TEST(BatchScheduler, DeadJobsMakeRoomInAFullQueue) {
  RecordingRunner runner;
  BatchScheduler scheduler(batching(1, 0, 1), runner.hooks());
  auto entered = runner.hold_next_batch();
  TrackedJob running, abandoned, next;
  ASSERT_TRUE(scheduler.submit(running.job).ok());
  entered.wait();
  ASSERT_TRUE(scheduler.submit(abandoned.job).ok());
  abandoned.job->cancelled = true;
  EXPECT_TRUE(scheduler.submit(next.job).ok());
  EXPECT_EQ(abandoned.wait().status.error_code(), grpc::StatusCode::CANCELLED);
  runner.release();
  EXPECT_TRUE(next.wait().status.ok());
}

TEST(BatchScheduler, StopRunsWhatIsQueuedAndRefusesTheRest) {
  RecordingRunner runner;
  BatchScheduler scheduler(batching(2, 0, 100), runner.hooks());
  auto entered = runner.hold_next_batch();
  std::vector<TrackedJob> jobs(5);
  for (auto& job : jobs) ASSERT_TRUE(scheduler.submit(job.job).ok());
  entered.wait();
  std::thread stopper([&] { scheduler.stop(); });
  runner.release();
  stopper.join();
  for (auto& job : jobs) EXPECT_TRUE(job.wait().status.ok());
  TrackedJob late;
  EXPECT_EQ(scheduler.submit(late.job).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(BatchScheduler, ConcurrentSubmittersCancellersAndWorkersAnswerEachJobOnce) {
  // Under TSan (scripts/sanitize.sh thread) this is the scheduler's race test.
  constexpr int kSubmitters = 4;
  constexpr int kJobsEach = 300;
  RecordingRunner runner;
  BatchScheduler scheduler(batching(4, 0.2, 16), runner.hooks(), /*workers=*/2);
  std::vector<std::shared_ptr<InferenceJob>> jobs(kSubmitters * kJobsEach);
  std::vector<std::atomic<int>> answers(jobs.size());
  std::vector<char> admitted(jobs.size(), 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i] = std::make_shared<InferenceJob>();
    jobs[i]->batch_key = i % 3;
    if (i % 7 == 0) jobs[i]->deadline = Clock::now();
    jobs[i]->on_done = [&answers, i](JobOutcome&&) { answers[i].fetch_add(1); };
  }
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&, s] {
      for (int k = 0; k < kJobsEach; ++k) {
        const size_t i = static_cast<size_t>(s * kJobsEach + k);
        admitted[i] = scheduler.submit(jobs[i]).ok();
      }
    });
  }
  std::thread canceller([&] {
    for (size_t i = 0; i < jobs.size(); i += 5) jobs[i]->cancelled = true;
  });
  for (std::thread& submitter : submitters) submitter.join();
  canceller.join();
  scheduler.stop();
  size_t refused = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    // An admitted job is answered exactly once; a refused one never (its caller answers it).
    EXPECT_EQ(answers[i].load(), admitted[i] ? 1 : 0) << i;
    refused += !admitted[i];
  }
  EXPECT_LT(refused, jobs.size());
}

}  // namespace
}  // namespace roiserve::server
