#include "server/server_config.h"

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

#include "detector/config/yaml_reader.h"
#include "detector/model/device.h"
#include "detector/model/precision.h"

namespace roiserve::server {
namespace {

using detector::MappingReader;

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& path) {
  if (path.empty()) return {};
  const std::filesystem::path given(path);
  return given.is_absolute() ? given : base / given;
}

void read_batching(MappingReader reader, BatchingConfig& batching) {
  reader.read("max_batch_size", batching.max_batch_size);
  reader.read("max_queue_delay_ms", batching.max_queue_delay_ms);
  reader.read("max_queue_size", batching.max_queue_size);
  reader.reject_unknown_keys();
}

void read_models(const YAML::Node& node, const std::filesystem::path& base,
                 const BatchingConfig& default_batching, std::vector<ModelEntry>& models) {
  if (!node) return;
  if (!node.IsSequence()) throw std::invalid_argument("'models' must be a list");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = "models[" + std::to_string(i) + "]";
    MappingReader reader(node[i], where);
    ModelEntry entry;
    entry.batching = default_batching;
    std::string path;
    reader.read("name", entry.name);
    reader.read("path", path);
    reader.read("device", entry.device);
    reader.read("precision", entry.precision);
    read_batching(MappingReader(reader.child("batching"), where + ".batching"), entry.batching);
    reader.reject_unknown_keys();
    if (path.empty()) throw std::invalid_argument("'" + where + ".path' is required");
    entry.path = resolve(base, path);
    models.push_back(entry);
  }
}

// The device's spelling, then that this build and machine have it.
void check_device(const std::string& where, const std::string& device) {
  try {
    detector::resolve_device(device);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(where + ": " + error.what());
  }
}

void check_precision(const std::string& where, const std::string& precision) {
  if (precision.empty()) return;
  try {
    detector::parse_precision(precision);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(where + ": " + error.what());
  }
}

template <typename T>
void require(bool ok, const std::string& key, const T& value, const std::string& rule) {
  if (!ok) {
    throw std::invalid_argument("'" + key + "' is " + std::to_string(value) + "; it must be " +
                                rule);
  }
}

}  // namespace

ServerConfig read_server_config(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(file.string() + ": " + error.what());
  }
  const std::filesystem::path base = file.parent_path();
  try {
    ServerConfig config;
    MappingReader reader(root, "");
    reader.read("listen", config.listen);
    reader.read("metrics_listen", config.http_listen);  // the old name of http_listen
    reader.read("http_listen", config.http_listen);
    reader.read("http_threads", config.http_threads);
    reader.read("max_connection_age_s", config.max_connection_age_s);
    reader.read("max_connection_age_grace_s", config.max_connection_age_grace_s);
    reader.read("threads", config.threads);
    reader.read("device", config.device);
    reader.read("precision", config.precision);
    reader.read("default_model", config.default_model);
    reader.read("shutdown_delay_s", config.shutdown_delay_s);
    reader.read("shutdown_grace_s", config.shutdown_grace_s);
    reader.read("log_level", config.log_level);
    reader.read("log_format", config.log_format);
    std::string ports_file;
    reader.read("ports_file", ports_file);
    config.ports_file = resolve(base, ports_file);
    std::string ab_report;
    reader.read("ab_report", ab_report);
    config.ab_report = resolve(base, ab_report);

    // Defaults for every model; a model's own `batching` overrides them.
    read_batching(MappingReader(reader.child("batching"), "batching"), config.batching);
    read_models(reader.child("models"), base, config.batching, config.models);

    MappingReader limits(reader.child("limits"), "limits");
    limits.read("max_message_bytes", config.limits.max_message_bytes);
    limits.read("max_image_pixels", config.limits.max_image_pixels);
    limits.read("max_detections", config.limits.max_detections);
    limits.read("max_compare_variants", config.limits.max_compare_variants);
    limits.read("max_concurrent_streams", config.limits.max_concurrent_streams);
    limits.read("max_stream_in_flight", config.limits.max_stream_in_flight);
    limits.reject_unknown_keys();

    MappingReader tls(reader.child("tls"), "tls");
    std::string cert, key, client_ca;
    tls.read("cert", cert);
    tls.read("key", key);
    tls.read("client_ca", client_ca);
    tls.reject_unknown_keys();
    config.tls = {resolve(base, cert), resolve(base, key), resolve(base, client_ca)};

    MappingReader auth(reader.child("auth"), "auth");
    std::string token_file, admin_token_file;
    auth.read("token_file", token_file);
    auth.read("admin_token_file", admin_token_file);
    auth.reject_unknown_keys();
    config.auth = {resolve(base, token_file), resolve(base, admin_token_file)};

    reader.reject_unknown_keys();
    return config;
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(file.string() + ": " + error.what());
  }
}

