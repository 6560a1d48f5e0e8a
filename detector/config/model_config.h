#pragma once
// The architecture and the defaults of one model, as written in a bundle's
// model.yaml (see docs/MODEL_BUNDLE.md). Plain data: the modules are built
// from it, and the bundle writer turns it back into YAML.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "detector/model/precision.h"

namespace roiserve::detector {

// How an image becomes the network input: RGB in [0, 1], normalized, resized
// (or not), then padded with zeros to a multiple of size_divisible.
struct PreprocessConfig {
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
  // "none" keeps the native resolution; "shorter_side" is torchvision's rule:
  // scale = min(min_size / shorter side, max_size / longer side).
  std::string resize = "none";
  int64_t min_size = 800;
  int64_t max_size = 1333;
  int64_t size_divisible = 32;
};

// ResNet (stride 32) + FPN producing P2..P5 and P6 (max-pooled P5).
struct BackboneConfig {
  std::string block = "basic";  // "basic" (ResNet-18/34) or "bottleneck" (ResNet-50+)
  int64_t stem_channels = 64;
  std::vector<int64_t> stage_widths{64, 128, 256, 512};  // torchvision's "planes"
  std::vector<int64_t> blocks_per_stage{2, 2, 2, 2};
  double norm_eps = 1e-5;
  int64_t fpn_channels = 256;
};

struct RpnConfig {
  std::vector<std::vector<double>> anchor_sizes{{32}, {64}, {128}, {256}, {512}};  // per level
  std::vector<double> aspect_ratios{0.5, 1.0, 2.0};
  int64_t pre_nms_top_n_train = 2000;  // per level
  int64_t pre_nms_top_n_test = 1000;   // per level
  int64_t post_nms_top_n_train = 2000;  // per image
  int64_t post_nms_top_n_test = 1000;   // per image
  double nms_iou = 0.7;
  double score_threshold = 0.0;
  double min_size = 1e-3;
  double fg_iou = 0.7;
  double bg_iou = 0.3;
  int64_t batch_size_per_image = 256;
  double positive_fraction = 0.5;
};

// Which FPN level pools a RoI: floor(canonical_level + log2(sqrt(area) / canonical_scale)),
// clamped to the pooled levels (Feature Pyramid Networks, eq. 1).
struct LevelMapperConfig {
  double canonical_scale = 224;
  int64_t canonical_level = 4;
};

// One box head; `type` names its registered implementation, `params` its own
// settings (read by that implementation, written back unchanged).
struct BoxHeadConfig {
  std::string type;
  YAML::Node params;
};

struct MaskConfig {
  std::vector<std::string> poolers{"roi_align"};  // one set of mask weights per pooler
  int64_t pooled_size = 14;
  int64_t sampling_ratio = 2;
  std::vector<int64_t> conv_channels{256, 256, 256, 256};
  int64_t predictor_channels = 256;
  double threshold = 0.5;  // a pasted mask pixel belongs to the object when its probability > this
};

struct RoiHeadsConfig {
  LevelMapperConfig level_mapper;
  std::vector<double> box_coder_weights{10, 10, 5, 5};
  double fg_iou = 0.5;
  double bg_iou = 0.5;
  int64_t batch_size_per_image = 512;
  double positive_fraction = 0.25;
  std::map<std::string, BoxHeadConfig> box_heads;  // by the name requests use
  std::string default_box_head = "roi_align";
  bool has_masks = true;
  MaskConfig mask;
};

struct PostprocessConfig {
  double score_threshold = 0.05;
  double nms_iou = 0.5;
  int64_t max_detections = 100;
};

struct ModelConfig {
  static constexpr int64_t kFormatVersion = 1;
  std::string name;
  std::string description;
  std::vector<std::string> class_names;  // without the background class
  PreprocessConfig preprocess;
  BackboneConfig backbone;
  RpnConfig rpn;
  RoiHeadsConfig roi_heads;
  PostprocessConfig postprocess;
  // The arithmetic the model serves in unless a --precision flag or a
  // server's config says otherwise.
  Precision precision = Precision::fp32;

  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t num_classes_with_background() const { return num_classes() + 1; }
};

// Throws std::invalid_argument naming the offending key.
ModelConfig model_config_from_yaml(const YAML::Node& root);
// The same for a file; the error names the file too.
ModelConfig read_model_config_file(const std::filesystem::path& file);
YAML::Node model_config_to_yaml(const ModelConfig& config);
// Checks the relations between fields (one anchor list per level, positive sizes...).
void validate_model_config(const ModelConfig& config);

}  // namespace roiserve::detector
