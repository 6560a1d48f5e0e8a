// Mask pasting: the patch sits where torchvision's rule puts the expanded box,
// clipping at the image border changes nothing inside the image, and a
// confident mask stays confident inside its box.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "detector/model/paste_masks.h"

namespace roiserve::detector {
namespace {

TEST(PasteMasks, PatchCoversTheExpandedTruncatedBox) {
  // 28x28 mask padded to 30x30: the box grows by 30/28 around its centre.
  const at::Tensor masks = at::ones({1, 28, 28});
  const at::Tensor boxes = at::tensor({10.f, 20.f, 38.f, 48.f}).view({1, 4});
  const auto patches = paste_masks(masks, boxes, {100, 100});
  // Half size 14 * 30/28 = 15 around centre (24, 34): [9, 19, 39, 49] -> width 31.
  EXPECT_EQ(patches[0].left, 9);
  EXPECT_EQ(patches[0].top, 19);
  EXPECT_EQ(patches[0].probabilities.sizes(), (std::vector<int64_t>{31, 31}));
  // The original box's interior is far from the zero padding: probability 1.
  EXPECT_TRUE(at::allclose(patches[0].probabilities.narrow(0, 8, 15).narrow(1, 8, 15),
                           at::ones({15, 15})));
  // The patch border blends with the padding.
  EXPECT_LT(patches[0].probabilities[0][0].item<float>(), 0.5f);
}

TEST(PasteMasks, ClippingAtTheBorderKeepsTheVisiblePart) {
  at::manual_seed(1);
  const at::Tensor masks = at::rand({3, 28, 28});
  // Boxes that cross the left/top, the right/bottom, and lie wholly outside.
  // Sides of 28 or 56 px around whole-pixel centres make the expanded edges
  // integers: torchvision truncates them toward zero, which would otherwise
  // round a negative edge differently from its shifted copy.
  const at::Tensor boxes =
      at::tensor({-12.f, -5.f, 44.f, 23.f, 40.f, 50.f, 68.f, 106.f, 90.f, 90.f, 118.f, 146.f})
          .view({3, 4});
  const ImageSize image{60, 80};
  const auto clipped = paste_masks(masks, boxes, image);
  // The same boxes shifted into a large canvas are not clipped at all.
  const int64_t shift = 50;
  const auto unclipped = paste_masks(masks, boxes + shift, {200, 200});
  for (int64_t i = 0; i < 3; ++i) {
    const at::Tensor expected =
        unclipped[i].to_image({200, 200}).narrow(0, shift, image.height).narrow(1, shift, image.width);
    EXPECT_TRUE(at::equal(clipped[i].to_image(image), expected)) << "box " << i;
  }
  EXPECT_EQ(clipped[2].probabilities.numel(), 0);
}

TEST(PasteMasks, NoDetectionsNoPatches) {
  EXPECT_TRUE(paste_masks(at::zeros({0, 28, 28}), at::zeros({0, 4}), {10, 10}).empty());
}

}  // namespace
}  // namespace roiserve::detector
