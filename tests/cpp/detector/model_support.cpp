#include "model_support.h"

namespace roiserve::test {

detector::ModelConfig tiny_model_config() {
  detector::ModelConfig config;
  config.name = "tiny";
  config.class_names = {"circle", "square", "triangle", "star", "hexagon"};
  config.backbone.stem_channels = 8;
  config.backbone.stage_widths = {8, 8, 16, 16};
  config.backbone.blocks_per_stage = {1, 1, 1, 1};
  config.backbone.fpn_channels = 16;
  config.rpn.anchor_sizes = {{16}, {32}, {64}, {128}, {256}};
  config.rpn.pre_nms_top_n_test = 100;
  config.rpn.post_nms_top_n_test = 50;
  config.rpn.pre_nms_top_n_train = 200;
  config.rpn.post_nms_top_n_train = 100;
  config.roi_heads.batch_size_per_image = 32;
  for (const char* head : {"roi_align", "roi_pool", "spp"}) {
    config.roi_heads.box_heads[head].type = head;
    config.roi_heads.box_heads[head].params["representation_size"] = 32;
  }
  config.roi_heads.box_heads["ps_roi_pool"].type = "ps_roi_pool";
  config.roi_heads.box_heads["ps_roi_pool"].params["hidden_channels"] = 16;
  config.roi_heads.mask.poolers = {"roi_align", "roi_pool"};
  config.roi_heads.mask.conv_channels = {16, 16};
  config.roi_heads.mask.predictor_channels = 16;
  // Untrained weights score every class alike: keep every box so that the
  // mask stages always have work.
  config.postprocess.score_threshold = 0.0;
  return config;
}

}  // namespace roiserve::test
