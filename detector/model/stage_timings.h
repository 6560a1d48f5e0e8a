#pragma once
// Per-stage wall time of one forward, in milliseconds, in the order the stages
// ran. A stage that did not run is absent.
#include <c10/core/Device.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace roiserve::detector {

class StageTimings {
 public:
  using Entry = std::pair<std::string, double>;

  void add(const std::string& stage, double milliseconds);
  // nullptr when the stage did not run.
  const double* find(const std::string& stage) const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// Times the enclosing scope into one stage (adds to it when it ran before).
//
// On a device other than the CPU, kernels run asynchronously: the timer ends
// with a synchronisation of this thread's stream on `device`, so that a stage
// counts the time its work took on the device, not the time to queue it (and
// the next stage starts on an idle stream). The synchronisation rethrows an
// asynchronous device error, so the destructor may throw; it does not while
// the scope is being left by an exception.
class StageTimer {
 public:
  StageTimer(StageTimings& timings, std::string stage, c10::Device device = c10::Device(c10::kCPU));
  ~StageTimer() noexcept(false);
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageTimings& timings_;
  std::string stage_;
  c10::Device device_;
  int uncaught_at_start_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace roiserve::detector
