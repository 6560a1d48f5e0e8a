#include "server/model_repository.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <stdexcept>

#include "detector/bundle/model_bundle.h"
#include "detector/model/device.h"
#include "detector/model/precision.h"
#include "server/logging.h"

namespace roiserve::server {
namespace {

// One forward of every stage, every box head and every mask pooler before the
// model serves, so that the first request does not pay for lazy
// initialization (allocator pools, OpenMP threads, kernel dispatch, a GPU's
// context and kernels), and so that a head the device cannot run (a RoI
// operator without a kernel for it) fails the load, not a request.
void warm_up(detector::DetectorImpl& detector) {
  const detector::SharedStages shared = detector.run_shared({at::zeros({3, 64, 64}, at::kByte)});
  for (const std::string& head : detector.box_head_names()) {
    detector::HeadRequest request;
    request.box_head = head;
    request.masks = false;
    detector::StageTimings timings;
    try {
      std::vector<detector::ImageDetections> detections =
          detector.run_box_head(shared, request, timings);
      for (const std::string& pooler : detector.mask_pooler_names()) {
        std::vector<detector::ImageDetections> masked = detections;
        detector.run_mask_head(shared, pooler, masked, timings);
        detector::to_cpu(masked);
      }
      detector::to_cpu(detections);
    } catch (const std::exception& error) {
      if (detector::is_out_of_memory(error)) throw;  // RESOURCE_EXHAUSTED (build)
      throw std::runtime_error("warming up box head '" + head +
                               "' and the mask poolers: " + detector::error_message(error));
    }
  }
}

// What a reload without a precision keeps: what the model was asked to run in.
std::string old_precision(const ServedModel& model) {
  const auto& precision = model.detector().precision();
  return precision ? detector::precision_name(precision->requested) : "";
}

RunnerHooks runner_hooks(const std::string& model, const DeviceLostHandler& on_device_lost) {
  RunnerHooks hooks;
  if (on_device_lost) {
    hooks.on_device_lost = [model, on_device_lost](const std::string& message) {
      on_device_lost(model, message);
    };
  }
  return hooks;
}

}  // namespace

ServedModel::ServedModel(std::string name, std::filesystem::path path, detector::Detector detector,
                         const BatchingConfig& batching, uint64_t max_image_pixels, int threads,
                         ServerMetrics& metrics, const DeviceLostHandler& on_device_lost)
    : name_(std::move(name)),
      path_(std::move(path)),
      detector_(std::move(detector)),
      runner_(detector_, max_image_pixels, runner_hooks(name_, on_device_lost)) {
  SchedulerHooks hooks;
  hooks.run_batch = [this](JobBatch& batch) {
    statistics_.run_batch(batch, [this](JobBatch& jobs) { runner_.run(jobs); });
  };
  hooks.on_queue_depth = [&metrics, model = name_](size_t depth) {
    metrics.set_queue_depth(model, depth);
  };
  hooks.on_batch = [&metrics, model = name_](size_t size) { metrics.observe_batch(model, size); };
  // OpenMP's thread count is per thread: the worker must set its own.
  hooks.on_worker_start = [threads] { at::set_num_threads(threads); };
  scheduler_ = std::make_unique<BatchScheduler>(batching, std::move(hooks));
}

ModelRepository::ModelRepository(const ServerConfig& config, ServerMetrics& metrics,
                                 DeviceLostHandler on_device_lost)
    : config_(config), metrics_(metrics) {
  on_device_lost_ = [this, handler = std::move(on_device_lost)](const std::string& model,
                                                                const std::string& message) {
    metrics_.set_model_ready(model, false);
    if (handler) handler(model, message);
  };
}

grpc::Status ModelRepository::build(const ModelEntry& entry,
                                    std::shared_ptr<ServedModel>& model) const {
  const std::string& device_name = entry.device.empty() ? config_.device : entry.device;
  const std::string& precision_name =
      entry.precision.empty() ? config_.precision : entry.precision;
  detector::Detector detector{nullptr};
  try {
    const c10::Device device = detector::resolve_device(device_name);
    detector = detector::load_bundle(entry.path);
    detector->to(device);  // the weights move once, here
    // ... and are prepared for serving once (BatchNorm folded, channels-last, the precision).
    const detector::PrecisionChoice precision =
        detector->prepare(precision_name.empty() ? detector->config().precision
                                                 : detector::parse_precision(precision_name));
    if (!precision.fallback_reason.empty()) {
      log_event(spdlog::level::warn,
                {{"event", "precision_fallback"},
                 {"path", entry.path.string()},
                 {"requested", detector::precision_name(precision.requested)},
                 {"precision", detector::precision_name(precision.effective)},
                 {"reason", precision.fallback_reason}});
    }
    warm_up(*detector);
  } catch (const std::exception& error) {
    // A device without room for the model is a resource, not the bundle, at fault.
    return {detector::is_out_of_memory(error) ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                              : grpc::StatusCode::INVALID_ARGUMENT,
            "cannot load model bundle '" + entry.path.string() +
                "': " + detector::error_message(error)};
  }
  const std::string name = entry.name.empty() ? detector->config().name : entry.name;
  model = std::make_shared<ServedModel>(name, entry.path, detector, entry.batching,
                                        config_.limits.max_image_pixels, at::get_num_threads(),
                                        metrics_, on_device_lost_);
  return grpc::Status::OK;
}

void ModelRepository::retire(const std::shared_ptr<ServedModel>& model) {
  model->scheduler().stop();
}

void ModelRepository::load_all() {
  for (const ModelEntry& entry : config_.models) {
    std::shared_ptr<ServedModel> loaded;
    const grpc::Status status = load(entry, loaded);
    if (!status.ok()) {
      throw std::runtime_error(status.error_code() == grpc::StatusCode::ALREADY_EXISTS
                                   ? status.error_message() + "; give one a name in the config"
                                   : status.error_message());
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  default_name_ = config_.default_model.empty() ? order_.front() : config_.default_model;
  if (!models_.count(default_name_)) {
    throw std::runtime_error("the default model '" + default_name_ + "' is not configured");
  }
  loaded_ = true;
}

grpc::Status ModelRepository::load(const ModelEntry& entry, std::shared_ptr<ServedModel>& loaded) {
  std::lock_guard<std::mutex> admin(admin_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!entry.name.empty() && models_.count(entry.name)) {
      return {grpc::StatusCode::ALREADY_EXISTS, "a model named '" + entry.name + "' is loaded"};
    }
  }
  std::shared_ptr<ServedModel> model;
  const grpc::Status status = build(entry, model);
  if (!status.ok()) return status;
  std::lock_guard<std::mutex> lock(mutex_);
  if (models_.count(model->name())) {
    return {grpc::StatusCode::ALREADY_EXISTS, "a model named '" + model->name() + "' is loaded (" +
                                                  models_.at(model->name())->path().string() + ")"};
  }
  models_[model->name()] = model;
  order_.push_back(model->name());
  metrics_.set_model_ready(model->name(), true);
  loaded = model;
  return grpc::Status::OK;
}

grpc::Status ModelRepository::reload(const std::string& name, const std::filesystem::path& path,
                                     const std::optional<BatchingConfig>& batching,
                                     const std::string& device, const std::string& precision,
                                     std::shared_ptr<ServedModel>& loaded) {
  std::lock_guard<std::mutex> admin(admin_mutex_);
  std::shared_ptr<ServedModel> old;
  grpc::Status status = find(name, old);
  if (!status.ok()) return status;
  const ModelEntry entry{old->name(), path.empty() ? old->path() : path,
                         batching.value_or(old->scheduler().config()),
                         device.empty() ? old->device().str() : device,
                         precision.empty() ? old_precision(*old) : precision};
  std::shared_ptr<ServedModel> model;
  status = build(entry, model);
  if (!status.ok()) return status;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    models_[model->name()] = model;
  }
  retire(old);
  loaded = model;
  return grpc::Status::OK;
}

grpc::Status ModelRepository::unload(const std::string& name) {
  std::lock_guard<std::mutex> admin(admin_mutex_);
  std::shared_ptr<ServedModel> model;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = models_.find(name);
    if (found == models_.end()) {
      return {grpc::StatusCode::NOT_FOUND, "no model named '" + name + "' is loaded"};
    }
    if (name == default_name_) {
      return {grpc::StatusCode::FAILED_PRECONDITION,
              "'" + name + "' is the default model and cannot be unloaded"};
    }
    model = found->second;
    models_.erase(found);
    order_.erase(std::find(order_.begin(), order_.end(), name));
  }
  retire(model);
  metrics_.set_model_ready(name, false);
  return grpc::Status::OK;
}

grpc::Status ModelRepository::find(const std::string& name,
                                   std::shared_ptr<ServedModel>& model) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!loaded_) return {grpc::StatusCode::UNAVAILABLE, "the server is loading its models"};
  const auto found = models_.find(name.empty() ? default_name_ : name);
  if (found == models_.end()) {
    std::string names;
    for (const std::string& known : order_) names += (names.empty() ? "" : ", ") + known;
    return {grpc::StatusCode::NOT_FOUND, "no model named '" + name + "' (loaded: " + names + ")"};
  }
  model = found->second;
  return grpc::Status::OK;
}

std::vector<std::shared_ptr<ServedModel>> ModelRepository::models() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::shared_ptr<ServedModel>> models;
  for (const std::string& name : order_) models.push_back(models_.at(name));
  return models;
}

std::string ModelRepository::default_name() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return default_name_;
}

void ModelRepository::stop_all() {
  std::lock_guard<std::mutex> admin(admin_mutex_);
  for (const auto& model : models()) {
    retire(model);
    metrics_.set_model_ready(model->name(), false);
  }
}

}  // namespace roiserve::server
