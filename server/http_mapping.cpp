#include "server/http_mapping.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace roiserve::server {

int http_status(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;  // client closed request (nginx; Google APIs map CANCELLED so)
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:  // INTERNAL, UNKNOWN, DATA_LOSS
      return 500;
  }
}

std::string error_body(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                  nlohmann::json::error_handler_t::replace);
}

std::chrono::nanoseconds parse_grpc_timeout(const std::string& value) {
  const auto invalid = [&value] {
    return std::invalid_argument("grpc-timeout must be 1 to 8 digits and a unit (H, M, S, m, u, n), got '" +
                                 value + "'");
  };
  if (value.size() < 2 || value.size() > 9) throw invalid();
  int64_t amount = 0;
  for (size_t i = 0; i + 1 < value.size(); ++i) {
    if (value[i] < '0' || value[i] > '9') throw invalid();
    amount = amount * 10 + (value[i] - '0');
  }
  double unit_ns;
  switch (value.back()) {
    case 'H': unit_ns = 3600e9; break;
    case 'M': unit_ns = 60e9; break;
    case 'S': unit_ns = 1e9; break;
    case 'm': unit_ns = 1e6; break;
    case 'u': unit_ns = 1e3; break;
    case 'n': unit_ns = 1; break;
    default: throw invalid();
  }
  // 99999999H is past what a clock adds without overflow: a deadline
  // decades away is none at all.
  constexpr double kLongest = 1e18;
  return std::chrono::nanoseconds(static_cast<int64_t>(std::min(amount * unit_ns, kLongest)));
}

}  // namespace roiserve::server
