#pragma once
// Building blocks shared by the RLE functions: argument checks, a builder that
// appends pixels or stretches of pixels and emits runs, and a cursor that walks
// an RLE's runs in steps of any length.
#include <cstdint>
#include <utility>
#include <vector>

#include "detector/eval/rle.h"

namespace roiserve::eval::detail {

// Throws std::invalid_argument (naming `caller`) unless height and width are
// non-negative and height × width fits the 32-bit counts.
void check_image_size(int64_t height, int64_t width, const char* caller);

// check_image_size, and that the counts sum to height × width.
void check_rle(const Rle& rle, const char* caller);

class RunBuilder {
 public:
  // Appends `length` pixels of value `foreground`; nothing when length is 0.
  void append(bool foreground, uint64_t length) {
    if (length > 0) append_stretch(foreground, length);
  }

  // Like append, but a stretch of the other value ends the current run even
  // when empty: pycocotools' rleMerge keeps the empty runs of its inputs.
  void append_stretch(bool foreground, uint64_t length) {
    if (foreground != foreground_) {
      counts_.push_back(static_cast<uint32_t>(length_));
      foreground_ = foreground;
      length_ = 0;
    }
    length_ += length;
  }

  // The counts, with the last run closed. The builder is spent.
  std::vector<uint32_t> finish() {
    counts_.push_back(static_cast<uint32_t>(length_));
    return std::move(counts_);
  }

 private:
  std::vector<uint32_t> counts_;
  bool foreground_ = false;
  uint64_t length_ = 0;
};

// Walks an RLE's runs. Consuming the rest of a run moves to the next one (if
// any), so an empty run is entered and must be consumed (with length 0) like
// any other: the loops over two RLEs step exactly as pycocotools' do.
class RunCursor {
 public:
  explicit RunCursor(const std::vector<uint32_t>& counts)
      : counts_(counts), remaining_(counts.empty() ? 0 : counts[0]) {}

  bool foreground() const { return (next_run_ - 1) % 2 == 1; }
  uint64_t remaining() const { return remaining_; }

  // `length` must not exceed remaining().
  void consume(uint64_t length) {
    remaining_ -= length;
    if (remaining_ == 0 && next_run_ < counts_.size()) remaining_ = counts_[next_run_++];
  }

 private:
  const std::vector<uint32_t>& counts_;
  size_t next_run_ = 1;
  uint64_t remaining_;
};

}  // namespace roiserve::eval::detail
