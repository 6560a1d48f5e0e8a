#include "detector/model/paste_masks.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace roiserve::detector {
namespace {
constexpr int64_t kMaskPadding = 1;
}  // namespace

at::Tensor MaskPatch::to_image(ImageSize image) const {
  at::Tensor full = at::zeros({image.height, image.width}, probabilities.options());
  if (probabilities.numel() > 0) {
    full.narrow(0, top, probabilities.size(0))
        .narrow(1, left, probabilities.size(1))
        .copy_(probabilities);
  }
  return full;
}

std::vector<MaskPatch> paste_masks(const at::Tensor& masks, const at::Tensor& boxes,
                                   ImageSize image) {
  const int64_t resolution = masks.size(-1);
  const at::Tensor padded = at::constant_pad_nd(masks, {kMaskPadding, kMaskPadding, kMaskPadding,
                                                        kMaskPadding});
  const double scale = static_cast<double>(resolution + 2 * kMaskPadding) / resolution;
  // torchvision's expand_boxes, in the boxes' dtype, then truncated to int64.
  const at::Tensor half_w = (boxes.select(1, 2) - boxes.select(1, 0)) * 0.5 * scale;
  const at::Tensor half_h = (boxes.select(1, 3) - boxes.select(1, 1)) * 0.5 * scale;
  const at::Tensor center_x = (boxes.select(1, 2) + boxes.select(1, 0)) * 0.5;
  const at::Tensor center_y = (boxes.select(1, 3) + boxes.select(1, 1)) * 0.5;
  const at::Tensor expanded =
      at::stack({center_x - half_w, center_y - half_h, center_x + half_w, center_y + half_h}, 1)
          .to(at::kLong)
          .cpu();
  const auto box = expanded.accessor<int64_t, 2>();

  std::vector<MaskPatch> patches;
  patches.reserve(static_cast<size_t>(masks.size(0)));
  for (int64_t i = 0; i < masks.size(0); ++i) {
    const int64_t x1 = box[i][0], y1 = box[i][1], x2 = box[i][2], y2 = box[i][3];
    const int64_t width = std::max<int64_t>(x2 - x1 + 1, 1);
    const int64_t height = std::max<int64_t>(y2 - y1 + 1, 1);
    const int64_t left = std::max<int64_t>(x1, 0);
    const int64_t right = std::min<int64_t>(x2 + 1, image.width);
    const int64_t top = std::max<int64_t>(y1, 0);
    const int64_t bottom = std::min<int64_t>(y2 + 1, image.height);
    MaskPatch patch;
    patch.top = std::min(top, image.height);
    patch.left = std::min(left, image.width);
    if (right <= left || bottom <= top) {
      patch.probabilities = at::zeros({0, 0}, masks.options());
    } else {
      const at::Tensor resized =
          at::upsample_bilinear2d(padded[i].unsqueeze(0).unsqueeze(0), {height, width},
                                  /*align_corners=*/false)[0][0];
      patch.probabilities =
          resized.narrow(0, top - y1, bottom - top).narrow(1, left - x1, right - left);
    }
    patches.push_back(std::move(patch));
  }
  return patches;
}

}  // namespace roiserve::detector
