#pragma once
// The plane geometry of shapes-v1: the outline of each shape class and of a
// clutter line, and the one rule that decides whether a point is inside.
//
// Image coordinates: x to the right, y down; pixel (x, y) covers
// [x, x + 1) × [y, y + 1), so its centre is (x + ½, y + ½).
#include <cstdint>
#include <vector>

namespace roiserve::detector {

struct Point {
  double x;
  double y;
};

struct Bounds {
  double x_min;
  double y_min;
  double x_max;
  double y_max;
};

// The object classes; 0 is left for the background.
enum ShapeCategory : int { kCircle = 1, kSquare = 2, kTriangle = 3, kStar = 4, kHexagon = 5 };
constexpr int kShapeCategoryCount = 5;

// A star's inner vertices lie at this fraction of its circumradius.
constexpr double kStarInnerRadiusRatio = 0.45;

// Where a shape is: every vertex (or the whole circle) lies at most
// circumradius from the centre; rotation is in radians.
struct ShapePose {
  Point center;
  double circumradius;
  double rotation;
};

// A closed region of the plane, a polygon or a disc. A point is inside when it
// lies in [c0, c1) ∪ [c2, c3) ∪ … on its row, where c0 < c1 < … are the
// row's crossings: this is the even-odd rule with half-open edges, so a point
// on the border of two touching regions belongs to exactly one of them, and
// rasterizing row by row gives exactly what contains() says point by point.
class Outline {
 public:
  static Outline polygon(std::vector<Point> vertices);
  static Outline disc(Point center, double radius);

  // The sorted x positions where the horizontal line at height y crosses the
  // border, an even number of them, written to `crossings`.
  void row_crossings(double y, std::vector<double>& crossings) const;

  bool contains(Point point) const;

  Bounds bounds() const;

  // The polygon's vertices in order; empty for a disc.
  const std::vector<Point>& vertices() const { return vertices_; }

 private:
  Outline() = default;

  bool is_disc_ = false;
  std::vector<Point> vertices_;
  Point disc_center_{0.0, 0.0};
  double disc_radius_ = 0.0;
};

// circle: a disc; square, triangle, hexagon: the regular polygon whose first
// vertex lies at angle `rotation`; star: ten vertices, alternately at the
// circumradius and at kStarInnerRadiusRatio of it.
Outline shape_outline(int category, const ShapePose& pose);

// A straight stroke of the given width from `from` to `to`, with square-cut
// ends; one of no length covers nothing.
Outline stroke_outline(Point from, Point to, double width);

}  // namespace roiserve::detector
