#include "detector/config/model_config.h"

#include <charconv>
#include <stdexcept>

#include "detector/config/yaml_reader.h"

namespace roiserve::detector {
namespace {

PreprocessConfig read_preprocess(const YAML::Node& node) {
  PreprocessConfig config;
  MappingReader reader(node, "preprocess");
  reader.read("mean", config.mean);
  reader.read("std", config.std);
  reader.read("resize", config.resize);
  reader.read("min_size", config.min_size);
  reader.read("max_size", config.max_size);
  reader.read("size_divisible", config.size_divisible);
  reader.reject_unknown_keys();
  return config;
}

BackboneConfig read_backbone(const YAML::Node& node) {
  BackboneConfig config;
  MappingReader reader(node, "backbone");
  std::string type = "resnet_fpn";
  reader.read("type", type);
  if (type != "resnet_fpn") {
    throw std::invalid_argument("'backbone.type' '" + type + "' is not supported");
  }
  reader.read("block", config.block);
  reader.read("stem_channels", config.stem_channels);
  reader.read("stage_widths", config.stage_widths);
  reader.read("blocks_per_stage", config.blocks_per_stage);
  reader.read("norm_eps", config.norm_eps);
  reader.read("fpn_channels", config.fpn_channels);
  reader.reject_unknown_keys();
  return config;
}

RpnConfig read_rpn(const YAML::Node& node) {
  RpnConfig config;
  MappingReader reader(node, "rpn");
  reader.read("anchor_sizes", config.anchor_sizes);
  reader.read("aspect_ratios", config.aspect_ratios);
  reader.read("pre_nms_top_n_train", config.pre_nms_top_n_train);
  reader.read("pre_nms_top_n_test", config.pre_nms_top_n_test);
  reader.read("post_nms_top_n_train", config.post_nms_top_n_train);
  reader.read("post_nms_top_n_test", config.post_nms_top_n_test);
  reader.read("nms_iou", config.nms_iou);
  reader.read("score_threshold", config.score_threshold);
  reader.read("min_size", config.min_size);
  reader.read("fg_iou", config.fg_iou);
  reader.read("bg_iou", config.bg_iou);
  reader.read("batch_size_per_image", config.batch_size_per_image);
  reader.read("positive_fraction", config.positive_fraction);
  reader.reject_unknown_keys();
  return config;
}

MaskConfig read_mask(const YAML::Node& node) {
  MaskConfig config;
  MappingReader reader(node, "roi_heads.mask");
  reader.read("poolers", config.poolers);
  reader.read("pooled_size", config.pooled_size);
  reader.read("sampling_ratio", config.sampling_ratio);
  reader.read("conv_channels", config.conv_channels);
  reader.read("predictor_channels", config.predictor_channels);
  reader.read("threshold", config.threshold);
  reader.reject_unknown_keys();
  return config;
}

RoiHeadsConfig read_roi_heads(const YAML::Node& node) {
  RoiHeadsConfig config;
  MappingReader reader(node, "roi_heads");
  MappingReader mapper(reader.child("level_mapper"), "roi_heads.level_mapper");
  mapper.read("canonical_scale", config.level_mapper.canonical_scale);
  mapper.read("canonical_level", config.level_mapper.canonical_level);
  mapper.reject_unknown_keys();
  reader.read("box_coder_weights", config.box_coder_weights);
  reader.read("fg_iou", config.fg_iou);
  reader.read("bg_iou", config.bg_iou);
  reader.read("batch_size_per_image", config.batch_size_per_image);
  reader.read("positive_fraction", config.positive_fraction);
  reader.read("default_box_head", config.default_box_head);
  const YAML::Node heads = reader.child("box_heads");
  if (!heads || !heads.IsMap() || heads.size() == 0) {
    throw std::invalid_argument("'roi_heads.box_heads' must map head names to settings");
  }
  for (const auto& entry : heads) {
    const auto name = entry.first.as<std::string>();
    BoxHeadConfig head;
    head.type = name;
    head.params = YAML::Clone(entry.second);
    if (head.params.IsMap() && head.params["type"]) {
      head.type = head.params["type"].as<std::string>();
      head.params.remove("type");
    }
    config.box_heads[name] = head;
  }
  const YAML::Node mask = reader.child("mask");
  config.has_masks = mask && !mask.IsNull();
  if (config.has_masks) config.mask = read_mask(mask);
  reader.reject_unknown_keys();
  return config;
}

PostprocessConfig read_postprocess(const YAML::Node& node) {
  PostprocessConfig config;
  MappingReader reader(node, "postprocess");
  reader.read("score_threshold", config.score_threshold);
  reader.read("nms_iou", config.nms_iou);
  reader.read("max_detections", config.max_detections);
  reader.reject_unknown_keys();
  return config;
}

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

YAML::Node flow(YAML::Node node) {
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}

// The shortest text that reads back as the same double (yaml-cpp would write
// 0.7 as 0.69999999999999996).
YAML::Node number(double value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof(text), value);
  return YAML::Node(std::string(text, result.ptr));
}

YAML::Node numbers(const std::vector<double>& values) {
  YAML::Node sequence(YAML::NodeType::Sequence);
  for (double value : values) sequence.push_back(number(value));
  return flow(sequence);
}

}  // namespace

