#pragma once
// What every RPC does around its work: authorization, and on completion a
// metrics count, a latency observation and a log line (debug when OK, warn
// otherwise). One CallRecord per call, or per message of a stream.
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>

#include "server/auth.h"
#include "server/drain_gate.h"
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

// A unary call on gRPC's callback API, in flight (metrics, drain) until
// gRPC is done with it: answered once through complete(), which also counts
// and logs it; a client's cancellation reaches its `work` (a job, or the
// jobs of a ModelInfer) through cancel_work(), so that it is dropped unrun.
template <typename Work>
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(ServerMetrics& metrics, DrainGate& drain, const std::string& method,
            grpc::CallbackServerContext& context)
      : record(metrics, method, context.peer()), inflight_(metrics.inflight(method)), call_(drain) {}

  CallRecord record;
  std::shared_ptr<Work> work;

  void complete(const grpc::Status& status) {
    record.finish(status);
    Finish(status);
  }
  void OnCancel() override {
    if (work) cancel_work(*work);
  }
  void OnDone() override { delete this; }

 private:
  InflightScope inflight_;
  DrainGate::Call call_;
};

inline void cancel_work(InferenceJob& job) {
  job.cancelled = true;
}

}  // namespace roiserve::server
