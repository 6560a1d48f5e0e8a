// Polygon and box rasterization exactly as pycocotools' rleFrPoly: COCO's
// polygon annotations only mean the masks that this rasterizer makes of them.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "detector/eval/rle.h"
#include "detector/eval/rle_runs.h"

namespace roiserve::eval {
namespace {

// Vertices are snapped to a grid this many times finer than the pixels.
constexpr double kUpsampling = 5;
// Keeps every fine-grid coordinate, and differences of two, inside int.
constexpr double kMaxCoordinate = 2e8;

struct FinePoint {
  int x;
  int y;
};

// pycocotools truncates toward zero after adding one half: not rounding for
// negative values, and the result must match.
int truncate_half_up(double value) { return static_cast<int>(value + .5); }

// Collects, from the dense walk along the outline, the pixels where the outline
// crosses a pixel column's centre line: each starts or ends a run of the
// column-major mask, as a position x * height + y.
class ColumnCrossings {
 public:
  ColumnCrossings(int64_t height, int64_t width) : height_(height), width_(width) {}

  void visit(FinePoint point) {
    if (has_previous_ && point.x != previous_.x) add_crossing(previous_, point);
    previous_ = point;
    has_previous_ = true;
  }

  std::vector<int64_t> take() { return std::move(positions_); }

 private:
  void add_crossing(FinePoint from, FinePoint to) {
    // The fine column left of the step, back in pixel units: a whole number
    // exactly when it is a pixel column's centre.
    double x = to.x < from.x ? to.x : to.x - 1;
    x = (x + .5) / kUpsampling - .5;
    if (std::floor(x) != x || x < 0 || x > static_cast<double>(width_ - 1)) return;
    double y = std::min(to.y, from.y);
    y = (y + .5) / kUpsampling - .5;
    if (y < 0) {
      y = 0;
    } else if (y > static_cast<double>(height_)) {
      y = static_cast<double>(height_);
    }
    y = std::ceil(y);
    positions_.push_back(static_cast<int64_t>(x) * height_ + static_cast<int64_t>(y));
  }

  int64_t height_;
  int64_t width_;
  FinePoint previous_{0, 0};
  bool has_previous_ = false;
  std::vector<int64_t> positions_;
};

// Visits every fine-grid point of the edge from `start` to `end`, one fine
// unit apart along the longer axis, in the edge's direction. The minor
// coordinate is always interpolated from the end with the smaller major one, so
// an edge rounds the same whichever way the polygon runs.
void walk_edge(FinePoint start, FinePoint end, ColumnCrossings& crossings) {
  const int dx = std::abs(end.x - start.x);
  const int dy = std::abs(start.y - end.y);
  const bool x_major = dx >= dy;
  const bool flip = (x_major && start.x > end.x) || (!x_major && start.y > end.y);
  if (flip) std::swap(start, end);
  if (x_major) {
    // dx == 0 only for a repeated vertex, whose one point pycocotools never
    // reads the y of: any y will do.
    const double slope = dx == 0 ? 0.0 : static_cast<double>(end.y - start.y) / dx;
    for (int d = 0; d <= dx; ++d) {
      const int t = flip ? dx - d : d;
      crossings.visit({t + start.x, truncate_half_up(start.y + slope * t)});
    }
  } else {
    const double slope = static_cast<double>(end.x - start.x) / dy;
    for (int d = 0; d <= dy; ++d) {
      const int t = flip ? dy - d : d;
      crossings.visit({truncate_half_up(start.x + slope * t), t + start.y});
    }
  }
}

// Turns sorted run boundaries into counts. Two boundaries at one position
// cancel: the empty run between them joins its neighbours.
std::vector<uint32_t> counts_from_boundaries(const std::vector<int64_t>& sorted_boundaries) {
  std::vector<uint32_t> gaps(sorted_boundaries.size());
  int64_t previous = 0;
  for (size_t i = 0; i < sorted_boundaries.size(); ++i) {
    gaps[i] = static_cast<uint32_t>(sorted_boundaries[i] - previous);
    previous = sorted_boundaries[i];
  }
  std::vector<uint32_t> counts{gaps[0]};
  for (size_t i = 1; i < gaps.size();) {
    if (gaps[i] > 0) {
      counts.push_back(gaps[i++]);
    } else if (++i < gaps.size()) {
      counts.back() += gaps[i++];
    }
  }
  return counts;
}

}  // namespace

Rle from_polygon(const std::vector<double>& xy, int64_t height, int64_t width) {
  detail::check_image_size(height, width, "from_polygon");
  if (xy.size() % 2 != 0) {
    throw std::invalid_argument("from_polygon: " + std::to_string(xy.size()) +
                                " coordinates, not (x, y) pairs");
  }
  for (double coordinate : xy) {
    if (!(std::fabs(coordinate) <= kMaxCoordinate)) {
      throw std::invalid_argument("from_polygon: coordinate " + std::to_string(coordinate) +
                                  " is not finite or beyond +-2e8");
    }
  }
  const int64_t pixels = height * width;
  if (xy.empty() || pixels == 0) return Rle{height, width, {static_cast<uint32_t>(pixels)}};

  std::vector<FinePoint> vertices;
  for (size_t i = 0; i < xy.size(); i += 2) {
    vertices.push_back(
        {truncate_half_up(kUpsampling * xy[i]), truncate_half_up(kUpsampling * xy[i + 1])});
  }
  ColumnCrossings crossings(height, width);
  for (size_t i = 0; i < vertices.size(); ++i) {
    walk_edge(vertices[i], vertices[(i + 1) % vertices.size()], crossings);
  }
  std::vector<int64_t> boundaries = crossings.take();
  boundaries.push_back(pixels);
  std::sort(boundaries.begin(), boundaries.end());
  return Rle{height, width, counts_from_boundaries(boundaries)};
}

Rle from_bbox(const Box& box, int64_t height, int64_t width) {
  const double x_end = box[0] + box[2];
  const double y_end = box[1] + box[3];
  return from_polygon({box[0], box[1], box[0], y_end, x_end, y_end, x_end, box[1]}, height,
                      width);
}

}  // namespace roiserve::eval
