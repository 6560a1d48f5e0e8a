#include "detector/model/stage_timings.h"

#include <exception>

#include "detector/model/device.h"

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

StageTimer::StageTimer(StageTimings& timings, std::string stage, c10::Device device)
    : timings_(timings),
      stage_(std::move(stage)),
      device_(device),
      uncaught_at_start_(std::uncaught_exceptions()),
      start_(std::chrono::steady_clock::now()) {}

StageTimer::~StageTimer() noexcept(false) {
  // Leaving by an exception: no synchronisation (a second exception out of a
  // destructor during unwinding would terminate), and no time worth keeping.
  if (std::uncaught_exceptions() > uncaught_at_start_) return;
  synchronize(device_);
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start_;
  timings_.add(stage_, elapsed.count());
}

}  // namespace roiserve::detector
