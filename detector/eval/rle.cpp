// Encoding, decoding and the measures of RLE masks; the compressed strings,
// polygons and tensor overloads live in rle_string.cpp, rle_polygon.cpp and
// rle_tensor.cpp.
#include "detector/eval/rle.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "detector/eval/rle_runs.h"

namespace roiserve::eval {

using detail::check_image_size;
using detail::check_rle;
using detail::RunBuilder;
using detail::RunCursor;

Rle encode(const uint8_t* mask, int64_t height, int64_t width) {
  check_image_size(height, width, "encode");
  if (mask == nullptr && height * width > 0) throw std::invalid_argument("encode: mask is null");
  RunBuilder runs;
  // Indexing, not a column pointer: an empty mask may be null, and offsetting
  // a null pointer is undefined even when nothing is read through it (UBSan).
  for (int64_t x = 0; x < width; ++x) {
    for (int64_t y = 0; y < height; ++y) runs.append(mask[y * width + x] != 0, 1);
  }
  return Rle{height, width, runs.finish()};
}

Rle encode_patch(const uint8_t* patch, int64_t patch_height, int64_t patch_width, int64_t top,
                 int64_t left, int64_t height, int64_t width) {
  check_image_size(height, width, "encode_patch");
  if (patch_height < 0 || patch_width < 0) {
    throw std::invalid_argument("encode_patch: patch size " + std::to_string(patch_height) +
                                " x " + std::to_string(patch_width) + " is negative");
  }
  if (patch == nullptr && patch_height * patch_width > 0) {
    throw std::invalid_argument("encode_patch: patch is null");
  }
  // The part of the patch inside the image, in image coordinates; an empty
  // range when the patch misses the image.
  const int64_t x_begin = std::clamp<int64_t>(left, 0, width);
  const int64_t x_end = std::clamp<int64_t>(left + patch_width, x_begin, width);
  const int64_t y_begin = std::clamp<int64_t>(top, 0, height);
  const int64_t y_end = std::clamp<int64_t>(top + patch_height, y_begin, height);

  RunBuilder runs;
  runs.append(false, static_cast<uint64_t>(x_begin * height));
  for (int64_t x = x_begin; x < x_end; ++x) {
    runs.append(false, static_cast<uint64_t>(y_begin));
    for (int64_t y = y_begin; y < y_end; ++y) {
      runs.append(patch[(y - top) * patch_width + (x - left)] != 0, 1);
    }
    runs.append(false, static_cast<uint64_t>(height - y_end));
  }
  runs.append(false, static_cast<uint64_t>((width - x_end) * height));
  return Rle{height, width, runs.finish()};
}

std::vector<uint8_t> decode(const Rle& rle) {
  check_rle(rle, "decode");
  const uint64_t height = rle.height;
  std::vector<uint8_t> mask(static_cast<size_t>(rle.height * rle.width), 0);
  uint64_t position = 0;  // in column-major order
  for (size_t run = 0; run < rle.counts.size(); ++run) {
    const uint64_t run_end = position + rle.counts[run];
    if (run % 2 == 1) {
      // Fill the run one column segment at a time.
      for (uint64_t pixel = position; pixel < run_end;) {
        const uint64_t x = pixel / height;
        const uint64_t y = pixel % height;
        const uint64_t segment = std::min(height - y, run_end - pixel);
        for (uint64_t i = 0; i < segment; ++i) mask[(y + i) * rle.width + x] = 1;
        pixel += segment;
      }
    }
    position = run_end;
  }
  return mask;
}

int64_t area(const Rle& rle) {
  check_rle(rle, "area");
  int64_t foreground = 0;
  for (size_t run = 1; run < rle.counts.size(); run += 2) foreground += rle.counts[run];
  return foreground;
}

Box to_bbox(const Rle& rle) {
  check_rle(rle, "to_bbox");
  const uint64_t height = rle.height;
  uint64_t x_min = UINT64_MAX, y_min = UINT64_MAX, x_max = 0, y_max = 0;
  uint64_t position = 0;
  for (size_t run = 0; run < rle.counts.size(); ++run) {
    const uint64_t first = position;
    position += rle.counts[run];
    if (run % 2 == 0 || rle.counts[run] == 0) continue;
    const uint64_t last = position - 1;
    x_min = std::min(x_min, first / height);
    x_max = std::max(x_max, last / height);
    if (first / height < last / height) {
      // The run wraps from the bottom of one column to the top of the next.
      y_min = 0;
      y_max = height - 1;
    } else {
      y_min = std::min(y_min, first % height);
      y_max = std::max(y_max, last % height);
    }
  }
  if (x_min == UINT64_MAX) return Box{0, 0, 0, 0};
  return Box{static_cast<double>(x_min), static_cast<double>(y_min),
             static_cast<double>(x_max - x_min + 1), static_cast<double>(y_max - y_min + 1)};
}

namespace {

// Steps through both masks in stretches where neither changes value, as
// pycocotools' loops over two RLEs do, calling visit(a_foreground,
// b_foreground, length) for each.
template <typename Visit>
void walk_together(const Rle& a, const Rle& b, Visit&& visit) {
  RunCursor cursor_a(a.counts), cursor_b(b.counts);
  do {
    const uint64_t length = std::min(cursor_a.remaining(), cursor_b.remaining());
    visit(cursor_a.foreground(), cursor_b.foreground(), length);
    cursor_a.consume(length);
    cursor_b.consume(length);
  } while (cursor_a.remaining() + cursor_b.remaining() > 0);
}

void check_same_size(const Rle& a, const Rle& b, const char* caller) {
  if (a.height != b.height || a.width != b.width) {
    throw std::invalid_argument(std::string(caller) + ": masks of different sizes, " +
                                std::to_string(a.height) + " x " + std::to_string(a.width) +
                                " and " + std::to_string(b.height) + " x " +
                                std::to_string(b.width));
  }
}

Rle union_of(const Rle& a, const Rle& b) {
  RunBuilder runs;
  walk_together(a, b, [&](bool in_a, bool in_b, uint64_t length) {
    runs.append_stretch(in_a || in_b, length);
  });
  return Rle{a.height, a.width, runs.finish()};
}

}  // namespace

Rle merge(const std::vector<Rle>& rles) {
  if (rles.empty()) throw std::invalid_argument("merge: no masks to merge");
  for (const Rle& rle : rles) {
    check_rle(rle, "merge");
    check_same_size(rle, rles.front(), "merge");
  }
  // Folded pairwise from the left like pycocotools: with empty runs in the
  // inputs the counts (not the mask) depend on the order.
  Rle merged = rles.front();
  for (size_t i = 1; i < rles.size(); ++i) merged = union_of(merged, rles[i]);
  return merged;
}

double iou(const Rle& detection, const Rle& ground_truth, bool ground_truth_is_crowd) {
  check_rle(detection, "iou");
  check_rle(ground_truth, "iou");
  check_same_size(detection, ground_truth, "iou");
  uint64_t intersection = 0, union_area = 0;
  walk_together(detection, ground_truth, [&](bool in_detection, bool in_truth, uint64_t length) {
    if (in_detection || in_truth) union_area += length;
    if (in_detection && in_truth) intersection += length;
  });
  if (intersection == 0) return 0.0;
  if (ground_truth_is_crowd) union_area = area(detection);
  return static_cast<double>(intersection) / static_cast<double>(union_area);
}

double iou(const Box& detection, const Box& ground_truth, bool ground_truth_is_crowd) {
  // pycocotools' expressions in its order: the result must round the same way.
  const double detection_area = detection[2] * detection[3];
  const double truth_area = ground_truth[2] * ground_truth[3];
  const double overlap_width = std::fmin(detection[2] + detection[0], ground_truth[2] + ground_truth[0]) -
                               std::fmax(detection[0], ground_truth[0]);
  if (overlap_width <= 0) return 0.0;
  const double overlap_height =
      std::fmin(detection[3] + detection[1], ground_truth[3] + ground_truth[1]) -
      std::fmax(detection[1], ground_truth[1]);
  if (overlap_height <= 0) return 0.0;
  const double intersection = overlap_width * overlap_height;
  const double union_area =
      ground_truth_is_crowd ? detection_area : detection_area + truth_area - intersection;
  return intersection / union_area;
}

}  // namespace roiserve::eval
