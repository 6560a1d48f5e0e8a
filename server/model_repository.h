#pragma once
// The models a server serves, by name: each a loaded detector with its own
// batch scheduler and runner, on its own device (ModelEntry::device, else the
// server's). Models are shared_ptrs, so a request holds its model for as long
// as it runs, whatever happens to the repository meanwhile.
#include <c10/core/Device.h>
#include <grpcpp/support/status.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "detector/model/detector.h"
#include "server/batch_runner.h"
#include "server/batch_scheduler.h"
#include "server/metrics.h"
#include "server/model_statistics.h"
#include "server/server_config.h"

namespace roiserve::server {

// Called on a model's worker when the model's device is found lost.
using DeviceLostHandler = std::function<void(const std::string& model, const std::string& message)>;

class ServedModel {
 public:
  // Starts the model's batching worker; `threads` is its intra-op thread
  // count. The detector is on its device already (detector.device()).
  ServedModel(std::string name, std::filesystem::path path, detector::Detector detector,
              const BatchingConfig& batching, uint64_t max_image_pixels, int threads,
              ServerMetrics& metrics, const DeviceLostHandler& on_device_lost);

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }
  const detector::DetectorImpl& detector() const { return *detector_; }
  const detector::ModelConfig& config() const { return detector_->config(); }
  BatchScheduler& scheduler() { return *scheduler_; }
  c10::Device device() const { return detector_->device(); }
  const ModelStatistics& statistics() const { return statistics_; }

 private:
  std::string name_;
  std::filesystem::path path_;
  detector::Detector detector_;
  BatchRunner runner_;
  ModelStatistics statistics_;
  // Last: its workers stop before the runner they call goes away.
  std::unique_ptr<BatchScheduler> scheduler_;
};

class ModelRepository {
 public:
  // on_device_lost: what the server does when a model's device is lost
  // (turn NOT_SERVING); the repository marks the model not ready first.
  ModelRepository(const ServerConfig& config, ServerMetrics& metrics,
                  DeviceLostHandler on_device_lost = {});

  // Loads every configured model. Throws std::runtime_error naming the bundle
  // that failed and why.
  void load_all();

  // Loads a bundle under entry.name (empty: the bundle's own name):
  // ALREADY_EXISTS when the name is taken, INVALID_ARGUMENT when the bundle
  // does not load. The model serves once this returns OK.
  grpc::Status load(const ModelEntry& entry, std::shared_ptr<ServedModel>& loaded);
  // Loads the model's bundle again (from `path` when given, with `batching`,
  // on `device` and in `precision` when given, else as before) while the old
  // one serves, switches, then lets the old one finish what it admitted.
  grpc::Status reload(const std::string& name, const std::filesystem::path& path,
                      const std::optional<BatchingConfig>& batching, const std::string& device,
                      const std::string& precision, std::shared_ptr<ServedModel>& loaded);
  // Stops admitting for the model, finishes what it admitted, unloads it.
  // FAILED_PRECONDITION for the default model.
  grpc::Status unload(const std::string& name);

  // The model of that name (empty: the default): NOT_FOUND for an unknown
  // name, UNAVAILABLE while models are loading.
  grpc::Status find(const std::string& name, std::shared_ptr<ServedModel>& model) const;
  std::vector<std::shared_ptr<ServedModel>> models() const;
  std::string default_name() const;

  // Refuses new work and finishes what is queued.
  void stop_all();

 private:
  // Reads, builds and warms up a model, outside every lock.
  grpc::Status build(const ModelEntry& entry, std::shared_ptr<ServedModel>& model) const;
  // Finishes what a model that no longer serves had admitted.
  void retire(const std::shared_ptr<ServedModel>& model);

  const ServerConfig& config_;
  ServerMetrics& metrics_;
  DeviceLostHandler on_device_lost_;
  // One load, reload or unload at a time; requests never wait for it.
  std::mutex admin_mutex_;
  mutable std::mutex mutex_;
  bool loaded_ = false;
  std::map<std::string, std::shared_ptr<ServedModel>> models_;
  std::vector<std::string> order_;  // in the order they were loaded
  std::string default_name_;
};

}  // namespace roiserve::server
