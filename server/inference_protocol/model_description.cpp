#include "server/inference_protocol/model_description.h"

#include <map>

#include "server/inference_protocol/tensor_mapping.h"

namespace roiserve::server::inference_protocol {
namespace {

inference::DataType data_type(const std::string& datatype) {
  static const std::map<std::string, inference::DataType> kTypes = {
      {"BYTES", inference::TYPE_STRING}, {"UINT8", inference::TYPE_UINT8},
      {"FP32", inference::TYPE_FP32},    {"INT64", inference::TYPE_INT64}};
  return kTypes.at(datatype);
}

void fill_duration(const Duration& duration, inference::StatisticDuration* output) {
  output->set_count(duration.count);
  output->set_ns(duration.ns);
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}

void add_model_statistics(const ServedModel& model, inference::ModelStatistics* statistics) {
  const ModelStatisticsSnapshot snapshot = model.statistics().snapshot();
  statistics->set_name(model.name());
  statistics->set_version(kModelVersion);
  statistics->set_last_inference(snapshot.last_inference_ms);
  statistics->set_inference_count(snapshot.inference_count);
  statistics->set_execution_count(snapshot.execution_count);
  auto* inference_stats = statistics->mutable_inference_stats();
  fill_duration(snapshot.success, inference_stats->mutable_success());
  fill_duration(snapshot.fail, inference_stats->mutable_fail());
  fill_duration(snapshot.queue, inference_stats->mutable_queue());
  fill_duration(snapshot.compute_input, inference_stats->mutable_compute_input());
  fill_duration(snapshot.compute_infer, inference_stats->mutable_compute_infer());
  fill_duration(snapshot.compute_output, inference_stats->mutable_compute_output());
  for (const auto& [size, batches] : snapshot.batches) {
    auto* batch = statistics->add_batch_stats();
    batch->set_batch_size(size);
    batch->mutable_compute_infer()->set_count(batches.count);
    batch->mutable_compute_infer()->set_ns(batches.compute_ns);
  }
}

}  // namespace

grpc::Status check_version(const std::string& model, const std::string& version) {
  if (version.empty() || version == kModelVersion) return grpc::Status::OK;
  return {grpc::StatusCode::NOT_FOUND,
          "model '" + model + "' has no version '" + version + "' (it has version 1)"};
}

void fill_server_metadata(inference::ServerMetadataResponse* response) {
  response->set_name("roiserve");
  response->set_version(ROISERVE_VERSION);
  for (const char* extension : {"binary_tensor_data", "model_repository", "statistics"}) {
    response->add_extensions(extension);
  }
}

void fill_model_metadata(const ServedModel& model, inference::ModelMetadataResponse* response) {
  response->set_name(model.name());
  response->add_versions(kModelVersion);
  response->set_platform(kPlatform);
  for (const TensorSpec& spec : input_tensors()) {
    auto* tensor = response->add_inputs();
    tensor->set_name(spec.name);
    tensor->set_datatype(spec.datatype);
    for (int64_t dim : spec.shape) tensor->add_shape(dim);
  }
  const bool masks = !model.detector().mask_pooler_names().empty();
  for (const TensorSpec& spec : output_tensors()) {
    if (!masks && std::string(spec.name) == "MASKS") continue;
    auto* tensor = response->add_outputs();
    tensor->set_name(spec.name);
    tensor->set_datatype(spec.datatype);
    for (int64_t dim : spec.shape) tensor->add_shape(dim);
  }
}

void fill_model_config(ServedModel& model, inference::ModelConfig* config) {
  config->set_name(model.name());
  config->set_platform(kPlatform);
  config->set_backend(kPlatform);
  // The tensors carry no batch dimension of Triton's kind (IMAGE's and
  // RAW's first dimension is a list of images, the outputs' the detections
  // of all of them); the server batches images on its own (dynamic_batching).
  config->set_max_batch_size(0);
  for (const TensorSpec& spec : input_tensors()) {
    auto* input = config->add_input();
    input->set_name(spec.name);
    input->set_data_type(data_type(spec.datatype));
    if (std::string(spec.name) == "RAW") input->set_format(inference::ModelInput::FORMAT_NHWC);
    for (int64_t dim : spec.shape) input->add_dims(dim);
    input->set_optional(true);  // one of the two
  }
  inference::ModelMetadataResponse metadata;
  fill_model_metadata(model, &metadata);
  for (const auto& tensor : metadata.outputs()) {
    auto* output = config->add_output();
    output->set_name(tensor.name());
    output->set_data_type(data_type(tensor.datatype()));
    for (int64_t dim : tensor.shape()) output->add_dims(dim);
  }
  const BatchingConfig& batching = model.scheduler().config();
  auto* dynamic = config->mutable_dynamic_batching();
  dynamic->set_max_queue_delay_microseconds(static_cast<uint64_t>(batching.max_queue_delay_ms * 1000));
  dynamic->mutable_default_queue_policy()->set_max_queue_size(
      static_cast<uint32_t>(batching.max_queue_size));
  auto& parameters = *config->mutable_parameters();
  // The batch size of the server's own batcher, which max_batch_size cannot carry.
  parameters["batcher_max_batch_size"].set_string_value(std::to_string(batching.max_batch_size));
  parameters["heads"].set_string_value(joined(model.detector().box_head_names()));
  parameters["mask_poolers"].set_string_value(joined(model.detector().mask_pooler_names()));
  parameters["default_head"].set_string_value(model.config().roi_heads.default_box_head);
  parameters["classes"].set_string_value(joined(model.config().class_names));
  parameters["device"].set_string_value(model.device().str());
}

grpc::Status find_model(ModelRepository& models, const std::string& name,
                        const std::string& version, std::shared_ptr<ServedModel>& model) {
  const grpc::Status status = models.find(name, model);
  return status.ok() ? check_version(name, version) : status;
}

bool model_ready(ModelRepository& models, const std::string& name, const std::string& version) {
  std::shared_ptr<ServedModel> model;
  return find_model(models, name, version, model).ok();
}

grpc::Status fill_model_statistics(ModelRepository& models, const std::string& name,
                                   const std::string& version,
                                   inference::ModelStatisticsResponse* response) {
  if (name.empty()) {
    for (const auto& model : models.models()) add_model_statistics(*model, response->add_model_stats());
    return grpc::Status::OK;
  }
  std::shared_ptr<ServedModel> model;
  const grpc::Status status = find_model(models, name, version, model);
  if (status.ok()) add_model_statistics(*model, response->add_model_stats());
  return status;
}

}  // namespace roiserve::server::inference_protocol
