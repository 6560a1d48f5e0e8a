#include "ops/common/checks.h"

#include <ATen/ATen.h>

#include <cmath>

namespace roiserve::ops::detail {

namespace {

// The dtypes the kernels compute in (float16 and bfloat16 through float32).
// at::isFloatingType also admits torch 2.x's float8 types, which AT_DISPATCH
// would refuse with NotImplementedError, not a RuntimeError.
bool is_kernel_float(at::ScalarType dtype) {
  return dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf ||
         dtype == at::kBFloat16;
}

void check_rois_shape(const char* op, const at::Tensor& rois, const at::Tensor& like) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5, op,
              ": rois must have shape [K, 5] (batch index, x1, y1, x2, y2), got ", rois.sizes());
  TORCH_CHECK(rois.scalar_type() == like.scalar_type(), op,
              ": rois must have the dtype of the features (", like.scalar_type(), "), got ",
              rois.scalar_type());
  TORCH_CHECK(rois.device() == like.device(), op, ": rois must be on the features' device (",
              like.device(), "), got ", rois.device());
}

void check_output_size(const char* op, int64_t pooled_height, int64_t pooled_width) {
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0, op,
              ": output size must be positive, got pooled_height=", pooled_height,
              ", pooled_width=", pooled_width);
}

void check_spatial_scale(const char* op, double spatial_scale) {
  TORCH_CHECK_VALUE(std::isfinite(spatial_scale) && spatial_scale > 0, op,
                    ": spatial_scale must be finite and positive, got ", spatial_scale);
}

template <typename T>
void check_roi_values_cpu(const char* op, const T* rois, int64_t count, int64_t batch_size) {
  for (int64_t k = 0; k < count; ++k) {
    const T* roi = rois + 5 * k;
    const auto index = static_cast<double>(roi[0]);
    TORCH_CHECK_INDEX(
        index >= 0 && index < static_cast<double>(batch_size) && std::floor(index) == index, op,
        ": rois[", k, ", 0] = ", index, " is not a batch index: expected an integer in [0, ",
        batch_size, ")");
    for (int i = 1; i < 5; ++i) {
      TORCH_CHECK_VALUE(std::isfinite(static_cast<double>(roi[i])), op, ": rois[", k, ", ", i,
                        "] = ", static_cast<double>(roi[i]), " is not a finite coordinate");
    }
  }
}

}  // namespace

void check_roi_values(const char* op, const at::Tensor& rois, int64_t batch_size) {
  if (rois.size(0) == 0) {
    return;
  }
  if (rois.is_cpu()) {
    const at::Tensor dense = rois.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kHalf, at::kBFloat16, rois.scalar_type(), "check_roi_values", [&] {
          check_roi_values_cpu<scalar_t>(op, dense.data_ptr<scalar_t>(), dense.size(0), batch_size);
        });
    return;
  }
  // Elsewhere, one reduction on the device and a single synchronization; the
  // slow path that names the offending row runs only when something is wrong.
  const at::Tensor index = rois.select(1, 0);
  const at::Tensor valid = index.ge(0) & index.lt(batch_size) & index.eq(index.floor()) &
                           rois.slice(1, 1, 5).isfinite().all(1);
  if (!valid.all().item<bool>()) {
    check_roi_values(op, rois.cpu(), batch_size);
  }
}

namespace {

// Everything but the dtype of input and the values of rois.
void check_pool_forward_shapes(const char* op, const at::Tensor& input, const at::Tensor& rois,
                               double spatial_scale, int64_t pooled_height, int64_t pooled_width) {
  TORCH_CHECK(input.dim() == 4, op, ": input must be a 4-D tensor [N, C, H, W], got ",
              input.sizes());
  check_rois_shape(op, rois, input);
  check_output_size(op, pooled_height, pooled_width);
  check_spatial_scale(op, spatial_scale);
}

// One scale and zero point for the whole tensor, which the quantized kernels
// rely on (torchvision reads q_scale(), which refuses any other scheme).
void check_per_tensor_quantized(const char* op, const char* name, const at::Tensor& tensor) {
  TORCH_CHECK(tensor.qscheme() == at::kPerTensorAffine, op, ": ", name,
              " must be quantized per tensor (one scale and zero point), got ",
              c10::toString(tensor.qscheme()));
}

}  // namespace

void check_pool_forward_args(const char* op, const at::Tensor& input, const at::Tensor& rois,
                             double spatial_scale, int64_t pooled_height, int64_t pooled_width) {
  TORCH_CHECK(is_kernel_float(input.scalar_type()), op,
              ": input must be a floating point tensor (float32, float64, float16 or bfloat16), "
              "got ",
              input.scalar_type());
  check_pool_forward_shapes(op, input, rois, spatial_scale, pooled_height, pooled_width);
  check_roi_values(op, rois, input.size(0));
}

void check_quantized_pool_forward_args(const char* op, const at::Tensor& input,
                                       const at::Tensor& rois, double spatial_scale,
                                       int64_t pooled_height, int64_t pooled_width) {
  TORCH_CHECK(input.is_quantized(), op, ": input must be quantized like rois, got ",
              input.scalar_type());
  check_pool_forward_shapes(op, input, rois, spatial_scale, pooled_height, pooled_width);
  check_per_tensor_quantized(op, "input", input);
  check_per_tensor_quantized(op, "rois", rois);
  // torchvision's message, which its callers match.
  TORCH_CHECK(input.size(0) == 1, op,
              ": Only one image per batch is allowed with quantized tensors (a quantized batch "
              "index cannot name every image: at scale 2, only even ones), got ",
              input.size(0), " images");
  check_roi_values(op, rois.dequantize(), 1);
}