ModelConfig model_config_from_yaml(const YAML::Node& root) {
  MappingReader reader(root, "");
  int64_t version = 0;
  reader.read("format_version", version);
  require(version == ModelConfig::kFormatVersion,
          "format_version " + std::to_string(version) + " is not supported (this build reads " +
              std::to_string(ModelConfig::kFormatVersion) + ")");
  ModelConfig config;
  reader.read("name", config.name);
  reader.read("description", config.description);
  reader.read("classes", config.class_names);
  config.preprocess = read_preprocess(reader.child("preprocess"));
  config.backbone = read_backbone(reader.child("backbone"));
  config.rpn = read_rpn(reader.child("rpn"));
  config.roi_heads = read_roi_heads(reader.child("roi_heads"));
  config.postprocess = read_postprocess(reader.child("postprocess"));
  std::string precision = precision_name(config.precision);
  reader.read("precision", precision);
  try {
    config.precision = parse_precision(precision);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("'precision': ") + error.what());
  }
  reader.child("weights");  // the bundle loader's business
  reader.reject_unknown_keys();
  validate_model_config(config);
  return config;
}

void validate_model_config(const ModelConfig& config) {
  require(!config.class_names.empty(), "'classes' must list at least one class");
  require(config.preprocess.mean.size() == 3 && config.preprocess.std.size() == 3,
          "'preprocess.mean' and 'preprocess.std' need 3 values (R, G, B)");
  for (double s : config.preprocess.std) require(s > 0, "'preprocess.std' values must be > 0");
  require(config.preprocess.resize == "none" || config.preprocess.resize == "shorter_side",
          "'preprocess.resize' must be 'none' or 'shorter_side'");
  require(config.preprocess.min_size > 0 && config.preprocess.max_size >= config.preprocess.min_size,
          "'preprocess.min_size' must be > 0 and <= 'preprocess.max_size'");
  require(config.preprocess.size_divisible >= 1, "'preprocess.size_divisible' must be >= 1");
  const auto& backbone = config.backbone;
  require(backbone.block == "basic" || backbone.block == "bottleneck",
          "'backbone.block' must be 'basic' or 'bottleneck'");
  require(backbone.stage_widths.size() == 4 && backbone.blocks_per_stage.size() == 4,
          "'backbone.stage_widths' and 'backbone.blocks_per_stage' need 4 values");
  for (int64_t n : backbone.blocks_per_stage) require(n >= 1, "every ResNet stage needs a block");
  require(backbone.stem_channels > 0 && backbone.fpn_channels > 0,
          "'backbone' channel counts must be > 0");
  require(config.rpn.anchor_sizes.size() == 5,
          "'rpn.anchor_sizes' needs one list per FPN level P2..P6 (5 lists)");
  for (const auto& sizes : config.rpn.anchor_sizes) {
    require(sizes.size() == config.rpn.anchor_sizes[0].size(),
            "every level of 'rpn.anchor_sizes' needs the same number of sizes");
  }
  require(!config.rpn.aspect_ratios.empty(), "'rpn.aspect_ratios' must not be empty");
  require(config.roi_heads.box_coder_weights.size() == 4,
          "'roi_heads.box_coder_weights' needs 4 values");
  require(config.roi_heads.box_heads.count(config.roi_heads.default_box_head) == 1,
          "'roi_heads.default_box_head' must name one of 'roi_heads.box_heads'");
  if (config.roi_heads.has_masks) {
    require(!config.roi_heads.mask.poolers.empty(), "'roi_heads.mask.poolers' must not be empty");
    for (const auto& pooler : config.roi_heads.mask.poolers) {
      require(pooler == "roi_align" || pooler == "roi_pool",
              "'roi_heads.mask.poolers' entries must be 'roi_align' or 'roi_pool', got '" + pooler +
                  "'");
    }
  }
  require(config.postprocess.max_detections >= 1, "'postprocess.max_detections' must be >= 1");
}

