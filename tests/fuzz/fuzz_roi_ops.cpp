// The RoI operators' argument checks: tiny feature maps and RoIs whose
// values (NaN, infinities, huge or negative batch indices), output sizes,
// scales and sampling ratios come from the input. Every op must either
// compute or throw c10::Error; none may read out of bounds.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ops/ops.h"

namespace {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return offset_ < size_ ? data_[offset_++] : 0; }
  float number() {
    float value = 0;
    if (offset_ + sizeof(value) <= size_) std::memcpy(&value, data_ + offset_, sizeof(value));
    offset_ += sizeof(value);
    return value;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace roiserve;
  Input input(data, size);
  const int64_t batch = input.byte() % 3;
  const int64_t channels = 1 + input.byte() % 8;
  const int64_t height = input.byte() % 9;
  const int64_t width = input.byte() % 9;
  const int64_t pooled_h = static_cast<int8_t>(input.byte()) % 5;
  const int64_t pooled_w = static_cast<int8_t>(input.byte()) % 5;
  const int64_t sampling_ratio = static_cast<int8_t>(input.byte()) % 4;
  const double scale = input.number();
  const bool aligned = input.byte() & 1;
  const int64_t count = input.byte() % 6;
  at::Tensor rois = at::empty({count, 5}, at::kFloat);
  for (int64_t i = 0; i < rois.numel(); ++i) rois.data_ptr<float>()[i] = input.number();
  const at::Tensor features = at::rand({batch, channels, height, width});
  try {
    ops::roi_align(features, rois, scale, pooled_h, pooled_w, sampling_ratio, aligned);
  } catch (const c10::Error&) {
  }
  try {
    ops::roi_pool(features, rois, scale, pooled_h, pooled_w);
  } catch (const c10::Error&) {
  }
  try {
    ops::ps_roi_pool(features, rois, scale, pooled_h, pooled_w);
  } catch (const c10::Error&) {
  }
  try {
    ops::ps_roi_align(features, rois, scale, pooled_h, pooled_w, sampling_ratio);
  } catch (const c10::Error&) {
  }
  try {
    ops::spp_roi_pool(features, rois, scale, {1, pooled_h, pooled_w});
  } catch (const c10::Error&) {
  }
  try {
    ops::nms(rois.narrow(1, 1, 4), rois.select(1, 0), scale);
  } catch (const c10::Error&) {
  }
  return 0;
}
