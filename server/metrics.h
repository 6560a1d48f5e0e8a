#pragma once
// Prometheus metrics of the server, kept by prometheus-cpp; the HTTP frontend
// serves scrape() at /metrics and adds its own per-route families:
//   roiserve_requests_total{method, model, code}          counter
//   roiserve_request_duration_seconds{method, model}      histogram, receipt to response
//   roiserve_stage_duration_seconds{model, stage}         histogram, per stage
//   roiserve_abandoned_requests_total{model, skipped_stage}  counter, see below
//   roiserve_queue_depth{model}                           gauge
//   roiserve_batch_size{model}                            histogram
//   roiserve_inflight_requests{method}                    gauge
//   roiserve_model_ready{model}                           gauge, 1 while it serves
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "detector/model/stage_timings.h"

namespace roiserve::server {

class ServerMetrics {
 public:
  ServerMetrics();

  // 0.5 ms .. 20 s: per-stage times on a CPU start below a millisecond.
  static prometheus::Histogram::BucketBoundaries latency_buckets();
  // Where other parts register families of their own.
  prometheus::Registry& registry() { return *registry_; }

  void count_request(const std::string& method, const std::string& model, const std::string& code,
                     double seconds);
  void observe_stages(const std::string& model, const detector::StageTimings& timings);
  // A request whose deadline passed or that was cancelled before its work
  // ended: the work stopped before `skipped_stage` ("encode": it all ran,
  // and only the answer was late).
  void count_abandoned(const std::string& model, const std::string& skipped_stage);
  void set_queue_depth(const std::string& model, size_t depth);
  void observe_batch(const std::string& model, size_t size);
  void set_model_ready(const std::string& model, bool ready);
  prometheus::Gauge& inflight(const std::string& method);

  // The text exposition, as /metrics serves it.
  std::string scrape() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Histogram>& stage_duration_;
  prometheus::Family<prometheus::Counter>& abandoned_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Gauge>& inflight_;
  prometheus::Family<prometheus::Gauge>& model_ready_;
};

// Counts a call as in flight for its lifetime.
class InflightScope {
 public:
  explicit InflightScope(prometheus::Gauge& gauge) : gauge_(gauge) { gauge_.Increment(); }
  ~InflightScope() { gauge_.Decrement(); }
  InflightScope(const InflightScope&) = delete;
  InflightScope& operator=(const InflightScope&) = delete;

 private:
  prometheus::Gauge& gauge_;
};

}  // namespace roiserve::server
