// roiserve-server: serves roiserve model bundles over gRPC.
//   roiserve-server [--listen HOST:PORT] [--model DIR]... [--config FILE] [flags]
// With no flags it serves models/shapes-v1 on 0.0.0.0:50051, HTTP (/metrics, /v1, /v2) on
// 0.0.0.0:9090. Flags override the config file. SIGTERM or SIGINT drains and
// exits 0.
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <opencv2/core/utils/logger.hpp>

#include "server/cpu_quota.h"
#include "server/logging.h"
#include "server/roi_server.h"
#include "server/signals.h"

#include "detector/model/freed_memory.h"

namespace {

using namespace roiserve::server;

struct Flags {
  std::string config_file;
  std::vector<std::string> models;
};

// Every flag writes into `config` after the file is read: a flag given on
// the command line wins over the file.
void add_flags(CLI::App& app, Flags& flags, ServerConfig& config, BatchingConfig& batching) {
  app.add_option("--config", flags.config_file,
                 "YAML config file (configs/server.yaml documents it)");
  app.add_option("--model", flags.models,
                 "model bundle directory (repeatable; replaces the config's models)");
  app.add_option("--listen", config.listen, "gRPC address, HOST:PORT (port 0: any free port)");
  app.add_option("--http-listen,--metrics-listen", config.http_listen,
                 "HTTP address: /metrics, /v1 and /v2 routes, HOST:PORT; '' turns it off");
  app.add_option("--http-threads", config.http_threads,
                 "HTTP requests served at once (each holds a thread until answered)");
  app.add_option("--ab-report", config.ab_report,
                 "roiserve-eval report directory (or its report.html) to serve at /report/");
  app.add_option("--max-connection-age-s", config.max_connection_age_s,
                 "close connections this old, so clients spread onto new replicas (0: never)");
  app.add_option(
      "--threads", config.threads,
      "intra-op threads (default: every core the process may use, within a container's CPU limit)");
  app.add_option("--device", config.device,
                 "cpu, cuda or cuda:N: where the models run (every model; default: cpu)");
  app.add_option("--precision", config.precision,
                 "fp32 or bf16: the arithmetic the models serve in (every model; default: each "
                 "model's model.yaml); bf16 runs fp32 on a CPU without native bf16");
  app.add_option("--default-model", config.default_model,
                 "the model requests with no model name go to");
  app.add_option("--max-batch-size", batching.max_batch_size,
                 "images per backbone pass, every model");
  app.add_option("--max-queue-delay-ms", batching.max_queue_delay_ms,
                 "longest wait for a batch to fill");
  app.add_option("--max-queue-size", batching.max_queue_size,
                 "requests waiting per model, at most");
  app.add_option("--max-message-bytes", config.limits.max_message_bytes, "largest request message");
  app.add_option("--max-image-pixels", config.limits.max_image_pixels,
                 "largest image, width x height");
  app.add_option("--max-detections", config.limits.max_detections,
                 "most detections a request may ask for");
  app.add_option("--shutdown-delay-s", config.shutdown_delay_s,
                 "on SIGTERM, serve on this long after health turns NOT_SERVING");
  app.add_option("--shutdown-grace-s", config.shutdown_grace_s,
                 "time in-flight calls get on SIGTERM");
  app.add_option("--tls-cert", config.tls.cert, "server certificate chain (PEM): enables TLS");
  app.add_option("--tls-key", config.tls.key, "server private key (PEM)");
  app.add_option("--tls-client-ca", config.tls.client_ca,
                 "CA for client certificates (PEM): mutual TLS");
  app.add_option("--auth-token-file", config.auth.token_file,
                 "bearer tokens, one a line: enables auth");
  app.add_option("--admin-token-file", config.auth.admin_token_file,
                 "admin bearer tokens, one a line");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn, error, off");
  app.add_option("--log-format", config.log_format, "text or json");
  app.add_option("--ports-file", config.ports_file,
                 "write the bound ports here as JSON once listening");
}

// The config: defaults, then the file, then the flags given. The flags are
// parsed twice: first to find the file (and to answer --help), then over
// the file's values, so that a flag given wins over the file.
ServerConfig build_config(int argc, char** argv, CLI::App& app) {
  Flags flags;
  ServerConfig ignored;
  BatchingConfig ignored_batching;
  add_flags(app, flags, ignored, ignored_batching);
  app.parse(argc, argv);
  ServerConfig config =
      flags.config_file.empty() ? ServerConfig{} : read_server_config(flags.config_file);

  CLI::App overlay;
  Flags given;
  BatchingConfig batching;
  add_flags(overlay, given, config, batching);
  overlay.parse(argc, argv);
  if (!given.models.empty()) config.models.clear();
  for (const std::string& path : given.models) {
    config.models.push_back({"", path, config.batching, config.device, config.precision});
  }
  if (config.models.empty()) {
    config.models.push_back(
        {"", "models/shapes-v1", config.batching, config.device, config.precision});
  }
  for (ModelEntry& model : config.models) {
    // --device moves every model; without it a model keeps its own device,
    // or takes the config's.
    if (overlay.count("--device") || model.device.empty()) model.device = config.device;
    if (overlay.count("--precision") || model.precision.empty()) model.precision = config.precision;
    if (overlay.count("--max-batch-size")) model.batching.max_batch_size = batching.max_batch_size;
    if (overlay.count("--max-queue-delay-ms"))
      model.batching.max_queue_delay_ms = batching.max_queue_delay_ms;
    if (overlay.count("--max-queue-size")) model.batching.max_queue_size = batching.max_queue_size;
  }
  if (config.threads == 0) config.threads = usable_cores();
  validate_server_config(config);
  return config;
}

void write_ports_file(const std::filesystem::path& path, const RoiServer& server) {
  const std::filesystem::path partial = path.string() + ".partial";
  {
    std::ofstream file(partial);
    // "metrics": the HTTP port's old name, for readers of earlier files.
    file << nlohmann::json{{"grpc", server.grpc_address()},
                           {"http", server.http_address()},
                           {"metrics", server.http_address()}}
                .dump()
         << "\n";
    if (!file) throw std::runtime_error("cannot write '" + partial.string() + "'");
  }
  std::filesystem::rename(partial, path);  // readers never see half a file
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM and SIGINT stop, SIGHUP reloads: taken by the loop at the end,
  // also when they arrive while the server starts.
  catch_signals({SIGTERM, SIGINT, SIGHUP});

  CLI::App app{"roiserve-server: object detection with swappable RoI heads over gRPC"};
  ServerConfig config;
  try {
    config = build_config(argc, argv, app);
  } catch (const CLI::ParseError& error) {
    // --help is a parse "error" that exits 0; every real one exits 2.
    return app.exit(error) == 0 ? 0 : 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-server: %s\n", error.what());
    return 2;
  }
  configure_logging(config.log_level, config.log_format);
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  // Defence in depth behind the header check: OpenCV's decoders refuse more
  // pixels than the server's limit themselves (read once, before any decode).
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", std::to_string(config.limits.max_image_pixels).c_str(), 1);
  roiserve::detector::keep_freed_memory_for_reuse();
  at::set_num_threads(config.threads);

  RoiServer server(config);
  try {
    server.start();
    if (!config.ports_file.empty()) write_ports_file(config.ports_file, server);
    server.load_models();
  } catch (const std::exception& error) {
    log_event(spdlog::level::err, {{"event", "startup_failed"}, {"error", error.what()}});
    return 1;
  }
  // SIGHUP: the models of the flags and the config file, read again
  // (reloaded from disk, loaded, unloaded).
  while (wait_for_signal() == SIGHUP) {
    log_event(spdlog::level::info, {{"event", "signal"}, {"signal", "SIGHUP"}});
    try {
      CLI::App again;
      server.apply_models(build_config(argc, argv, again).models);
    } catch (const std::exception& error) {
      log_event(spdlog::level::err, {{"event", "reload_failed"}, {"error", error.what()}});
    }
  }
  log_event(spdlog::level::info, {{"event", "stopping"}});
  server.shutdown();
  return 0;
}
