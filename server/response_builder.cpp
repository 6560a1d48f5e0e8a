#include "server/response_builder.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>

#include "detector/eval/agreement.h"
#include "detector/eval/rle.h"
#include "server/clock.h"
#include "tools/detector_io/detection_results.h"

namespace roiserve::server {
namespace {

std::string mask_png(const eval::Rle& rle) {
  std::vector<uint8_t> pixels = eval::decode(rle);
  for (uint8_t& pixel : pixels) pixel = pixel ? 255 : 0;
  const cv::Mat mask(static_cast<int>(rle.height), static_cast<int>(rle.width), CV_8UC1,
                     pixels.data());
  std::vector<uint8_t> png;
  if (!cv::imencode(".png", mask, png, {cv::IMWRITE_PNG_BILEVEL, 1})) {
    throw std::runtime_error("a mask could not be encoded as PNG");
  }
  return {png.begin(), png.end()};
}


}  // namespace

void add_detections(const detector::ImageDetections& detections, const detector::ModelConfig& model,
                    MaskFormat mask_format,
                    google::protobuf::RepeatedPtrField<v1::Detection>* output) {
  const tools::ImageRecord record = tools::make_image_record("", detections, {}, model);
  for (const tools::DetectionRecord& source : record.detections) {
    v1::Detection* detection = output->Add();
    v1::Box* box = detection->mutable_box();
    box->set_x1(static_cast<float>(source.bbox[0]));
    box->set_y1(static_cast<float>(source.bbox[1]));
    box->set_x2(static_cast<float>(source.bbox[2]));
    box->set_y2(static_cast<float>(source.bbox[3]));
    detection->set_class_id(static_cast<uint32_t>(source.category_id));
    detection->set_class_name(source.category);
    detection->set_score(static_cast<float>(source.score));
    if (!source.segmentation || mask_format == MaskFormat::kNone) continue;
    const eval::Rle& rle = *source.segmentation;
    if (mask_format == MaskFormat::kPng) {
      detection->mutable_mask()->set_png(mask_png(rle));
    } else {
      v1::CocoRle* coco = detection->mutable_mask()->mutable_coco_rle();
      coco->set_height(static_cast<uint32_t>(rle.height));
      coco->set_width(static_cast<uint32_t>(rle.width));
      coco->set_counts(eval::to_compressed_string(rle));
    }
  }
}

void add_latencies(const detector::StageTimings& timings,
                   google::protobuf::RepeatedPtrField<v1::StageLatency>* output) {
  for (const auto& [stage, milliseconds] : timings.entries()) {
    v1::StageLatency* latency = output->Add();
    latency->set_stage(stage);
    latency->set_milliseconds(milliseconds);
  }
}

void fill_detect_response(const JobOutcome& outcome, const detector::HeadRequest& variant,
                          const detector::ModelConfig& model, MaskFormat mask_format,
                          v1::DetectResponse* response) {
  const VariantOutcome& result = outcome.variants.at(0);
  response->set_head(variant.box_head);
  response->set_mask_pooler(variant.masks ? variant.mask_pooler : "");
  response->set_image_width(static_cast<uint32_t>(result.detections.image_size.width));
  response->set_image_height(static_cast<uint32_t>(result.detections.image_size.height));
  add_detections(result.detections, model, mask_format, response->mutable_detections());
  add_latencies(outcome.shared_timings, response->mutable_latency());
  add_latencies(result.timings, response->mutable_latency());
  response->set_batch_size(static_cast<uint32_t>(outcome.batch_size));
  response->set_num_proposals(static_cast<uint32_t>(result.num_proposals));
  response->set_proposals_fingerprint(result.proposals_fingerprint);
}

void fill_compare_response(const JobOutcome& outcome, const ResolvedOptions& options,
                           const AgreementOptions& agreement, const detector::ModelConfig& model,
                           v1::CompareResponse* response) {
  const detector::ImageSize size = outcome.variants.at(0).detections.image_size;
  response->set_image_width(static_cast<uint32_t>(size.width));
  response->set_image_height(static_cast<uint32_t>(size.height));
  response->set_batch_size(static_cast<uint32_t>(outcome.batch_size));
  add_latencies(outcome.shared_timings, response->mutable_shared_latency());
  for (size_t i = 0; i < outcome.variants.size(); ++i) {
    const VariantOutcome& result = outcome.variants[i];
    v1::VariantResult* output = response->add_results();
    output->mutable_variant()->set_head(options.variants[i].box_head);
    output->mutable_variant()->set_mask_pooler(options.variants[i].mask_pooler);
    const Clock::time_point encode_start = Clock::now();
    add_detections(result.detections, model, options.mask_format, output->mutable_detections());
    detector::StageTimings timings = result.timings;
    timings.add("encode", milliseconds_since(encode_start));
    add_latencies(timings, output->mutable_latency());
    output->set_num_proposals(static_cast<uint32_t>(result.num_proposals));
    output->set_proposals_fingerprint(result.proposals_fingerprint);
  }
  for (size_t a = 0; a < outcome.variants.size(); ++a) {
    for (size_t b = a + 1; b < outcome.variants.size(); ++b) {
      const detector::ImageDetections& first = outcome.variants[a].detections;
      const detector::ImageDetections& second = outcome.variants[b].detections;
      const eval::Agreement stats = eval::compare_detections(
          {first.boxes, first.scores, first.labels}, {second.boxes, second.scores, second.labels},
          agreement.match_iou, agreement.min_score);
      v1::Agreement* output = response->add_agreements();
      output->set_a(static_cast<uint32_t>(a));
      output->set_b(static_cast<uint32_t>(b));
      output->set_matched(static_cast<uint32_t>(stats.matched));
      output->set_mean_iou(stats.mean_iou());
      output->set_mean_score_delta(stats.mean_score_delta());
      output->set_only_a(static_cast<uint32_t>(stats.only_a));
      output->set_only_b(static_cast<uint32_t>(stats.only_b));
    }
  }
}

}  // namespace roiserve::server