YAML::Node model_config_to_yaml(const ModelConfig& config) {
  YAML::Node root;
  root["format_version"] = ModelConfig::kFormatVersion;
  root["name"] = config.name;
  if (!config.description.empty()) root["description"] = config.description;
  root["classes"] = flow(YAML::Node(config.class_names));

  const auto& pre = config.preprocess;
  YAML::Node preprocess;
  preprocess["mean"] = numbers(pre.mean);
  preprocess["std"] = numbers(pre.std);
  preprocess["resize"] = pre.resize;
  if (pre.resize != "none") {
    preprocess["min_size"] = pre.min_size;
    preprocess["max_size"] = pre.max_size;
  }
  preprocess["size_divisible"] = pre.size_divisible;
  root["preprocess"] = preprocess;

  const auto& bb = config.backbone;
  YAML::Node backbone;
  backbone["type"] = "resnet_fpn";
  backbone["block"] = bb.block;
  backbone["stem_channels"] = bb.stem_channels;
  backbone["stage_widths"] = flow(YAML::Node(bb.stage_widths));
  backbone["blocks_per_stage"] = flow(YAML::Node(bb.blocks_per_stage));
  backbone["norm_eps"] = number(bb.norm_eps);
  backbone["fpn_channels"] = bb.fpn_channels;
  root["backbone"] = backbone;

  const auto& r = config.rpn;
  YAML::Node rpn;
  YAML::Node anchor_sizes(YAML::NodeType::Sequence);
  for (const auto& sizes : r.anchor_sizes) anchor_sizes.push_back(numbers(sizes));
  rpn["anchor_sizes"] = flow(anchor_sizes);
  rpn["aspect_ratios"] = numbers(r.aspect_ratios);
  rpn["pre_nms_top_n_train"] = r.pre_nms_top_n_train;
  rpn["pre_nms_top_n_test"] = r.pre_nms_top_n_test;
  rpn["post_nms_top_n_train"] = r.post_nms_top_n_train;
  rpn["post_nms_top_n_test"] = r.post_nms_top_n_test;
  rpn["nms_iou"] = number(r.nms_iou);
  rpn["score_threshold"] = number(r.score_threshold);
  rpn["min_size"] = number(r.min_size);
  rpn["fg_iou"] = number(r.fg_iou);
  rpn["bg_iou"] = number(r.bg_iou);
  rpn["batch_size_per_image"] = r.batch_size_per_image;
  rpn["positive_fraction"] = number(r.positive_fraction);
  root["rpn"] = rpn;

  const auto& rh = config.roi_heads;
  YAML::Node roi_heads;
  roi_heads["level_mapper"]["canonical_scale"] = number(rh.level_mapper.canonical_scale);
  roi_heads["level_mapper"]["canonical_level"] = rh.level_mapper.canonical_level;
  roi_heads["box_coder_weights"] = numbers(rh.box_coder_weights);
  roi_heads["fg_iou"] = number(rh.fg_iou);
  roi_heads["bg_iou"] = number(rh.bg_iou);
  roi_heads["batch_size_per_image"] = rh.batch_size_per_image;
  roi_heads["positive_fraction"] = number(rh.positive_fraction);
  roi_heads["default_box_head"] = rh.default_box_head;
  for (const auto& [name, head] : rh.box_heads) {
    YAML::Node node = head.params.IsMap() ? YAML::Clone(head.params) : YAML::Node(YAML::NodeType::Map);
    if (head.type != name) node["type"] = head.type;
    roi_heads["box_heads"][name] = node;
  }
  if (rh.has_masks) {
    YAML::Node mask;
    mask["poolers"] = flow(YAML::Node(rh.mask.poolers));
    mask["pooled_size"] = rh.mask.pooled_size;
    mask["sampling_ratio"] = rh.mask.sampling_ratio;
    mask["conv_channels"] = flow(YAML::Node(rh.mask.conv_channels));
    mask["predictor_channels"] = rh.mask.predictor_channels;
    mask["threshold"] = number(rh.mask.threshold);
    roi_heads["mask"] = mask;
  }
  root["roi_heads"] = roi_heads;

  root["postprocess"]["score_threshold"] = number(config.postprocess.score_threshold);
  root["postprocess"]["nms_iou"] = number(config.postprocess.nms_iou);
  root["postprocess"]["max_detections"] = config.postprocess.max_detections;
  root["precision"] = precision_name(config.precision);
  return root;
}

ModelConfig read_model_config_file(const std::filesystem::path& file) {
  if (!std::filesystem::is_regular_file(file)) {
    throw std::invalid_argument(file.string() + ": no such file");
  }
  try {
    return model_config_from_yaml(YAML::LoadFile(file.string()));
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(file.string() + ": not valid YAML: " + error.what());
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(file.string() + ": " + error.what());
  }
}

}  // namespace roiserve::detector
