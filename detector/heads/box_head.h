#pragma once
// The interface of a swappable RoI box head and its registry. A head pools
// per-RoI features from the shared FPN levels and predicts class logits and
// box deltas; everything around it (proposals, sampling, losses,
// postprocessing, masks) is shared. A new head is one file that implements
// BoxHead and registers itself with ROISERVE_REGISTER_BOX_HEAD.
#include <torch/nn/module.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "detector/model/roi_levels.h"

namespace roiserve::detector {

struct BoxPrediction {
  at::Tensor class_logits;  // [K, num_classes + 1], background first
  // [K, 4 * (num_classes + 1)] per class, or [K, 4] shared by all classes.
  at::Tensor box_deltas;
};

struct BoxHeadContext {
  int64_t in_channels;                  // channels of each FPN level
  int64_t num_classes_with_background;
};

class BoxHead : public torch::nn::Module {
 public:
  // Stage "box_pool": per-RoI features (for position-sensitive heads this
  // includes the score-map convolutions that precede pooling).
  virtual at::Tensor pool(const std::vector<at::Tensor>& features, const LevelledRois& rois) = 0;
  // Stage "box_head". Float32 predictions whatever the prepared dtype.
  virtual BoxPrediction predict(const at::Tensor& pooled) = 0;
  // Serving arithmetic in `dtype`, once, at load (DetectorImpl::prepare): a
  // head whose layers gain from it keeps copies of their weights in that
  // dtype and uses them in eval mode without autograd. By default the head
  // serves in float32 as it is.
  virtual void prepare(c10::ScalarType /*dtype*/) {}
};

using BoxHeadFactory =
    std::function<std::shared_ptr<BoxHead>(const BoxHeadContext& context, const YAML::Node& params)>;

// Throws std::invalid_argument for an unknown type.
std::shared_ptr<BoxHead> create_box_head(const std::string& type, const BoxHeadContext& context,
                                         const YAML::Node& params);
std::vector<std::string> registered_box_head_types();
bool register_box_head(const std::string& type, BoxHeadFactory factory);

// Reads an optional integer/list parameter of a head, with a clear error.
int64_t head_param_int(const YAML::Node& params, const std::string& key, int64_t fallback);
std::vector<int64_t> head_param_ints(const YAML::Node& params, const std::string& key,
                                     std::vector<int64_t> fallback);
// Throws when params has a key outside `known` (a misspelt setting is an error).
void reject_unknown_head_params(const std::string& type, const YAML::Node& params,
                                const std::vector<std::string>& known);

#define ROISERVE_REGISTER_BOX_HEAD(type, Class)                                           \
  static const bool roiserve_box_head_registered_##Class = ::roiserve::detector::register_box_head( \
      type, [](const ::roiserve::detector::BoxHeadContext& context, const YAML::Node& params) { \
        return std::static_pointer_cast<::roiserve::detector::BoxHead>(                        \
            std::make_shared<Class>(context, params));                                         \
      })

}  // namespace roiserve::detector
