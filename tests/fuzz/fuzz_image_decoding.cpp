// Encoded images as the service receives them: header checks, the pixel
// limit, then decoding. Anything may fail with std::invalid_argument; nothing
// may crash, hang or allocate past the limit.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "server/image_decoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto header = roiserve::server::check_encoded_image(bytes, 1 << 20);
    const at::Tensor image = roiserve::server::decode_encoded_image(bytes, 1 << 20);
    // Decoders may apply EXIF orientation; the pixel count stays the header's.
    if (static_cast<uint64_t>(image.size(1) * image.size(2)) != header.width * header.height) {
      __builtin_trap();
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
