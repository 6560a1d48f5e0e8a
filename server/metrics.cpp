#include "server/metrics.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <stdexcept>

namespace roiserve::server {
namespace {

// 0.5 ms .. 20 s: per-stage times on a CPU start below a millisecond.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20};
}

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("roiserve_requests_total")
                    .Help("Requests answered, by method, model and gRPC status code")
                    .Register(*registry_)),
      request_duration_(prometheus::BuildHistogram()
                            .Name("roiserve_request_duration_seconds")
                            .Help("Time from receipt of a request to its response")
                            .Register(*registry_)),
      stage_duration_(prometheus::BuildHistogram()
                          .Name("roiserve_stage_duration_seconds")
                          .Help("Time of each stage of a request (queue_wait, decode, backbone, ...)")
                          .Register(*registry_)),
      abandoned_(prometheus::BuildCounter()
                     .Name("roiserve_abandoned_requests_total")
                     .Help("Requests past their deadline or cancelled before their work ended, by "
                           "the first stage that did not run for them (encode: all ran, too late)")
                     .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("roiserve_queue_depth")
                       .Help("Requests waiting in a model's batching queue")
                       .Register(*registry_)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("roiserve_batch_size")
                      .Help("Images per backbone pass")
                      .Register(*registry_)),
      inflight_(prometheus::BuildGauge()
                    .Name("roiserve_inflight_requests")
                    .Help("Calls being worked on, by method")
                    .Register(*registry_)),
      model_ready_(prometheus::BuildGauge()
                       .Name("roiserve_model_ready")
                       .Help("1 while the model is loaded and serving")
                       .Register(*registry_)) {}

ServerMetrics::~ServerMetrics() {
  if (!http_) return;
  http_->stop();
  http_thread_.join();
}

std::string ServerMetrics::expose(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  try {
    port = colon == std::string::npos ? -1 : std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) {
    throw std::runtime_error("the metrics address must be HOST:PORT, got '" + address + "'");
  }
  const std::string host = address.substr(0, colon);
  http_ = std::make_unique<httplib::Server>();
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(scrape(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const int bound = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    http_.reset();
    throw std::runtime_error("cannot serve metrics on " + address + " (address in use?)");
  }
  http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  return host + ":" + std::to_string(bound);
}

void ServerMetrics::count_request(const std::string& method, const std::string& model,
                                  const std::string& code, double seconds) {
  requests_.Add({{"method", method}, {"model", model}, {"code", code}}).Increment();
  request_duration_.Add({{"method", method}, {"model", model}}, latency_buckets()).Observe(seconds);
}

void ServerMetrics::observe_stages(const std::string& model, const detector::StageTimings& timings) {
  for (const auto& [stage, milliseconds] : timings.entries()) {
    stage_duration_.Add({{"model", model}, {"stage", stage}}, latency_buckets())
        .Observe(milliseconds / 1000.0);
  }
}

void ServerMetrics::count_abandoned(const std::string& model, const std::string& skipped_stage) {
  abandoned_.Add({{"model", model}, {"skipped_stage", skipped_stage}}).Increment();
}

void ServerMetrics::set_queue_depth(const std::string& model, size_t depth) {
  queue_depth_.Add({{"model", model}}).Set(static_cast<double>(depth));
}

void ServerMetrics::observe_batch(const std::string& model, size_t size) {
  batch_size_.Add({{"model", model}}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})
      .Observe(static_cast<double>(size));
}

void ServerMetrics::set_model_ready(const std::string& model, bool ready) {
  model_ready_.Add({{"model", model}}).Set(ready ? 1 : 0);
}

prometheus::Gauge& ServerMetrics::inflight(const std::string& method) {
  return inflight_.Add({{"method", method}});
}

std::string ServerMetrics::scrape() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace roiserve::server
