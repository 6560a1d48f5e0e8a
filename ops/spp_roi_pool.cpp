#include "ops/spp_roi_pool.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace roiserve::ops {

void define_spp_roi_pool_schemas(torch::Library& m) {
  m.def(
      "spp_roi_pool(Tensor input, Tensor rois, float spatial_scale, int[] levels) "
      "-> (Tensor, Tensor)");
  m.def(
      "_spp_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
      "int[] levels, int batch_size, int channels, int height, int width) -> Tensor");
}

std::tuple<at::Tensor, at::Tensor> spp_roi_pool(const at::Tensor& input, const at::Tensor& rois,
                                                double spatial_scale, at::IntArrayRef levels) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("roiserve::spp_roi_pool", "")
                       .typed<decltype(spp_roi_pool)>();
  return op.call(input, rois, spatial_scale, levels);
}

at::Tensor spp_roi_pool_backward(const at::Tensor& grad, const at::Tensor& rois,
                                 const at::Tensor& argmax, double spatial_scale,
                                 at::IntArrayRef levels, int64_t batch_size, int64_t channels,
                                 int64_t height, int64_t width) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("roiserve::_spp_roi_pool_backward", "")
                       .typed<decltype(spp_roi_pool_backward)>();
  return op.call(grad, rois, argmax, spatial_scale, levels, batch_size, channels, height, width);
}

}  // namespace roiserve::ops
