#pragma once
// The server's own calls in flight, and the drain: once draining, new calls
// are refused with UNAVAILABLE and shutdown waits for the calls in flight
// only. gRPC's Server::Shutdown alone would also wait for calls that never
// end by themselves (health Watch streams, idle clients' connections) until
// its deadline.
#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace roiserve::server {

class DrainGate {
 public:
  // Counts a call as in flight for its lifetime.
  class Call {
   public:
    explicit Call(DrainGate& gate);
    ~Call();
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

   private:
    DrainGate& gate_;
  };

  // OK, or UNAVAILABLE once draining.
  grpc::Status admit() const;
  void start_draining();
  // Waits until no call is in flight, or the deadline; true when none is.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

 private:
  std::atomic<bool> draining_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  int64_t active_ = 0;
};

}  // namespace roiserve::server
