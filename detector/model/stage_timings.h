#pragma once
// Per-stage wall time of one forward, in milliseconds, in the order the stages
// ran. A stage that did not run is absent.
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
class StageTimer {
 public:
  StageTimer(StageTimings& timings, std::string stage);
  ~StageTimer();
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageTimings& timings_;
  std::string stage_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace roiserve::detector
