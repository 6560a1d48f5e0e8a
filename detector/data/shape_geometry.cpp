#include "detector/data/shape_geometry.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "detector/data/portable_math.h"

namespace roiserve::detector {
namespace {

constexpr double kTwoPi = 0x1.921fb54442d18p2;

// Vertex k of a polygon of `count` vertices lies at angle rotation + k · 2π / count.
std::vector<Point> regular_vertices(const ShapePose& pose, int count, double odd_vertex_scale) {
  std::vector<Point> vertices;
  vertices.reserve(count);
  const double step = kTwoPi / count;
  for (int k = 0; k < count; ++k) {
    const double radius = k % 2 == 0 ? pose.circumradius : pose.circumradius * odd_vertex_scale;
    const SinCos direction = portable_sincos(pose.rotation + k * step);
    vertices.push_back(
        {pose.center.x + radius * direction.cos, pose.center.y + radius * direction.sin});
  }
  return vertices;
}

}  // namespace

Outline Outline::polygon(std::vector<Point> vertices) {
  Outline outline;
  outline.vertices_ = std::move(vertices);
  return outline;
}

Outline Outline::disc(Point center, double radius) {
  Outline outline;
  outline.is_disc_ = true;
  outline.disc_center_ = center;
  outline.disc_radius_ = radius;
  return outline;
}

void Outline::row_crossings(double y, std::vector<double>& crossings) const {
  crossings.clear();
  if (is_disc_) {
    const double dy = y - disc_center_.y;
    const double half_chord_squared = disc_radius_ * disc_radius_ - dy * dy;
    if (half_chord_squared > 0.0) {
      const double half_chord = std::sqrt(half_chord_squared);
      crossings.push_back(disc_center_.x - half_chord);
      crossings.push_back(disc_center_.x + half_chord);
    }
    return;
  }
  // An edge crosses the row when exactly one end lies below it: each vertex
  // counts on one side only, so a row through a vertex is crossed correctly.
  for (size_t i = 0; i < vertices_.size(); ++i) {
    const Point& a = vertices_[i];
    const Point& b = vertices_[(i + 1) % vertices_.size()];
    if ((a.y > y) != (b.y > y)) {
      crossings.push_back(a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y));
    }
  }
  std::sort(crossings.begin(), crossings.end());
}

bool Outline::contains(Point point) const {
  std::vector<double> crossings;
  row_crossings(point.y, crossings);
  for (size_t i = 0; i + 1 < crossings.size(); i += 2) {
    if (crossings[i] <= point.x && point.x < crossings[i + 1]) return true;
  }
  return false;
}

Bounds Outline::bounds() const {
  if (is_disc_) {
    return {disc_center_.x - disc_radius_, disc_center_.y - disc_radius_,
            disc_center_.x + disc_radius_, disc_center_.y + disc_radius_};
  }
  Bounds bounds{vertices_[0].x, vertices_[0].y, vertices_[0].x, vertices_[0].y};
  for (const Point& vertex : vertices_) {
    bounds.x_min = std::min(bounds.x_min, vertex.x);
    bounds.y_min = std::min(bounds.y_min, vertex.y);
    bounds.x_max = std::max(bounds.x_max, vertex.x);
    bounds.y_max = std::max(bounds.y_max, vertex.y);
  }
  return bounds;
}

Outline shape_outline(int category, const ShapePose& pose) {
  switch (category) {
    case kCircle:
      return Outline::disc(pose.center, pose.circumradius);
    case kSquare:
      return Outline::polygon(regular_vertices(pose, 4, 1.0));
    case kTriangle:
      return Outline::polygon(regular_vertices(pose, 3, 1.0));
    case kStar:
      return Outline::polygon(regular_vertices(pose, 10, kStarInnerRadiusRatio));
    case kHexagon:
      return Outline::polygon(regular_vertices(pose, 6, 1.0));
    default:
      TORCH_CHECK_VALUE(false, "shape_outline: category must be in 1..", kShapeCategoryCount,
                        ", got ", category);
  }
}

Outline stroke_outline(Point from, Point to, double width) {
  const double dx = to.x - from.x;
  const double dy = to.y - from.y;
  const double length = std::sqrt(dx * dx + dy * dy);
  // A stroke of no length has no direction: any one gives it no area.
  const Point unit = length > 0.0 ? Point{dx / length, dy / length} : Point{1.0, 0.0};
  // Half the width along the unit normal.
  const double nx = -unit.y * (0.5 * width);
  const double ny = unit.x * (0.5 * width);
  return Outline::polygon({{from.x + nx, from.y + ny},
                           {to.x + nx, to.y + ny},
                           {to.x - nx, to.y - ny},
                           {from.x - nx, from.y - ny}});
}

}  // namespace roiserve::detector
