#include "server/drain_gate.h"

namespace roiserve::server {

DrainGate::Call::Call(DrainGate& gate) : gate_(gate) {
  std::lock_guard<std::mutex> lock(gate_.mutex_);
  ++gate_.active_;
}

DrainGate::Call::~Call() {
  std::lock_guard<std::mutex> lock(gate_.mutex_);
  if (--gate_.active_ == 0) gate_.idle_.notify_all();
}

grpc::Status DrainGate::admit() const {
  if (draining_) return {grpc::StatusCode::UNAVAILABLE, "the server is shutting down"};
  return grpc::Status::OK;
}

void DrainGate::start_draining() { draining_ = true; }

bool DrainGate::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return active_ == 0; });
}

}  // namespace roiserve::server
