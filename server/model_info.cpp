#include "server/model_info.h"

#include <algorithm>

namespace roiserve::server {

grpc::Status fill_model_list(const ModelRepository& models, v1::ListModelsResponse* list) {
  std::shared_ptr<ServedModel> default_model;
  const grpc::Status status = models.find("", default_model);
  if (!status.ok()) return status;
  for (const auto& model : models.models()) {
    v1::ModelSummary* summary = list->add_models();
    summary->set_name(model->name());
    summary->set_description(model->config().description);
    summary->set_is_default(model == default_model);
    summary->set_ready(true);
  }
  return status;
}

void fill_model_info(ServedModel& model, const LimitsConfig& limits, v1::ModelInfo* info) {
  const detector::ModelConfig& config = model.config();
  info->set_name(model.name());
  info->set_description(config.description);
  info->set_format_version(static_cast<uint32_t>(detector::ModelConfig::kFormatVersion));
  for (size_t i = 0; i < config.class_names.size(); ++i) {
    v1::ModelClass* model_class = info->add_classes();
    model_class->set_id(static_cast<uint32_t>(i + 1));
    model_class->set_name(config.class_names[i]);
  }
  for (const std::string& head : model.detector().box_head_names()) info->add_heads(head);
  for (const std::string& pooler : model.detector().mask_pooler_names()) info->add_mask_poolers(pooler);

  v1::InputRules* input = info->mutable_input();
  for (double mean : config.preprocess.mean) input->add_mean(static_cast<float>(mean));
  for (double std : config.preprocess.std) input->add_std(static_cast<float>(std));
  input->set_resize(config.preprocess.resize);
  input->set_min_size(static_cast<uint32_t>(config.preprocess.min_size));
  input->set_max_size(static_cast<uint32_t>(config.preprocess.max_size));
  input->set_size_divisible(static_cast<uint32_t>(config.preprocess.size_divisible));
  input->set_max_image_pixels(limits.max_image_pixels);
  input->set_max_message_bytes(limits.max_message_bytes);
  for (const char* encoding : {"jpeg", "png", "bmp", "webp", "tiff"}) input->add_encodings(encoding);

  v1::Defaults* defaults = info->mutable_defaults();
  defaults->set_head(config.roi_heads.default_box_head);
  const std::vector<std::string> poolers = model.detector().mask_pooler_names();
  defaults->set_mask_pooler(poolers.empty() ? "" : poolers.front());
  defaults->set_score_threshold(static_cast<float>(config.postprocess.score_threshold));
  defaults->set_nms_iou(static_cast<float>(config.postprocess.nms_iou));
  defaults->set_max_detections(
      static_cast<uint32_t>(std::min(config.postprocess.max_detections, limits.max_detections)));
  defaults->set_max_detections_limit(static_cast<uint32_t>(limits.max_detections));

  const BatchingConfig& batching = model.scheduler().config();
  info->mutable_batching()->set_max_batch_size(static_cast<uint32_t>(batching.max_batch_size));
  info->mutable_batching()->set_max_queue_delay_ms(batching.max_queue_delay_ms);
  info->mutable_batching()->set_max_queue_size(static_cast<uint32_t>(batching.max_queue_size));
  info->set_device(model.device().str());
  if (const auto& precision = model.detector().precision()) {
    info->set_precision(detector::precision_name(precision->effective));
    info->set_requested_precision(detector::precision_name(precision->requested));
  }
}

}  // namespace roiserve::server
