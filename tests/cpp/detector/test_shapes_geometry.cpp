// Shape outlines, the inside rule, sampled coverage and painting, on
// hand-checkable cases.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "detector/data/canvas.h"
#include "detector/data/coverage.h"
#include "detector/data/random.h"
#include "detector/data/shape_geometry.h"

namespace roiserve::detector {
namespace {

constexpr double kPi = 3.14159265358979323846;

double distance(Point a, Point b) {
  return std::hypot(a.x - b.x, a.y - b.y);
}

// The tile's count at any pixel of the image: none outside the tile.
int coverage_at(const CoverageTile& tile, int x, int y) {
  const bool in_tile = x >= tile.x_begin && x < tile.x_end && y >= tile.y_begin && y < tile.y_end;
  return in_tile ? tile.at(x, y) : 0;
}

int64_t covered_centres(const CoverageTile& tile) {
  int64_t count = 0;
  for (uint8_t samples : tile.inside_samples) count += samples > 0;
  return count;
}

// Franklin's PNPOLY, or the distance to the centre for a circle: written apart
// from Outline::row_crossings to check it.
bool reference_contains(int category, const ShapePose& pose, Point point) {
  if (category == kCircle) return distance(point, pose.center) < pose.circumradius;
  const std::vector<Point> vertices = shape_outline(category, pose).vertices();
  bool inside = false;
  for (size_t i = 0, j = vertices.size() - 1; i < vertices.size(); j = i++) {
    const Point& a = vertices[i];
    const Point& b = vertices[j];
    if ((a.y > point.y) != (b.y > point.y) &&
        point.x < (b.x - a.x) * (point.y - a.y) / (b.y - a.y) + a.x) {
      inside = !inside;
    }
  }
  return inside;
}

TEST(ShapesGeometry, AreasMatchTheClosedForms) {
  // Pixel-centre counts of large shapes: the border error is ~sqrt(perimeter).
  constexpr double r = 150.0;
  const ShapePose pose{{200.3, 199.7}, r, 0.3};
  const double star_area = 5.0 * r * (0.45 * r) * std::sin(kPi / 5.0);
  const std::vector<std::pair<int, double>> expected_areas = {
      {kCircle, kPi * r * r},
      {kSquare, 2.0 * r * r},
      {kTriangle, 3.0 * std::sqrt(3.0) / 4.0 * r * r},
      {kStar, star_area},
      {kHexagon, 3.0 * std::sqrt(3.0) / 2.0 * r * r}};
  for (const auto& [category, area] : expected_areas) {
    const CoverageTile tile = sample_coverage(shape_outline(category, pose), 400, 400, 1);
    EXPECT_NEAR(covered_centres(tile), area, 0.003 * area) << "category " << category;
  }
}

TEST(ShapesGeometry, RegularPolygonsHaveEqualSidesOnTheCircumcircle) {
  const ShapePose pose{{50.0, 60.0}, 30.0, 1.1};
  for (const auto& [category, vertex_count] :
       std::vector<std::pair<int, size_t>>{{kSquare, 4}, {kTriangle, 3}, {kHexagon, 6}}) {
    const std::vector<Point> vertices = shape_outline(category, pose).vertices();
    ASSERT_EQ(vertices.size(), vertex_count) << "category " << category;
    // The side of a regular n-gon of circumradius r is 2 r sin(π / n).
    const double side = 2.0 * pose.circumradius * std::sin(kPi / vertex_count);
    for (size_t i = 0; i < vertices.size(); ++i) {
      EXPECT_NEAR(distance(vertices[i], pose.center), pose.circumradius, 1e-12);
      EXPECT_NEAR(distance(vertices[i], vertices[(i + 1) % vertices.size()]), side, 1e-12);
    }
  }
}

TEST(ShapesGeometry, StarHasFivePointsAndFiveNotches) {
  const ShapePose pose{{100.0, 100.0}, 40.0, 0.7};
  const Outline star = shape_outline(kStar, pose);
  const std::vector<Point> vertices = star.vertices();
  ASSERT_EQ(vertices.size(), 10u);
  for (size_t i = 0; i < vertices.size(); ++i) {
    const double radius = i % 2 == 0 ? 40.0 : 0.45 * 40.0;
    EXPECT_NEAR(distance(vertices[i], pose.center), radius, 1e-12) << "vertex " << i;
  }
  EXPECT_TRUE(star.contains(pose.center));
  for (size_t i = 0; i < vertices.size(); i += 2) {
    // Between two neighbouring points lies a notch: it is not part of the star.
    const Point& a = vertices[i];
    const Point& b = vertices[(i + 2) % vertices.size()];
    EXPECT_FALSE(star.contains({(a.x + b.x) / 2.0, (a.y + b.y) / 2.0})) << "point " << i;
  }
}

TEST(ShapesGeometry, RotationPlacesTheFirstVertex) {
  for (double rotation : {0.0, 0.5, 2.0, 4.0, 6.2}) {
    const ShapePose pose{{30.0, 40.0}, 20.0, rotation};
    const Point first = shape_outline(kHexagon, pose).vertices().front();
    EXPECT_NEAR(first.x, 30.0 + 20.0 * std::cos(rotation), 1e-12);
    EXPECT_NEAR(first.y, 40.0 + 20.0 * std::sin(rotation), 1e-12);
  }
}

TEST(ShapesGeometry, CentreCoverageMatchesAnIndependentInsideTest) {
  Random random(5);
  constexpr int kHeight = 100, kWidth = 120;
  for (int trial = 0; trial < 200; ++trial) {
    const int category = static_cast<int>(random.uniform_int(1, 5));
    // Some shapes reach past the border: coverage is clipped to the image.
    const ShapePose pose{{random.uniform(-10.0, kWidth + 10.0), random.uniform(-10.0, 110.0)},
                         random.uniform(8.0, 64.0),
                         random.uniform(0.0, 2.0 * kPi)};
    const CoverageTile tile = sample_coverage(shape_outline(category, pose), kHeight, kWidth, 1);
    ASSERT_GE(tile.x_begin, 0);
    ASSERT_GE(tile.y_begin, 0);
    ASSERT_LE(tile.x_end, kWidth);
    ASSERT_LE(tile.y_end, kHeight);
    for (int y = 0; y < kHeight; ++y) {
      for (int x = 0; x < kWidth; ++x) {
        ASSERT_EQ(coverage_at(tile, x, y) > 0,
                  reference_contains(category, pose, {x + 0.5, y + 0.5}))
            << "trial " << trial << ", category " << category << ", pixel (" << x << ", " << y
            << ")";
      }
    }
  }
}

TEST(ShapesGeometry, AntiAliasingCountsTheSubsamplesInside) {
  // The rectangle [10.5, 20.25] × [5, 9]: subsample columns sit at x + 1/8, 3/8, 5/8, 7/8.
  const Outline rectangle =
      Outline::polygon({{10.5, 5.0}, {20.25, 5.0}, {20.25, 9.0}, {10.5, 9.0}});
  const CoverageTile tile = sample_coverage(rectangle, 32, 32, 4);
  EXPECT_EQ(tile.samples_per_pixel, 16);
  EXPECT_EQ(coverage_at(tile, 10, 6), 8);   // right half
  EXPECT_EQ(coverage_at(tile, 15, 6), 16);  // inside
  EXPECT_EQ(coverage_at(tile, 20, 6), 4);   // first quarter
  EXPECT_EQ(coverage_at(tile, 20, 5), 4);   // the top edge lies on a pixel boundary
  EXPECT_EQ(coverage_at(tile, 9, 6), 0);
  EXPECT_EQ(coverage_at(tile, 15, 9), 0);  // below the bottom edge
  int64_t total = 0;
  for (uint8_t samples : tile.inside_samples) total += samples;
  EXPECT_EQ(total, 624);  // 16 per unit area, area 9.75 × 4
}

TEST(ShapesGeometry, StrokesHaveTheirWidth) {
  const CoverageTile stroke =
      sample_coverage(stroke_outline({10.0, 20.0}, {90.0, 80.0}, 1.5), 100, 100, 4);
  int64_t total = 0;
  for (uint8_t samples : stroke.inside_samples) total += samples;
  EXPECT_NEAR(total / 16.0, 100.0 * 1.5, 3.0);  // length 100
  const CoverageTile dot =
      sample_coverage(stroke_outline({10.0, 20.0}, {10.0, 20.0}, 2.0), 50, 50, 4);
  for (uint8_t samples : dot.inside_samples) EXPECT_EQ(samples, 0);
}

TEST(ShapesGeometry, RejectsUnsupportedArguments) {
  EXPECT_THROW(shape_outline(0, {{0.0, 0.0}, 10.0, 0.0}), c10::ValueError);
  EXPECT_THROW(shape_outline(6, {{0.0, 0.0}, 10.0, 0.0}), c10::ValueError);
  EXPECT_THROW(sample_coverage(Outline::disc({5.0, 5.0}, 3.0), 10, 10, 3), c10::ValueError);
}

TEST(ShapesCanvas, GradientRunsFromCornerToCorner) {
  const Rgb start{10.0, 20.0, 30.0}, end{110.0, 220.0, 0.0};
  // Direction +x: the left edge has the start colour, the right edge the end colour.
  const LinearGradient rightwards = make_linear_gradient(start, end, 0.0, 50, 100);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(rightwards.color_at({0.0, 17.0})[c], start[c], 1e-9);
    EXPECT_NEAR(rightwards.color_at({100.0, 40.0})[c], end[c], 1e-9);
    EXPECT_NEAR(rightwards.color_at({50.0, 3.0})[c], (start[c] + end[c]) / 2.0, 1e-9);
  }
  // Direction −y (angle 3π/2): from the bottom edge to the top one.
  const LinearGradient upwards = make_linear_gradient(start, end, 1.5 * kPi, 50, 100);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(upwards.color_at({70.0, 50.0})[c], start[c], 1e-9);
    EXPECT_NEAR(upwards.color_at({20.0, 0.0})[c], end[c], 1e-9);
  }
}

