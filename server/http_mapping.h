#pragma once
// gRPC's terms in HTTP's, for the HTTP frontend: the status a gRPC code
// answers with (as Triton, KServe and Google's APIs map them), the JSON error
// body of KServe v2, and deadlines in gRPC's "grpc-timeout" header format.
#include <grpcpp/support/status.h>

#include <chrono>
#include <string>

namespace roiserve::server {

int http_status(grpc::StatusCode code);

// {"error": "message"}; bytes that are not UTF-8 are replaced.
std::string error_body(const std::string& message);

// "grpc-timeout" values: a positive integer of at most 8 digits and a unit,
// H M S m u n (hours .. nanoseconds), as gRPC sends it on HTTP/2 and
// gRPC-Web and Envoy accept it on HTTP/1.1. Throws std::invalid_argument.
std::chrono::nanoseconds parse_grpc_timeout(const std::string& value);

}  // namespace roiserve::server
