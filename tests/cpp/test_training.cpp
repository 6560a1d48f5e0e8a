// A trainer can backpropagate through the ops: a convolution feeding roi_align
// and ps_roi_align, with linear heads on top, learns a regression target with
// plain SGD, and the convolution, below the RoI ops, receives gradient.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/ops.h"
#include "support.h"

namespace roiserve::test {
namespace {

struct TinyDetectorHead : torch::nn::Module {
  TinyDetectorHead()
      : backbone(register_module("backbone", torch::nn::Conv2d(3, 16, 3))),
        box_head(register_module("box_head", torch::nn::Linear(16 * 4 * 4, 1))),
        position_sensitive_head(
            register_module("position_sensitive_head", torch::nn::Linear(4, 1))) {}

  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& rois) {
    const torch::Tensor features = backbone->forward(images);
    const torch::Tensor pooled = ops::roi_align(features, rois, kSpatialScale, 4, 4, 2, true);
    // R-FCN style: 16 channels give 4 position-sensitive score maps of 2×2
    // bins, which vote by averaging.
    const torch::Tensor votes =
        std::get<0>(ops::ps_roi_align(features, rois, kSpatialScale, 2, 2, 2)).mean({2, 3});
    return box_head->forward(pooled.flatten(1)) + position_sensitive_head->forward(votes);
  }

  torch::nn::Conv2d backbone;
  torch::nn::Linear box_head;
  torch::nn::Linear position_sensitive_head;
};

TEST(TrainingTest, SgdThroughRoIOpsReducesTheLoss) {
  torch::manual_seed(0);
  TinyDetectorHead model;
  torch::optim::SGD optimizer(model.parameters(), torch::optim::SGDOptions(0.05));
  const torch::Tensor images = random_features({2, 3, 18, 18}, 1);
  const torch::Tensor rois = random_rois(16, 2, 64, 64, 2);
  const torch::Tensor targets = random_features({16, 1}, 3);

  auto loss_after_step = [&] {
    optimizer.zero_grad();
    const torch::Tensor loss = torch::mse_loss(model.forward(images, rois), targets);
    loss.backward();
    optimizer.step();
    return loss.item<double>();
  };
  const double initial_loss = loss_after_step();
  EXPECT_GT(model.backbone->weight.grad().abs().sum().item<double>(), 0.0);
  double loss = initial_loss;
  for (int step = 0; step < 50; ++step) {
    loss = loss_after_step();
  }
  EXPECT_LT(loss, 0.5 * initial_loss);
}

}  // namespace
}  // namespace roiserve::test
