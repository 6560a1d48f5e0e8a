#pragma once
// Pasting the 28x28 mask probabilities into the image, with torchvision's
// semantics (paste_masks_in_image): the mask is padded by one cell, its box
// grown by the same factor and truncated to whole pixels, the mask resized
// bilinearly to that box and clipped to the image. Only the part of the image
// the box covers is kept, so a detection costs its box, not the image.
#include <ATen/core/Tensor.h>

#include <vector>

#include "detector/model/image_batch.h"

namespace roiserve::detector {

struct MaskPatch {
  int64_t top = 0;
  int64_t left = 0;
  at::Tensor probabilities;  // [h, w] float32: image rows top..top+h, columns left..left+w

  // The full-image [H, W] probability map (zeros outside the patch).
  at::Tensor to_image(ImageSize image) const;
};

// masks [D, M, M] probabilities, boxes [D, 4] in the coordinates of `image`.
std::vector<MaskPatch> paste_masks(const at::Tensor& masks, const at::Tensor& boxes,
                                   ImageSize image);

}  // namespace roiserve::detector
