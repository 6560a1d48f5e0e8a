#include "support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include "ops/ops.h"

namespace roiserve::test {

at::Tensor random_features(at::IntArrayRef sizes, uint64_t seed) {
  return at::randn(sizes, at::detail::createCPUGenerator(seed));
}

at::Tensor random_rois(int64_t count, int64_t batch, double image_height, double image_width,
                       uint64_t seed) {
  const at::Generator gen = at::detail::createCPUGenerator(seed);
  const at::Tensor index = at::randint(batch, {count, 1}, gen, at::kFloat);
  // Corners from 5% before to 5% past the image, sizes up to half of it.
  const at::Tensor extent = at::tensor({image_width, image_height}, at::kFloat);
  const at::Tensor top_left = (at::rand({count, 2}, gen) * 1.1 - 0.05) * extent;
  const at::Tensor size = at::rand({count, 2}, gen) * 0.5 * extent + 1;
  return at::cat({index, top_left, top_left + size}, 1);
}

at::Tensor random_boxes(int64_t count, double image_height, double image_width, uint64_t seed) {
  return random_rois(count, 1, image_height, image_width, seed).slice(1, 1, 5).contiguous();
}

std::vector<PoolingOp> pooling_ops() {
  using Outputs = std::vector<at::Tensor>;
  const double scale = kSpatialScale;
  return {
      {"roi_align", "roi_align",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         return {ops::roi_align(x, r, scale, 7, 7, 2, /*aligned=*/true)};
       }},
      {"roi_align_unaligned_adaptive", "roi_align",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         return {ops::roi_align(x, r, scale, 5, 3, 0, /*aligned=*/false)};
       }},
      {"roi_pool", "roi_pool",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         auto [output, argmax] = ops::roi_pool(x, r, scale, 7, 7);
         return {output, argmax};
       }},
      {"ps_roi_pool", "ps_roi_pool",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         auto [output, mapping] = ops::ps_roi_pool(x, r, scale, 4, 4);
         return {output, mapping};
       }},
      {"ps_roi_align", "ps_roi_align",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         auto [output, mapping] = ops::ps_roi_align(x, r, scale, 4, 4, 2);
         return {output, mapping};
       }},
      {"ps_roi_align_adaptive", "ps_roi_align",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         auto [output, mapping] = ops::ps_roi_align(x, r, scale, 4, 4, 0);
         return {output, mapping};
       }},
      {"spp_roi_pool", "spp_roi_pool",
       [=](const at::Tensor& x, const at::Tensor& r) -> Outputs {
         auto [output, argmax] = ops::spp_roi_pool(x, r, scale, {1, 2, 4});
         return {output, argmax};
       }},
  };
}

std::string pooling_op_label(const ::testing::TestParamInfo<PoolingOp>& info) {
  return info.param.label;
}

void PrintTo(const PoolingOp& op, std::ostream* os) {
  *os << op.label;
}

at::Tensor input_gradient(const PoolingOp& op, const at::Tensor& input, const at::Tensor& rois,
                          uint64_t seed) {
  const at::Tensor x = input.detach().requires_grad_();
  const at::Tensor output = op.forward(x, rois)[0];
  const at::Tensor weights = at::randn(output.sizes(), at::detail::createCPUGenerator(seed));
  (output * weights).sum().backward();
  return x.grad();
}

ScopedNumThreads::ScopedNumThreads(int threads) : previous_(at::get_num_threads()) {
  at::set_num_threads(threads);
}

ScopedNumThreads::~ScopedNumThreads() {
  at::set_num_threads(previous_);
}

}  // namespace roiserve::test
