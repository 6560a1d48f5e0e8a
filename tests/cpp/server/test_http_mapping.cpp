// gRPC's statuses, errors and deadlines in HTTP's terms (server/http_mapping,
// server/exception_status).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <new>
#include <stdexcept>

#include "server/exception_status.h"
#include "server/http_mapping.h"

namespace roiserve::server {
namespace {

TEST(HttpStatus, FollowsTritonKServeAndGoogleApis) {
  EXPECT_EQ(http_status(grpc::StatusCode::OK), 200);
  EXPECT_EQ(http_status(grpc::StatusCode::INVALID_ARGUMENT), 400);
  EXPECT_EQ(http_status(grpc::StatusCode::UNAUTHENTICATED), 401);
  EXPECT_EQ(http_status(grpc::StatusCode::PERMISSION_DENIED), 403);
  EXPECT_EQ(http_status(grpc::StatusCode::NOT_FOUND), 404);
  EXPECT_EQ(http_status(grpc::StatusCode::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(http_status(grpc::StatusCode::UNAVAILABLE), 503);
  EXPECT_EQ(http_status(grpc::StatusCode::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(http_status(grpc::StatusCode::INTERNAL), 500);
  EXPECT_EQ(http_status(grpc::StatusCode::UNKNOWN), 500);
  EXPECT_EQ(http_status(grpc::StatusCode::UNIMPLEMENTED), 501);
}

TEST(ErrorBody, IsKServesShapeAndSurvivesBytesThatAreNotUtf8) {
  EXPECT_EQ(nlohmann::json::parse(error_body("no model 'x'")), nlohmann::json({{"error", "no model 'x'"}}));
  EXPECT_EQ(nlohmann::json::parse(error_body("no model '\xff'"))["error"], "no model '\xef\xbf\xbd'");
}

TEST(GrpcTimeout, ReadsEveryUnit) {
  EXPECT_EQ(parse_grpc_timeout("2H"), std::chrono::hours(2));
  EXPECT_EQ(parse_grpc_timeout("3M"), std::chrono::minutes(3));
  EXPECT_EQ(parse_grpc_timeout("4S"), std::chrono::seconds(4));
  EXPECT_EQ(parse_grpc_timeout("500m"), std::chrono::milliseconds(500));
  EXPECT_EQ(parse_grpc_timeout("250u"), std::chrono::microseconds(250));
  EXPECT_EQ(parse_grpc_timeout("99999999n"), std::chrono::nanoseconds(99999999));
  EXPECT_EQ(parse_grpc_timeout("0m"), std::chrono::nanoseconds(0));
}

TEST(GrpcTimeout, CapsWhatNoClockCouldAdd) {
  EXPECT_EQ(parse_grpc_timeout("99999999H"), std::chrono::nanoseconds(1000000000000000000));
}

TEST(GrpcTimeout, RefusesWhatIsNotItsFormat) {
  for (const char* value : {"", "m", "5", "5s", "-5S", "1.5S", "123456789S", " 5S", "5 S"}) {
    EXPECT_THROW(parse_grpc_timeout(value), std::invalid_argument) << value;
  }
}

TEST(ExceptionStatus, InvalidArgumentIsTheCallersAndKeepsItsMessage) {
  const grpc::Status status =
      guarded("doing it", []() -> grpc::Status { throw std::invalid_argument("bad option"); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "bad option");
}

TEST(ExceptionStatus, OutOfMemoryIsResourceExhausted) {
  const grpc::Status status = guarded("while reading", []() -> grpc::Status { throw std::bad_alloc(); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(), "the server ran out of memory while reading");
}

TEST(ExceptionStatus, AnythingElseIsInternalSayingWhatWasDone) {
  const grpc::Status runtime =
      guarded("while answering", []() -> grpc::Status { throw std::out_of_range("index 7"); });
  EXPECT_EQ(runtime.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(runtime.error_message(), "internal error while answering: index 7");
  const grpc::Status other = guarded("while answering", []() -> grpc::Status { throw 42; });
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(other.error_message(), "internal error while answering");
}

TEST(ExceptionStatus, PassesTheWorksOwnStatus) {
  const grpc::Status status =
      guarded("doing it", [] { return grpc::Status(grpc::StatusCode::NOT_FOUND, "none"); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace roiserve::server
