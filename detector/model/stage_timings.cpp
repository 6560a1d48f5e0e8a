#include "detector/model/stage_timings.h"

namespace roiserve::detector {

void StageTimings::add(const std::string& stage, double milliseconds) {
  for (auto& entry : entries_) {
    if (entry.first == stage) {
      entry.second += milliseconds;
      return;
    }
  }
  entries_.emplace_back(stage, milliseconds);
}

const double* StageTimings::find(const std::string& stage) const {
  for (const auto& entry : entries_) {
    if (entry.first == stage) return &entry.second;
  }
  return nullptr;
}

StageTimer::StageTimer(StageTimings& timings, std::string stage)
    : timings_(timings), stage_(std::move(stage)), start_(std::chrono::steady_clock::now()) {}

StageTimer::~StageTimer() {
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start_;
  timings_.add(stage_, elapsed.count());
}

}  // namespace roiserve::detector