void validate_batching(const BatchingConfig& batching, const std::string& where) {
  require(batching.max_batch_size >= 1 && batching.max_batch_size <= 256, where + "max_batch_size",
          batching.max_batch_size, "in 1..256");
  require(batching.max_queue_delay_ms >= 0 && batching.max_queue_delay_ms <= 10000,
          where + "max_queue_delay_ms", batching.max_queue_delay_ms, "in 0..10000");
  require(batching.max_queue_size >= 1, where + "max_queue_size", batching.max_queue_size, ">= 1");
}

void validate_server_config(const ServerConfig& config) {
  if (config.listen.empty()) throw std::invalid_argument("'listen' must not be empty");
  require(config.threads >= 0, "threads", config.threads, ">= 0 (0: every core)");
  require(config.http_threads >= 1 && config.http_threads <= 1024, "http_threads",
          config.http_threads, "in 1..1024");
  if (config.models.empty()) throw std::invalid_argument("no model to serve: give --model DIR");
  std::set<std::string> names;
  for (const ModelEntry& model : config.models) {
    validate_batching(model.batching, "batching of " + model.path.string() + ": ");
    if (!model.name.empty() && !names.insert(model.name).second) {
      throw std::invalid_argument("two models are named '" + model.name + "'");
    }
  }
  const LimitsConfig& limits = config.limits;
  require(limits.max_message_bytes >= 1024 && limits.max_message_bytes <= (2ull << 30) - 1,
          "limits.max_message_bytes", limits.max_message_bytes, "in 1024..2^31-1");
  require(limits.max_image_pixels >= 1 && limits.max_image_pixels <= (1ull << 30),
          "limits.max_image_pixels", limits.max_image_pixels, "in 1..2^30");
  require(limits.max_detections >= 1, "limits.max_detections", limits.max_detections, ">= 1");
  require(limits.max_compare_variants >= 2, "limits.max_compare_variants",
          limits.max_compare_variants, ">= 2");
  require(limits.max_concurrent_streams >= 1, "limits.max_concurrent_streams",
          limits.max_concurrent_streams, ">= 1");
  require(limits.max_stream_in_flight >= 1, "limits.max_stream_in_flight",
          limits.max_stream_in_flight, ">= 1");
  require(config.max_connection_age_s >= 0, "max_connection_age_s", config.max_connection_age_s,
          ">= 0 (0: never)");
  require(config.max_connection_age_grace_s >= 0, "max_connection_age_grace_s",
          config.max_connection_age_grace_s, ">= 0");
  require(config.shutdown_delay_s >= 0, "shutdown_delay_s", config.shutdown_delay_s, ">= 0");
  require(config.shutdown_grace_s >= 0, "shutdown_grace_s", config.shutdown_grace_s, ">= 0");
  if (config.tls.cert.empty() != config.tls.key.empty()) {
    throw std::invalid_argument("TLS needs both 'tls.cert' and 'tls.key'");
  }
  if (!config.tls.client_ca.empty() && config.tls.cert.empty()) {
    throw std::invalid_argument("'tls.client_ca' (mutual TLS) needs 'tls.cert' and 'tls.key'");
  }
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
  if (!levels.count(config.log_level)) {
    throw std::invalid_argument("'log_level' must be trace, debug, info, warn, error or off");
  }
  if (config.log_format != "text" && config.log_format != "json") {
    throw std::invalid_argument("'log_format' must be text or json");
  }
  check_device("'device'", config.device);
  check_precision("'precision'", config.precision);
  for (const ModelEntry& model : config.models) {
    if (!model.device.empty()) check_device("the device of " + model.path.string(), model.device);
    check_precision("the precision of " + model.path.string(), model.precision);
  }
}

}  // namespace roiserve::server
