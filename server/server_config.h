#pragma once
// roiserve-server's settings: a YAML file (configs/server.yaml documents every
// key) with command-line flags applied over it. Plain data.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace roiserve::server {

// Dynamic batching of one model (Triton's dynamic_batching): requests wait
// at most max_queue_delay_ms for others to share a backbone pass, up to
// max_batch_size images; at most max_queue_size wait, the rest are refused.
struct BatchingConfig {
  int64_t max_batch_size = 4;
  double max_queue_delay_ms = 0.0;
  int64_t max_queue_size = 64;
};

struct ModelEntry {
  std::string name;  // empty: the bundle's own name (model.yaml)
  std::filesystem::path path;
  BatchingConfig batching;
  // cpu, cuda or cuda:N; empty: the server's `device`.
  std::string device;
  // fp32 or bf16; empty: the server's `precision`, else the bundle's own
  // (model.yaml's `precision`).
  std::string precision;
};

struct LimitsConfig {
  uint64_t max_message_bytes = 64ull << 20;
  uint64_t max_image_pixels = 4096ull * 4096;
  int64_t max_detections = 1000;
  int64_t max_compare_variants = 8;
  // Concurrent calls (unary and streams) per client connection.
  int64_t max_concurrent_streams = 256;
  // Requests of one DetectStream being worked on at once; the stream reads on
  // as its earliest requests are answered.
  int64_t max_stream_in_flight = 8;
};

struct TlsConfig {
  std::filesystem::path cert;  // PEM; with key, enables TLS
  std::filesystem::path key;
  std::filesystem::path client_ca;  // PEM; set: clients must present a certificate it signed
};

struct AuthConfig {
  // Files of bearer tokens, one a line. Set: every detection call needs
  // "authorization: Bearer <token>" with a token of token_file (or of
  // admin_token_file, which also opens the admin calls). Health and
  // reflection stay open, as probes carry no token.
  std::filesystem::path token_file;
  std::filesystem::path admin_token_file;
};

struct ServerConfig {
  std::string listen = "0.0.0.0:50051";
  // > 0: a connection is closed (GOAWAY, then max_connection_age_grace_s for
  // its calls) this long after it opened, so that clients reconnect and
  // spread onto replicas added since; 0: never.
  double max_connection_age_s = 0;
  double max_connection_age_grace_s = 30;
  // The HTTP port: /metrics, the /v1 JSON routes and the Open Inference
  // Protocol's /v2 routes (YAML key and flag formerly metrics_listen, still
  // accepted). Empty: no HTTP port.
  std::string http_listen = "0.0.0.0:9090";
  // HTTP requests served at once: each holds a pool thread until its job is
  // answered, so this bounds the HTTP side's inference in flight.
  int http_threads = 32;
  // An offline A/B report of roiserve-eval (its --output directory, or its
  // report.html), served at /report/ beside the comparison page; empty: none.
  std::filesystem::path ab_report;
  int threads = 0;  // intra-op threads; 0: every core it may use (a container's CPU limit)
  // Where models run that name no device of their own (and LoadModel calls
  // that give none): cpu, cuda or cuda:N.
  std::string device = "cpu";
  // The arithmetic of models that name none of their own (and LoadModel calls
  // that give none): fp32 or bf16; empty: each bundle's model.yaml default.
  std::string precision;
  std::vector<ModelEntry> models;
  BatchingConfig batching;    // of models that set none of their own
  std::string default_model;  // empty: the first model
  LimitsConfig limits;
  TlsConfig tls;
  AuthConfig auth;
  // On SIGTERM/SIGINT: health turns NOT_SERVING and new calls are still
  // served for shutdown_delay_s (load balancers and Kubernetes endpoints take
  // the replica out meanwhile); then new calls are refused and in-flight
  // calls get shutdown_grace_s to finish.
  double shutdown_delay_s = 0.0;
  double shutdown_grace_s = 10.0;
  std::string log_level = "info";   // trace, debug, info, warn, error
  std::string log_format = "text";  // or "json": one object a line
  // Written once the server serves: {"grpc": "host:port", "metrics": "host:port"},
  // the ports actually bound (useful with port 0).
  std::filesystem::path ports_file;
};

// Relative paths in the file are resolved against the file's directory.
// Throws std::invalid_argument naming the file and the offending key.
ServerConfig read_server_config(const std::filesystem::path& file);

// Throws std::invalid_argument naming the first setting out of range, or a
// device that is misspelt or that this build or machine does not have.
void validate_server_config(const ServerConfig& config);
// The same for one model's batching; `where` prefixes the message.
void validate_batching(const BatchingConfig& batching, const std::string& where);

}  // namespace roiserve::server
