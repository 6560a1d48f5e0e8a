#pragma once
// Bearer-token authentication: "authorization: Bearer <token>" (gRPC
// metadata or an HTTP header) checked against the configured token files. Two roles: a user token opens
// the detection calls, an admin token those and the admin calls.
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <filesystem>
#include <string>
#include <vector>

namespace roiserve::server {

enum class Role { kUser, kAdmin };

class TokenAuthenticator {
 public:
  // Empty paths: no tokens of that role. With no token at all, every call
  // is allowed. Throws std::runtime_error for an unreadable or empty file.
  TokenAuthenticator(const std::filesystem::path& user_tokens,
                     const std::filesystem::path& admin_tokens);

  bool enabled() const { return !user_tokens_.empty() || !admin_tokens_.empty(); }

  // OK, UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (a user
  // token on an admin call). The messages never echo the token.
  grpc::Status authorize(const grpc::ServerContextBase& context, Role needed) const;
  // The same for the value of an authorization header (nullptr: none came);
  // `carrier` ("metadata", "header") is what the messages call it.
  grpc::Status authorize(const std::string* authorization, Role needed,
                         const char* carrier) const;

 private:
  std::vector<std::string> user_tokens_;
  std::vector<std::string> admin_tokens_;
};

}  // namespace roiserve::server
