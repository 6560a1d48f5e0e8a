#include "server/call_context.h"

#include "server/logging.h"

namespace roiserve::server {

std::string status_code_name(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",          "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  const auto index = static_cast<size_t>(code);
  return index < sizeof(kNames) / sizeof(kNames[0]) ? kNames[index] : "UNKNOWN";
}

std::optional<Clock::time_point> call_deadline(const grpc::ServerContextBase& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return std::nullopt;
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            deadline - std::chrono::system_clock::now());
}

namespace {

// Faults of the server (an exception turned INTERNAL, ...) are errors; the
// caller's mistakes and refusals are warnings.
spdlog::level::level_enum log_level(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return spdlog::level::debug;
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return spdlog::level::err;
    default:
      return spdlog::level::warn;
  }
}

}  // namespace

CallRecord::CallRecord(ServerMetrics& metrics, std::string method, std::string peer)
    : metrics_(metrics), method_(std::move(method)), peer_(std::move(peer)) {}

void CallRecord::finish(const grpc::Status& status) const {
  const double seconds = std::chrono::duration<double>(Clock::now() - received_).count();
  const std::string code = status_code_name(status.error_code());
  metrics_.count_request(method_, model_, code, seconds);
  nlohmann::ordered_json fields{{"event", "request"}, {"method", method_}, {"code", code},
                                {"ms", std::round(seconds * 1e6) / 1e3}, {"model", model_},
                                {"peer", peer_}};
  if (!request_id_.empty()) fields["request_id"] = request_id_;
  if (!status.ok()) fields["error"] = status.error_message();
  log_event(log_level(status.error_code()), fields);
}

}  // namespace roiserve::server
