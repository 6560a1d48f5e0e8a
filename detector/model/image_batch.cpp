#include "detector/model/image_batch.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace roiserve::detector {

Preprocessor::Preprocessor(PreprocessConfig config) : config_(std::move(config)) {}

ImageSize Preprocessor::resized_size(ImageSize size) const {
  if (config_.resize == "none") return size;
  // torchvision's arithmetic, rounding for rounding: the scale is float32 and
  // `min_size / shorter` is Python's float / tensor, which torch evaluates as
  // shorter.reciprocal() * min_size (two roundings: 1333 / 500 comes out
  // 2.6660001, not 2.6659999). The size is then floor(size * scale) in double,
  // so it can differ by a pixel from a float64 rule either way.
  const float shorter = static_cast<float>(std::min(size.height, size.width));
  const float longer = static_cast<float>(std::max(size.height, size.width));
  const float scale = std::min((1.0f / shorter) * static_cast<float>(config_.min_size),
                               (1.0f / longer) * static_cast<float>(config_.max_size));
  const double factor = static_cast<double>(scale);
  return {static_cast<int64_t>(std::floor(static_cast<double>(size.height) * factor)),
          static_cast<int64_t>(std::floor(static_cast<double>(size.width) * factor))};
}

ImageBatch Preprocessor::operator()(const std::vector<at::Tensor>& images) const {
  if (images.empty()) throw std::invalid_argument("preprocess: no images");
  ImageBatch batch;
  std::vector<at::Tensor> normalized;
  int64_t max_height = 0;
  int64_t max_width = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const at::Tensor& image = images[i];
    if (image.dim() != 3 || image.size(0) != 3 || image.scalar_type() != at::kByte) {
      throw std::invalid_argument("preprocess: image " + std::to_string(i) +
                                  " must be a [3, H, W] uint8 RGB tensor");
    }
    const ImageSize original{image.size(1), image.size(2)};
    const at::TensorOptions options = image.options().dtype(at::kFloat);
    const at::Tensor mean = at::tensor(std::vector<float>(config_.mean.begin(), config_.mean.end()),
                                       options).view({3, 1, 1});
    const at::Tensor std = at::tensor(std::vector<float>(config_.std.begin(), config_.std.end()),
                                      options).view({3, 1, 1});
    at::Tensor x = (image.to(at::kFloat).div_(255.0f) - mean) / std;
    const ImageSize resized = resized_size(original);
    if (resized.height != original.height || resized.width != original.width) {
      x = at::upsample_bilinear2d(x.unsqueeze(0), {resized.height, resized.width},
                                  /*align_corners=*/false)
              .squeeze(0);
    }
    max_height = std::max(max_height, resized.height);
    max_width = std::max(max_width, resized.width);
    batch.original_sizes.push_back(original);
    batch.image_sizes.push_back(resized);
    normalized.push_back(x);
  }
  const int64_t divisor = config_.size_divisible;
  const int64_t padded_height = (max_height + divisor - 1) / divisor * divisor;
  const int64_t padded_width = (max_width + divisor - 1) / divisor * divisor;
  batch.tensor = at::zeros({static_cast<int64_t>(images.size()), 3, padded_height, padded_width},
                           normalized[0].options());
  for (size_t i = 0; i < normalized.size(); ++i) {
    batch.tensor[static_cast<int64_t>(i)]
        .narrow(1, 0, normalized[i].size(1))
        .narrow(2, 0, normalized[i].size(2))
        .copy_(normalized[i]);
  }
  return batch;
}

at::Tensor rescale_boxes(const at::Tensor& boxes, ImageSize from, ImageSize to) {
  if (from.height == to.height && from.width == to.width) return boxes;
  // float32 ratios, as torchvision.
  const float ratio_height = static_cast<float>(to.height) / static_cast<float>(from.height);
  const float ratio_width = static_cast<float>(to.width) / static_cast<float>(from.width);
  const at::Tensor ratios =
      at::tensor({ratio_width, ratio_height, ratio_width, ratio_height}, boxes.options());
  return boxes * ratios;
}

}  // namespace roiserve::detector
