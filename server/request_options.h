#pragma once
// Requests' options checked and turned into what the detector runs: the
// head variants with every default filled in, the mask format, the image.
// Pure functions of the request, the model and the limits; failures are
// std::invalid_argument with a message for the caller (INVALID_ARGUMENT).
#include <string>
#include <vector>

#include "detector/model/detector.h"
#include "roiserve/v1/detection.pb.h"
#include "server/inference_job.h"
#include "server/server_config.h"

namespace roiserve::server {

enum class MaskFormat { kNone, kCocoRle, kPng };

struct ResolvedOptions {
  // One per variant; box_head and mask_pooler are never empty (mask_pooler
  // is empty only when no masks run).
  std::vector<detector::HeadRequest> variants;
  MaskFormat mask_format = MaskFormat::kNone;
};

// Detect: one variant.
ResolvedOptions resolve_detect_options(const v1::DetectOptions& options,
                                       const detector::DetectorImpl& model,
                                       const LimitsConfig& limits);

// Compare: one variant per request variant; the options' head and
// mask_pooler are ignored.
ResolvedOptions resolve_compare_options(const v1::CompareRequest& request,
                                        const detector::DetectorImpl& model,
                                        const LimitsConfig& limits);

struct AgreementOptions {
  double match_iou = 0.5;
  double min_score = 0.5;
};
AgreementOptions resolve_agreement_options(const v1::CompareRequest& request);

// The image, checked as far as it can be without decoding (format and
// declared size against the pixel limit, raw buffer size). It refers to the
// request's bytes.
ImageInput image_input(const v1::Image& image, uint64_t max_image_pixels);

}  // namespace roiserve::server
