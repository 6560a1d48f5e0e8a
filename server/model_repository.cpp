#include "server/model_repository.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <stdexcept>

#include "detector/bundle/model_bundle.h"

namespace roiserve::server {
namespace {

// One forward of every stage before the model serves, so that the first
// request does not pay for lazy initialization (allocator pools, OpenMP
// threads, kernel dispatch).
void warm_up(detector::DetectorImpl& detector, c10::Device device) {
  detector::HeadRequest request;
  request.masks = !detector.mask_pooler_names().empty();
  detector::StageTimings timings;
  detector.detect({at::zeros({3, 64, 64}, at::TensorOptions(at::kByte).device(device))}, request,
                  timings);
}

}  // namespace

ServedModel::ServedModel(std::string name, detector::Detector detector,
                         const BatchingConfig& batching, c10::Device device,
                         uint64_t max_image_pixels, int threads, ServerMetrics& metrics)
    : name_(std::move(name)),
      detector_(std::move(detector)),
      device_(device),
      runner_(detector_, device, max_image_pixels) {
  SchedulerHooks hooks;
  hooks.run_batch = [this](JobBatch& batch) { runner_.run(batch); };
  hooks.on_queue_depth = [&metrics, model = name_](size_t depth) {
    metrics.set_queue_depth(model, depth);
  };
  hooks.on_batch = [&metrics, model = name_](size_t size) { metrics.observe_batch(model, size); };
  // OpenMP's thread count is per thread: the worker must set its own.
  hooks.on_worker_start = [threads] { at::set_num_threads(threads); };
  scheduler_ = std::make_unique<BatchScheduler>(batching, std::move(hooks));
}

ModelRepository::ModelRepository(const ServerConfig& config, ServerMetrics& metrics)
    : config_(config), metrics_(metrics) {}

void ModelRepository::load_all() {
  const c10::Device device(config_.device);
  for (const ModelEntry& entry : config_.models) {
    detector::Detector detector{nullptr};
    try {
      detector = detector::load_bundle(entry.path);
    } catch (const std::exception& error) {
      throw std::runtime_error("cannot load model bundle '" + entry.path.string() +
                               "': " + error.what());
    }
    detector->to(device);
    warm_up(*detector, device);
    const std::string name = entry.name.empty() ? detector->config().name : entry.name;
    auto model = std::make_shared<ServedModel>(name, detector, entry.batching, device,
                                               config_.limits.max_image_pixels,
                                               at::get_num_threads(), metrics_);
    std::lock_guard<std::mutex> lock(mutex_);
    if (models_.count(name)) {
      throw std::runtime_error("two models are named '" + name + "' (" + entry.path.string() +
                               "); give one a name in the config");
    }
    models_[name] = model;
    order_.push_back(name);
    metrics_.set_model_ready(name, true);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  default_name_ = config_.default_model.empty() ? order_.front() : config_.default_model;
  if (!models_.count(default_name_)) {
    throw std::runtime_error("the default model '" + default_name_ + "' is not configured");
  }
  loaded_ = true;
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
  for (const auto& model : models()) {
    model->scheduler().stop();
    metrics_.set_model_ready(model->name(), false);
  }
}

}  // namespace roiserve::server
