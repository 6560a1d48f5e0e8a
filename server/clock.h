#pragma once
// The server's one clock and the milliseconds between two of its readings, as
// stage latencies, load times and logs report them. Steady, so that a step of
// the wall clock bends no latency and no deadline.
#include <chrono>

namespace roiserve::server {

using Clock = std::chrono::steady_clock;

inline double milliseconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

inline double milliseconds_since(Clock::time_point start) {
  return milliseconds_between(start, Clock::now());
}

}  // namespace roiserve::server
