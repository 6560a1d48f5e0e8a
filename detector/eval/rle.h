#pragma once
// COCO run-length encoded masks with the semantics of pycocotools' mask API
// (common/maskApi.c in cocodataset/cocoapi, as shipped in pycocotools 2.0.x):
// strings, areas, boxes, polygon rasterizations and IoUs come out identical to
// pycocotools', so evaluation numbers can be compared with published ones.
//
// Every function that takes an Rle checks it first (counts summing to
// height × width) and throws std::invalid_argument on bad input.
//
// Standard library only (the roiserve_coco_rle library), so that the service's
// client reads and draws masks without LibTorch; the at::Tensor overloads are
// in rle_tensor.h.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace roiserve::eval {

// A binary mask of height × width as alternating runs of 0s and 1s over the
// pixels in column-major (Fortran) order, starting with a run of 0s that is
// empty when pixel (0, 0) is set. The counts sum to height × width, which must
// fit in 32 bits as in pycocotools.
struct Rle {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint32_t> counts;
};

inline bool operator==(const Rle& a, const Rle& b) {
  return a.height == b.height && a.width == b.width && a.counts == b.counts;
}
inline bool operator!=(const Rle& a, const Rle& b) { return !(a == b); }

// [x, y, width, height], COCO's box format.
using Box = std::array<double, 4>;

// A row-major [height, width] mask; any nonzero byte is foreground (for 0/1
// masks this is pycocotools' rleEncode).
Rle encode(const uint8_t* mask, int64_t height, int64_t width);

// The mask of a height × width image that is empty except for a row-major
// patch_height × patch_width patch whose top-left pixel lies at (top, left);
// the parts of the patch outside the image are dropped. Equal to encoding the
// pasted full-size mask, without building it.
Rle encode_patch(const uint8_t* patch, int64_t patch_height, int64_t patch_width, int64_t top,
                 int64_t left, int64_t height, int64_t width);

// The row-major [height, width] mask, 0 or 1 per pixel.
std::vector<uint8_t> decode(const Rle& rle);

// pycocotools' compressed counts string (rleToString / rleFrString): each count
// (from the fourth on, as the difference to the count two before) in 5-bit
// groups, low group first, as characters '0' + group, with 0x20 marking that
// another group follows and the last group's 0x10 bit carrying the sign.
std::string to_compressed_string(const Rle& rle);
Rle from_compressed_string(const std::string& counts, int64_t height, int64_t width);

// The number of foreground pixels.
int64_t area(const Rle& rle);

// The tightest box around the foreground pixels, [x, y, width, height] in
// whole pixels; all zeros for an empty mask (where pycocotools returns garbage
// if the counts hold empty runs of 1s).
Box to_bbox(const Rle& rle);

// pycocotools' rleFrPoly: the polygon (x0, y0, x1, y1, ...) rasterized by
// walking its edges on a 5× finer grid and keeping, per pixel column, the
// crossings of the column's centre line. No points gives an empty mask.
Rle from_polygon(const std::vector<double>& xy, int64_t height, int64_t width);

// pycocotools' rleFrBbox: the box's four corners as a polygon.
Rle from_bbox(const Box& box, int64_t height, int64_t width);

// The union of masks of one size (pycocotools' rleMerge without intersect).
// Like it, keeps empty runs that the inputs hold, so the counts match too.
Rle merge(const std::vector<Rle>& rles);

// Intersection over union of a detection and a ground truth of the same size;
// against a crowd ground truth, intersection over the detection's area. 0 when
// they do not intersect.
double iou(const Rle& detection, const Rle& ground_truth, bool ground_truth_is_crowd);
// The same for boxes (pycocotools' bbIou, areas from the boxes' widths and
// heights).
double iou(const Box& detection, const Box& ground_truth, bool ground_truth_is_crowd);

}  // namespace roiserve::eval
