#include "detector/eval/rle_runs.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace roiserve::eval::detail {

void check_image_size(int64_t height, int64_t width, const char* caller) {
  if (height < 0 || width < 0) {
    throw std::invalid_argument(std::string(caller) + ": image size " + std::to_string(height) +
                                " x " + std::to_string(width) + " is negative");
  }
  constexpr int64_t kMaxPixels = std::numeric_limits<uint32_t>::max();
  if (width > 0 && height > kMaxPixels / width) {
    throw std::invalid_argument(std::string(caller) + ": image size " + std::to_string(height) +
                                " x " + std::to_string(width) +
                                " has more pixels than 32-bit run lengths can count");
  }
}

void check_rle(const Rle& rle, const char* caller) {
  check_image_size(rle.height, rle.width, caller);
  uint64_t total = 0;
  for (uint32_t count : rle.counts) total += count;
  const uint64_t pixels = static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width);
  if (total != pixels) {
    throw std::invalid_argument(std::string(caller) + ": RLE counts sum to " +
                                std::to_string(total) + ", not height x width = " +
                                std::to_string(rle.height) + " x " + std::to_string(rle.width) +
                                " = " + std::to_string(pixels));
  }
}

}  // namespace roiserve::eval::detail
