#pragma once
// Turning images into the network input (torchvision's GeneralizedRCNNTransform):
// RGB uint8 -> [0, 1] -> normalized -> resized (optional) -> zero-padded batch.
#include <ATen/core/Tensor.h>

#include <vector>

#include "detector/config/model_config.h"

namespace roiserve::detector {

struct ImageSize {
  int64_t height;
  int64_t width;
};

struct ImageBatch {
  at::Tensor tensor;                      // [N, 3, Hpad, Wpad] float32
  std::vector<ImageSize> image_sizes;     // each image after resizing, before padding
  std::vector<ImageSize> original_sizes;  // as given
};

class Preprocessor {
 public:
  explicit Preprocessor(PreprocessConfig config);
  // images: [3, H, W] uint8 RGB, all on one device.
  ImageBatch operator()(const std::vector<at::Tensor>& images) const;
  // The size an image of `size` is resized to (itself when resize is "none").
  ImageSize resized_size(ImageSize size) const;

 private:
  PreprocessConfig config_;
};

// Boxes [N, 4] in the coordinates of `from` mapped to those of `to`
// (torchvision's resize_boxes).
at::Tensor rescale_boxes(const at::Tensor& boxes, ImageSize from, ImageSize to);

}  // namespace roiserve::detector
