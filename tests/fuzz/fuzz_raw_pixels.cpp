// Raw-pixel requests: the first bytes choose the declared size, channels,
// layout and sample type; the rest is the buffer.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "server/image_decoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  roiserve::server::RawPixels raw;
  raw.height = data[0] | (data[1] << 8);
  raw.width = data[2] | (data[3] << 8);
  raw.channels = data[4] & 7;
  raw.planar = data[5] & 1;
  raw.float32 = data[5] & 2;
  raw.data = {reinterpret_cast<const char*>(data + 6), size - 6};
  try {
    const at::Tensor image = roiserve::server::decode_raw_pixels(raw, 1 << 16);
    if (image.size(0) != 3 || image.size(1) != static_cast<int64_t>(raw.height)) __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
