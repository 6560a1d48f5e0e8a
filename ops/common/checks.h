#pragma once
// Argument validation shared by the kernels of every device. torchvision trusts
// its inputs (a bad batch index reads out of bounds); every check here turns
// such input into an error that names the op and the argument.
//
// The exception type keeps torchvision's callers working: input that
// torchvision 0.14 itself rejects (shapes, dtypes, devices, output sizes, the
// channels of the position-sensitive ops, nms's arguments) raises c10::Error,
// a RuntimeError in Python as torchvision's own checks are, in torch 1.13 and
// 2.x alike; input that torchvision does not check (batch indices, coordinates,
// spatial_scale, the backward ops' gradient and index tensors) raises
// c10::IndexError or c10::ValueError.
#include <ATen/core/Tensor.h>

namespace roiserve::ops::detail {

// input [N, C, H, W] and rois [K, 5] of one floating dtype on one device, a
// positive output size and a finite, positive spatial_scale. Also checks the
// values of rois (see check_roi_values).
void check_pool_forward_args(const char* op, const at::Tensor& input, const at::Tensor& rois,
                             double spatial_scale, int64_t pooled_height, int64_t pooled_width);

// The same for quantized input and rois (QuantizedCPU), as torchvision takes
// them: both quantized per tensor, one image, and the batch index of every RoI
// (dequantized) 0.
void check_quantized_pool_forward_args(const char* op, const at::Tensor& input,
                                       const at::Tensor& rois, double spatial_scale,
                                       int64_t pooled_height, int64_t pooled_width);

// grad must be [K, grad_channels, pooled_height, pooled_width] with K rois of
// grad's dtype and device, and the input size positive; checks rois' values.
void check_pool_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& rois,
                              double spatial_scale, int64_t grad_channels, int64_t pooled_height,
                              int64_t pooled_width, int64_t batch_size, int64_t channels,
                              int64_t height, int64_t width);

// Column 0 of rois must hold integers in [0, batch_size) and every coordinate
// must be finite.
void check_roi_values(const char* op, const at::Tensor& rois, int64_t batch_size);

// Position-sensitive ops: channels must split evenly into the output bins.
void check_position_sensitive_channels(const char* op, int64_t channels, int64_t pooled_height,
                                       int64_t pooled_width);

// The backward of a position-sensitive op: the checks above for its grad
// [K, C / (PH * PW), PH, PW], and channel_mapping of grad's shape. The mapping
// is fixed by the channel layout, so the kernels check it but do not read it.
void check_position_sensitive_backward_args(const char* op, const at::Tensor& grad,
                                            const at::Tensor& rois,
                                            const at::Tensor& channel_mapping, double spatial_scale,
                                            int64_t pooled_height, int64_t pooled_width,
                                            int64_t batch_size, int64_t channels, int64_t height,
                                            int64_t width);

// An int32 index tensor that the backward of a forward op returned: its shape
// must be `expected` and its values within [min_value, max_value].
void check_index_tensor(const char* op, const char* name, const at::Tensor& index,
                        at::IntArrayRef expected, int64_t min_value, int64_t max_value);

// Spatial pyramid pooling's levels: at least one, each positive. Returns the
// bins per RoI over all levels (the sum of level * level).
int64_t check_pyramid_levels(const char* op, at::IntArrayRef levels);

// The backward of spatial pyramid pooling: the levels, grad [K, channels *
// bins] as a pooled gradient, and argmax of grad's shape holding positions in
// the height × width map (or -1). Returns the bins per RoI over all levels.
int64_t check_spp_backward_args(const char* op, const at::Tensor& grad, const at::Tensor& rois,
                                const at::Tensor& argmax, double spatial_scale,
                                at::IntArrayRef levels, int64_t batch_size, int64_t channels,
                                int64_t height, int64_t width);

// NMS: boxes [N, 4] and scores [N] of one floating dtype on one device.
void check_nms_args(const char* op, const at::Tensor& boxes, const at::Tensor& scores);

// The same for quantized boxes and scores: one quantized dtype, each quantized
// per tensor.
void check_quantized_nms_args(const char* op, const at::Tensor& boxes, const at::Tensor& scores);

}  // namespace roiserve::ops::detail
