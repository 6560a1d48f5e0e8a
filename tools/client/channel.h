#pragma once
// The client side of a connection to roiserve-server: the channel (plain or
// TLS, optionally with a client certificate) and the bearer token calls carry.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace roiserve::tools {

struct ConnectionOptions {
  std::string target = "localhost:50051";
  std::string tls_ca;           // PEM file: connect with TLS, trusting this CA
  std::string tls_cert;         // PEM files: a client certificate (mutual TLS)
  std::string tls_key;
  std::string tls_server_name;  // expected name in the server's certificate
  std::string token_file;       // bearer token (also: ROISERVE_TOKEN)
  int64_t deadline_ms = 0;      // 0: none
};

// Throws std::runtime_error when a file cannot be read.
std::shared_ptr<grpc::Channel> make_channel(const ConnectionOptions& options);

// Prepares a call's context: deadline and authorization.
class CallSettings {
 public:
  explicit CallSettings(const ConnectionOptions& options);
  void apply(grpc::ClientContext& context) const;

 private:
  std::string token_;
  std::optional<std::chrono::milliseconds> deadline_;
};

}  // namespace roiserve::tools