TEST(ShapesCanvas, BlendingUsesCoverageAsOpacity) {
  Canvas canvas(8, 8);
  canvas.paint(make_linear_gradient({0.0, 100.0, 200.0}, {0.0, 100.0, 200.0}, 0.0, 8, 8));
  // Pixel (2, 1) half covered, (3, 1) fully: the rectangle [2.5, 4] × [1, 2].
  canvas.blend(
      sample_coverage(Outline::polygon({{2.5, 1.0}, {4.0, 1.0}, {4.0, 2.0}, {2.5, 2.0}}), 8, 8, 4),
      {255.0, 0.0, 100.0});
  Random random(6);
  const at::Tensor image = canvas.quantize_with_noise(0.0, random);
  ASSERT_EQ(image.sizes(), (at::IntArrayRef{3, 8, 8}));
  ASSERT_EQ(image.scalar_type(), at::kByte);
  auto pixels = image.accessor<uint8_t, 3>();
  const int half[] = {128, 50, 150};  // 127.5 rounds away from zero
  const int full[] = {255, 0, 100};
  const int untouched[] = {0, 100, 200};
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(pixels[c][1][2], half[c]);
    EXPECT_EQ(pixels[c][1][3], full[c]);
    EXPECT_EQ(pixels[c][1][1], untouched[c]);
    EXPECT_EQ(pixels[c][2][3], untouched[c]);
  }
}

TEST(ShapesCanvas, NoiseIsClampedToTheByteRange) {
  Canvas canvas(16, 16);
  canvas.paint(make_linear_gradient({0.0, 255.0, 128.0}, {0.0, 255.0, 128.0}, 0.0, 16, 16));
  Random random(7);
  const at::Tensor image = canvas.quantize_with_noise(12.0, random).to(at::kFloat);
  // Half the noise on a channel at 0 or 255 is clamped away; the mid-grey channel keeps it all.
  EXPECT_GT(image[0].max().item<float>(), 0.0f);
  EXPECT_EQ(image[0].min().item<float>(), 0.0f);
  EXPECT_EQ(image[1].max().item<float>(), 255.0f);
  EXPECT_NEAR(image[2].mean().item<float>(), 128.0f, 2.0f);
  EXPECT_NEAR(image[2].std().item<float>(), 12.0f, 1.5f);
}

}  // namespace
}  // namespace roiserve::detector
