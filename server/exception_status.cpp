#include "server/exception_status.h"

#include <new>
#include <stdexcept>
#include <string>

namespace roiserve::server {

grpc::Status exception_status(const std::exception_ptr& error, const char* doing) {
  try {
    std::rethrow_exception(error);
  } catch (const std::invalid_argument& invalid) {
    return {grpc::StatusCode::INVALID_ARGUMENT, invalid.what()};
  } catch (const std::bad_alloc&) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED,
            std::string("the server ran out of memory ") + doing};
  } catch (const std::exception& other) {
    return {grpc::StatusCode::INTERNAL, std::string("internal error ") + doing + ": " + other.what()};
  } catch (...) {
    return {grpc::StatusCode::INTERNAL, std::string("internal error ") + doing};
  }
}

}  // namespace roiserve::server
