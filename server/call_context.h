#pragma once
// What every RPC does around its work: authorization, and on completion a
// metrics count, a latency observation and a log line (debug when OK, warn
// otherwise). One CallRecord per call, or per message of a stream.
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "server/auth.h"
#include "server/inference_job.h"
#include "server/metrics.h"

namespace roiserve::server {

// "OK", "INVALID_ARGUMENT", ...
std::string status_code_name(grpc::StatusCode code);

// Steady-clock time of a call's deadline; nullopt when it has none.
std::optional<Clock::time_point> call_deadline(const grpc::ServerContextBase& context);

class CallRecord {
 public:
  CallRecord(ServerMetrics& metrics, std::string method, std::string peer);

  void set_model(std::string model) { model_ = std::move(model); }
  void set_request_id(std::string request_id) { request_id_ = std::move(request_id); }
  Clock::time_point received() const { return received_; }

  // Counts and logs the call's outcome.
  void finish(const grpc::Status& status) const;

 private:
  ServerMetrics& metrics_;
  std::string method_;
  std::string peer_;
  std::string model_;
  std::string request_id_;
  Clock::time_point received_ = Clock::now();
};

}  // namespace roiserve::server
