// pycocotools' compressed counts strings (its rleToString and rleFrString).
#include <limits>
#include <stdexcept>
#include <string>

#include "detector/eval/rle.h"
#include "detector/eval/rle_runs.h"

namespace roiserve::eval {
namespace {

constexpr int kBitsPerCharacter = 5;
constexpr int kGroupMask = 0x1f;
constexpr int kSignBit = 0x10;
constexpr int kContinuationBit = 0x20;
constexpr char kFirstCharacter = '0';  // characters run from '0' (48) to 'o' (111)
// Differences of 32-bit counts need at most 34 bits: 7 characters. Longer
// numbers cannot come from a valid RLE and would overflow the shifts below.
constexpr int kMaxCharactersPerCount = 7;

// Counts from the fourth on are stored as the difference to the count two
// before (the previous run of the same value), which is small for smooth shapes.
bool is_delta_coded(size_t index) { return index > 2; }

std::string describe_position(const std::string& counts, size_t position) {
  return "character " + std::to_string(position) + " of \"" + counts + "\"";
}

}  // namespace

std::string to_compressed_string(const Rle& rle) {
  detail::check_rle(rle, "to_compressed_string");
  std::string text;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t value = rle.counts[i];
    if (is_delta_coded(i)) value -= rle.counts[i - 2];
    bool more = true;
    while (more) {
      int group = static_cast<int>(value & kGroupMask);
      value >>= kBitsPerCharacter;  // arithmetic: negative values shift in ones
      // Stop once the rest is pure sign extension of this group's top bit.
      more = (group & kSignBit) ? value != -1 : value != 0;
      if (more) group |= kContinuationBit;
      text.push_back(static_cast<char>(kFirstCharacter + group));
    }
  }
  return text;
}

Rle from_compressed_string(const std::string& counts, int64_t height, int64_t width) {
  detail::check_image_size(height, width, "from_compressed_string");
  Rle rle{height, width, {}};
  size_t position = 0;
  while (position < counts.size()) {
    int64_t value = 0;
    int shift = 0;
    for (bool more = true; more; shift += kBitsPerCharacter) {
      if (position == counts.size()) {
        throw std::invalid_argument("from_compressed_string: \"" + counts +
                                    "\" ends inside a number");
      }
      const int group = counts[position] - kFirstCharacter;
      if (group < 0 || group > (kGroupMask | kContinuationBit)) {
        throw std::invalid_argument("from_compressed_string: invalid " +
                                    describe_position(counts, position));
      }
      if (shift == kMaxCharactersPerCount * kBitsPerCharacter) {
        throw std::invalid_argument("from_compressed_string: number too long at " +
                                    describe_position(counts, position));
      }
      value |= static_cast<int64_t>(group & kGroupMask) << shift;
      more = (group & kContinuationBit) != 0;
      if (!more && (group & kSignBit)) {
        value |= static_cast<int64_t>(~uint64_t{0} << (shift + kBitsPerCharacter));
      }
      ++position;
    }
    const size_t index = rle.counts.size();
    if (is_delta_coded(index)) value += rle.counts[index - 2];
    if (value < 0 || value > std::numeric_limits<uint32_t>::max()) {
      throw std::invalid_argument("from_compressed_string: count " + std::to_string(index) +
                                  " of \"" + counts + "\" is " + std::to_string(value) +
                                  ", outside 0 .. 2^32 - 1");
    }
    rle.counts.push_back(static_cast<uint32_t>(value));
  }
  detail::check_rle(rle, "from_compressed_string");
  return rle;
}

}  // namespace roiserve::eval
