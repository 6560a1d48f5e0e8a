#include "server/request_options.h"

#include <cmath>
#include <set>
#include <stdexcept>

namespace roiserve::server {
namespace {

void check_fraction(const char* name, float value) {
  if (!(value >= 0.0f && value <= 1.0f)) {
    throw std::invalid_argument(std::string(name) + " must be in [0, 1] (got " +
                                std::to_string(value) + ")");
  }
}

// The variant's head and pooler with the model's defaults filled in.
detector::HeadRequest resolve_variant(const std::string& head, const std::string& mask_pooler,
                                      bool masks, const detector::DetectorImpl& model) {
  detector::HeadRequest request;
  request.box_head = head.empty() ? model.config().roi_heads.default_box_head : head;
  request.mask_pooler = mask_pooler;
  request.masks = masks;
  // Names the unknown head or pooler and lists those the model has.
  detector::HeadRequest named;
  named.box_head = request.box_head;
  named.mask_pooler = mask_pooler;
  named.masks = !mask_pooler.empty();
  model.check_request(named);
  if (masks && request.mask_pooler.empty()) request.mask_pooler = model.mask_pooler_names().front();
  if (!masks) request.mask_pooler.clear();
  return request;
}

MaskFormat resolve_mask_format(v1::MaskFormat format, const detector::DetectorImpl& model) {
  const bool has_masks = !model.mask_pooler_names().empty();
  switch (format) {
    case v1::MASK_FORMAT_UNSPECIFIED:
      return has_masks ? MaskFormat::kCocoRle : MaskFormat::kNone;
    case v1::MASK_FORMAT_NONE:
      return MaskFormat::kNone;
    case v1::MASK_FORMAT_COCO_RLE:
    case v1::MASK_FORMAT_PNG:
      if (!has_masks) {
        throw std::invalid_argument("model '" + model.config().name +
                                    "' has no mask branch: ask for mask_format NONE");
      }
      return format == v1::MASK_FORMAT_PNG ? MaskFormat::kPng : MaskFormat::kCocoRle;
    default:
      throw std::invalid_argument("unknown mask_format " + std::to_string(format));
  }
}

// The options every variant shares: thresholds and the mask format.
ResolvedOptions shared_options(const v1::DetectOptions& options,
                               const detector::DetectorImpl& model, const LimitsConfig& limits,
                               detector::HeadRequest& common) {
  ResolvedOptions resolved;
  resolved.mask_format = resolve_mask_format(options.mask_format(), model);
  if (options.has_score_threshold()) {
    check_fraction("score_threshold", options.score_threshold());
    common.score_threshold = options.score_threshold();
  }
  if (options.has_nms_iou()) {
    check_fraction("nms_iou", options.nms_iou());
    common.nms_iou = options.nms_iou();
  }
  if (options.has_max_detections()) {
    const int64_t requested = options.max_detections();
    if (requested < 1 || requested > limits.max_detections) {
      throw std::invalid_argument("max_detections must be in 1.." +
                                  std::to_string(limits.max_detections) + " (got " +
                                  std::to_string(requested) + ")");
    }
    common.max_detections = requested;
  } else {
    common.max_detections = std::min(model.config().postprocess.max_detections, limits.max_detections);
  }
  return resolved;
}

detector::HeadRequest with_variant(detector::HeadRequest common, const detector::HeadRequest& variant) {
  common.box_head = variant.box_head;
  common.mask_pooler = variant.mask_pooler;
  common.masks = variant.masks;
  return common;
}

}  // namespace

ResolvedOptions resolve_detect_options(const v1::DetectOptions& options,
                                       const detector::DetectorImpl& model,
                                       const LimitsConfig& limits) {
  detector::HeadRequest common;
  ResolvedOptions resolved = shared_options(options, model, limits, common);
  const bool masks = resolved.mask_format != MaskFormat::kNone;
  resolved.variants.push_back(
      with_variant(common, resolve_variant(options.head(), options.mask_pooler(), masks, model)));
  return resolved;
}

ResolvedOptions resolve_compare_options(const v1::CompareRequest& request,
                                        const detector::DetectorImpl& model,
                                        const LimitsConfig& limits) {
  const int64_t count = request.variants_size();
  if (count < 2 || count > limits.max_compare_variants) {
    throw std::invalid_argument("Compare needs 2.." + std::to_string(limits.max_compare_variants) +
                                " variants (got " + std::to_string(count) + ")");
  }
  detector::HeadRequest common;
  ResolvedOptions resolved = shared_options(request.options(), model, limits, common);
  const bool masks = resolved.mask_format != MaskFormat::kNone;
  std::set<std::pair<std::string, std::string>> seen;
  for (const v1::Variant& variant : request.variants()) {
    const detector::HeadRequest head =
        resolve_variant(variant.head(), variant.mask_pooler(), masks, model);
    if (!seen.insert({head.box_head, head.mask_pooler}).second) {
      throw std::invalid_argument("Compare lists the variant (head " + head.box_head +
                                  (masks ? ", mask pooler " + head.mask_pooler : "") + ") twice");
    }
    resolved.variants.push_back(with_variant(common, head));
  }
  return resolved;
}

AgreementOptions resolve_agreement_options(const v1::CompareRequest& request) {
  AgreementOptions options;
  if (request.has_match_iou()) {
    if (!(request.match_iou() > 0.0f && request.match_iou() <= 1.0f)) {
      throw std::invalid_argument("match_iou must be in (0, 1] (got " +
                                  std::to_string(request.match_iou()) + ")");
    }
    options.match_iou = request.match_iou();
  }
  if (request.has_agreement_min_score()) {
    check_fraction("agreement_min_score", request.agreement_min_score());
    options.min_score = request.agreement_min_score();
  }
  return options;
}

ImageInput image_input(const v1::Image& image, uint64_t max_image_pixels) {
  ImageInput input;
  switch (image.source_case()) {
    case v1::Image::kEncoded: {
      input.encoded = image.encoded();
      const ImageHeader header = check_encoded_image(input.encoded, max_image_pixels);
      input.width = header.width;
      input.height = header.height;
      return input;
    }
    case v1::Image::kRaw: {
      const v1::RawImage& raw = image.raw();
      input.is_raw = true;
      input.raw.height = raw.height();
      input.raw.width = raw.width();
      input.raw.channels = raw.channels();
      if (raw.layout() != v1::RawImage::LAYOUT_UNSPECIFIED && raw.layout() != v1::RawImage::HWC &&
          raw.layout() != v1::RawImage::CHW) {
        throw std::invalid_argument("raw image has an unknown layout " + std::to_string(raw.layout()));
      }
      if (raw.data_type() != v1::RawImage::DATA_TYPE_UNSPECIFIED &&
          raw.data_type() != v1::RawImage::UINT8 && raw.data_type() != v1::RawImage::FLOAT32) {
        throw std::invalid_argument("raw image has an unknown data_type " +
                                    std::to_string(raw.data_type()));
      }
      input.raw.planar = raw.layout() == v1::RawImage::CHW;
      input.raw.float32 = raw.data_type() == v1::RawImage::FLOAT32;
      input.raw.data = raw.data();
      check_raw_pixels(input.raw, max_image_pixels);
      input.width = input.raw.width;
      input.height = input.raw.height;
      return input;
    }
    default:
      throw std::invalid_argument("the request has no image (set image.encoded or image.raw)");
  }
}

}  // namespace roiserve::server
