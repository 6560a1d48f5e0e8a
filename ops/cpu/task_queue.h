#pragma once
// Work handed out one task at a time. at::parallel_for splits a range into one
// fixed share per thread, so a thread that the OS deschedules (on a shared
// machine, or beside other work) holds up the whole op with its share. Here
// every thread takes the next task from a shared counter until none are left:
// a thread that runs takes over the work of one that does not.
#include <ATen/Parallel.h>

#include <atomic>
#include <cstdint>

namespace roiserve::ops::cpu {

// The tasks [0, count), each taken by exactly one thread.
class TaskQueue {
 public:
  explicit TaskQueue(int64_t count) : count_(count) {}

  // The next task, or false when all are taken.
  bool take(int64_t& task) {
    task = next_.fetch_add(1, std::memory_order_relaxed);
    return task < count_;
  }

 private:
  const int64_t count_;
  std::atomic<int64_t> next_{0};
};

// Runs worker(queue) on each of at::parallel_for's threads; each worker takes
// tasks from the queue until it is empty. Outputs must not depend on which
// thread ran which task.
template <typename F>
void drain_in_parallel(int64_t count, const F& worker) {
  TaskQueue queue(count);
  at::parallel_for(0, count, 1, [&](int64_t /*begin*/, int64_t /*end*/) { worker(queue); });
}

}  // namespace roiserve::ops::cpu
