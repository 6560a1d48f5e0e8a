#include "server/metrics.h"

#include <prometheus/text_serializer.h>

namespace roiserve::server {

prometheus::Histogram::BucketBoundaries ServerMetrics::latency_buckets() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20};
}

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
