#pragma once
// Exceptions into statuses, so that nothing thrown while a request is
// admitted or answered leaves a gRPC reactor or an HTTP handler.
#include <grpcpp/support/status.h>

#include <exception>

namespace roiserve::server {

// std::invalid_argument: INVALID_ARGUMENT (its message is for the caller);
// std::bad_alloc: RESOURCE_EXHAUSTED; anything else: INTERNAL, naming what
// was being done.
grpc::Status exception_status(const std::exception_ptr& error, const char* doing);

// Runs `work`; what it throws becomes exception_status(..., doing).
template <typename Work>
grpc::Status guarded(const char* doing, Work&& work) {
  try {
    return work();
  } catch (...) {
    return exception_status(std::current_exception(), doing);
  }
}

}  // namespace roiserve::server
