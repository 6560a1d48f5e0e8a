#pragma once
// The models a server serves, by name: each a loaded detector with its own
// batch scheduler and runner. Models are shared_ptrs, so a request holds its
// model for as long as it runs, whatever happens to the repository meanwhile.
#include <c10/core/Device.h>
#include <grpcpp/support/status.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "detector/model/detector.h"
#include "server/batch_runner.h"
#include "server/batch_scheduler.h"
#include "server/metrics.h"
#include "server/server_config.h"

namespace roiserve::server {

class ServedModel {
 public:
  // Starts the model's batching worker; `threads` is its intra-op thread count.
  ServedModel(std::string name, detector::Detector detector, const BatchingConfig& batching,
              c10::Device device, uint64_t max_image_pixels, int threads, ServerMetrics& metrics);

  const std::string& name() const { return name_; }
  const detector::DetectorImpl& detector() const { return *detector_; }
  const detector::ModelConfig& config() const { return detector_->config(); }
  BatchScheduler& scheduler() { return *scheduler_; }
  c10::Device device() const { return device_; }

 private:
  std::string name_;
  detector::Detector detector_;
  c10::Device device_;
  BatchRunner runner_;
  // Last: its workers stop before the runner they call goes away.
  std::unique_ptr<BatchScheduler> scheduler_;
};

class ModelRepository {
 public:
  ModelRepository(const ServerConfig& config, ServerMetrics& metrics);

  // Loads every configured model. Throws std::runtime_error naming the bundle
  // that failed and why.
  void load_all();

  // The model of that name (empty: the default): NOT_FOUND for an unknown
  // name, UNAVAILABLE while models are loading.
  grpc::Status find(const std::string& name, std::shared_ptr<ServedModel>& model) const;
  std::vector<std::shared_ptr<ServedModel>> models() const;
  std::string default_name() const;

  // Refuses new work and finishes what is queued.
  void stop_all();

 private:
  const ServerConfig& config_;
  ServerMetrics& metrics_;
  mutable std::mutex mutex_;
  bool loaded_ = false;
  std::map<std::string, std::shared_ptr<ServedModel>> models_;
  std::vector<std::string> order_;  // as configured
  std::string default_name_;
};

}  // namespace roiserve::server
