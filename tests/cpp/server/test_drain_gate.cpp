// The drain: refusing new calls and waiting for those in flight.
#include <gtest/gtest.h>

#include <thread>

#include "server/drain_gate.h"

namespace roiserve::server {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(DrainGate, RefusesNewCallsOnceDraining) {
  DrainGate gate;
  EXPECT_TRUE(gate.admit().ok());
  gate.start_draining();
  const grpc::Status status = gate.admit();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("shutting down"), std::string::npos);
}

TEST(DrainGate, WaitsForCallsInFlightUntilTheDeadline) {
  DrainGate gate;
  EXPECT_TRUE(gate.wait_idle(steady_clock::now()));
  auto call = std::make_unique<DrainGate::Call>(gate);
  EXPECT_FALSE(gate.wait_idle(steady_clock::now() + milliseconds(20)));
  std::thread finisher([&] {
    std::this_thread::sleep_for(milliseconds(50));
    call.reset();
  });
  EXPECT_TRUE(gate.wait_idle(steady_clock::now() + std::chrono::seconds(10)));
  finisher.join();
}

}  // namespace
}  // namespace roiserve::server