void check_pool_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& rois,
                              double spatial_scale, int64_t grad_channels, int64_t pooled_height,
                              int64_t pooled_width, int64_t batch_size, int64_t channels,
                              int64_t height, int64_t width) {
  TORCH_CHECK(is_kernel_float(grad.scalar_type()), op,
              ": grad must be a floating point tensor (float32, float64, float16 or bfloat16), "
              "got ",
              grad.scalar_type());
  check_rois_shape(op, rois, grad);
  check_output_size(op, pooled_height, pooled_width);
  check_spatial_scale(op, spatial_scale);
  TORCH_CHECK_VALUE(batch_size > 0 && channels > 0 && height > 0 && width > 0, op,
                    ": input size must be positive, got batch_size=", batch_size,
                    ", channels=", channels, ", height=", height, ", width=", width);
  const std::vector<int64_t> expected = {rois.size(0), grad_channels, pooled_height, pooled_width};
  TORCH_CHECK_VALUE(grad.sizes() == at::IntArrayRef(expected), op, ": grad must have shape ",
                    at::IntArrayRef(expected),
                    " (rois, channels, pooled_height, pooled_width), got ", grad.sizes());
  check_roi_values(op, rois, batch_size);
}

void check_position_sensitive_channels(const char* op, int64_t channels, int64_t pooled_height,
                                       int64_t pooled_width) {
  check_output_size(op, pooled_height, pooled_width);  // before dividing by it
  TORCH_CHECK(channels % (pooled_height * pooled_width) == 0, op, ": input channels (", channels,
              ") must be divisible by pooled_height * pooled_width (", pooled_height * pooled_width,
              ")");
}

void check_position_sensitive_backward_args(const char* op, const at::Tensor& grad,
                                            const at::Tensor& rois,
                                            const at::Tensor& channel_mapping, double spatial_scale,
                                            int64_t pooled_height, int64_t pooled_width,
                                            int64_t batch_size, int64_t channels, int64_t height,
                                            int64_t width) {
  check_position_sensitive_channels(op, channels, pooled_height, pooled_width);
  check_pool_backward_args(op, grad, rois, spatial_scale, channels / (pooled_height * pooled_width),
                           pooled_height, pooled_width, batch_size, channels, height, width);
  check_index_tensor(op, "channel_mapping", channel_mapping, grad.sizes(), 0, channels - 1);
}

void check_index_tensor(const char* op, const char* name, const at::Tensor& index,
                        at::IntArrayRef expected, int64_t min_value, int64_t max_value) {
  TORCH_CHECK(index.scalar_type() == at::kInt, op, ": ", name, " must be an int32 tensor, got ",
              index.scalar_type());
  TORCH_CHECK_VALUE(index.sizes() == expected, op, ": ", name, " must have shape ", expected,
                    ", got ", index.sizes());
  if (index.numel() == 0) {
    return;
  }
  const auto [lowest, highest] = at::aminmax(index);
  const int64_t low = lowest.item<int64_t>();
  const int64_t high = highest.item<int64_t>();
  TORCH_CHECK_VALUE(low >= min_value && high <= max_value, op, ": ", name, " holds values in [",
                    low, ", ", high, "], expected values in [", min_value, ", ", max_value, "]");
}

int64_t check_pyramid_levels(const char* op, at::IntArrayRef levels) {
  TORCH_CHECK_VALUE(!levels.empty(), op, ": levels must name at least one pyramid level");
  int64_t bins = 0;
  for (const int64_t level : levels) {
    TORCH_CHECK_VALUE(level > 0, op, ": pyramid levels must be positive, got ", levels);
    bins += level * level;
  }
  return bins;
}

int64_t check_spp_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& rois,
                                const at::Tensor& argmax, double spatial_scale,
                                at::IntArrayRef levels, int64_t batch_size, int64_t channels,
                                int64_t height, int64_t width) {
  const int64_t pyramid = check_pyramid_levels(op, levels);
  TORCH_CHECK_VALUE(grad.dim() == 2, op, ": grad must have shape [K, channels * ", pyramid,
                    "], got ", grad.sizes());
  // The checks of a pooled gradient, on grad seen as [K, C * bins, 1, 1].
  check_pool_backward_args(op, grad.unsqueeze(2).unsqueeze(3), rois, spatial_scale,
                           channels * pyramid, 1, 1, batch_size, channels, height, width);
  check_index_tensor(op, "argmax", argmax, grad.sizes(), -1, height * width - 1);
  return pyramid;
}

namespace {

void check_nms_shapes(const char* op, const at::Tensor& boxes, const at::Tensor& scores) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, op, ": boxes must have shape [N, 4], got ",
              boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), op,
              ": scores must have shape [", boxes.size(0), "] to match boxes, got ",
              scores.sizes());
  TORCH_CHECK(boxes.device() == scores.device(), op,
              ": boxes and scores must be on one device, got ", boxes.device(), " and ",
              scores.device());
}

}  // namespace

void check_nms_args(const char* op, const at::Tensor& boxes, const at::Tensor& scores) {
  check_nms_shapes(op, boxes, scores);
  TORCH_CHECK(
      is_kernel_float(boxes.scalar_type()) && boxes.scalar_type() == scores.scalar_type(), op,
      ": boxes and scores must share one floating point dtype (float32, float64, float16 or "
      "bfloat16), got ",
      boxes.scalar_type(), " and ", scores.scalar_type());
}

void check_quantized_nms_args(const char* op, const at::Tensor& boxes, const at::Tensor& scores) {
  check_nms_shapes(op, boxes, scores);
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(), op,
              ": boxes and scores must share one quantized dtype, got ", boxes.scalar_type(),
              " and ", scores.scalar_type());
  check_per_tensor_quantized(op, "boxes", boxes);
  check_per_tensor_quantized(op, "scores", scores);
}

}  // namespace roiserve::ops::detail
