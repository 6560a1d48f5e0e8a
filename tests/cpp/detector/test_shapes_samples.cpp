// Every property the shapes-v1 specification promises, checked on 200
// generated samples against the drawing metadata and against ground truth
// recomputed independently (shapes_support.h).
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "detector/data/coverage.h"
#include "detector/data/shapes_dataset.h"
#include "shapes_support.h"

namespace roiserve::detector {
namespace {

using test::shapes_test_full_masks;
using test::shapes_test_samples;

constexpr double kTwoPi = 2.0 * 3.14159265358979323846;

// Channels at least 40 (3.3 σ at most) from 0 and 255 lose next to no noise to clamping.
bool far_from_clamping(double value) {
  return value >= 40.0 && value <= 215.0;
}

at::Tensor dilate(const at::Tensor& mask, int64_t radius) {
  const at::Tensor as_float = mask.to(at::kFloat).unsqueeze(0);
  return at::max_pool2d(as_float, {2 * radius + 1, 2 * radius + 1}, {1, 1}, {radius, radius})
             .squeeze(0) > 0.5f;
}

// [H, W] bool: the pixels of the tile with at least `min_samples` samples inside.
at::Tensor coverage_mask(const CoverageTile& tile, int64_t height, int64_t width,
                         int min_samples = 1) {
  at::Tensor mask = at::zeros({height, width}, at::kBool);
  auto pixels = mask.accessor<bool, 2>();
  for (int y = tile.y_begin; y < tile.y_end; ++y) {
    for (int x = tile.x_begin; x < tile.x_end; ++x) pixels[y][x] = tile.at(x, y) >= min_samples;
  }
  return mask;
}

// The pixels that show object i's fill alone: every anti-aliasing sample
// inside it, none inside a later object.
at::Tensor solid_pixels(const ShapesSample& sample, size_t i) {
  const int height = static_cast<int>(sample.image.size(1));
  const int width = static_cast<int>(sample.image.size(2));
  const auto coverage = [&](const ShapeObject& object) {
    return sample_coverage(shape_outline(object.category, object.pose), height, width, 4);
  };
  const CoverageTile own = coverage(sample.objects[i]);
  at::Tensor solid = coverage_mask(own, height, width, own.samples_per_pixel);
  for (size_t later = i + 1; later < sample.objects.size(); ++later) {
    solid &= coverage_mask(coverage(sample.objects[later]), height, width).logical_not();
  }
  return solid;
}

TEST(ShapesSamples, ImagesAreRgbBytesOfSizesInRange) {
  int64_t smallest = 1000, largest = 0;
  for (const ShapesSample& sample : shapes_test_samples()) {
    ASSERT_EQ(sample.image.dim(), 3);
    ASSERT_EQ(sample.image.size(0), 3);
    ASSERT_EQ(sample.image.scalar_type(), at::kByte);
    for (int64_t size : {sample.image.size(1), sample.image.size(2)}) {
      EXPECT_GE(size, 192);
      EXPECT_LE(size, 384);
      smallest = std::min(smallest, size);
      largest = std::max(largest, size);
    }
  }
  // 400 draws from 193 sizes reach near both ends.
  EXPECT_LE(smallest, 200);
  EXPECT_GE(largest, 376);
}

TEST(ShapesSamples, ObjectCountsAndCategoriesCoverTheirRanges) {
  std::set<size_t> counts;
  std::set<int> categories;
  for (const ShapesSample& sample : shapes_test_samples()) {
    EXPECT_GE(sample.objects.size(), 1u);
    EXPECT_LE(sample.objects.size(), 6u);
    counts.insert(sample.objects.size());
    for (const ShapeObject& object : sample.objects) {
      EXPECT_GE(object.category, 1);
      EXPECT_LE(object.category, 5);
      categories.insert(object.category);
    }
  }
  EXPECT_EQ(counts, (std::set<size_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(categories, (std::set<int>{1, 2, 3, 4, 5}));
}

TEST(ShapesSamples, CategoriesHaveTheirNames) {
  const std::string expected[] = {"circle", "square", "triangle", "star", "hexagon"};
  for (int category = 1; category <= 5; ++category) {
    EXPECT_EQ(shapes_category_name(category), expected[category - 1]);
  }
  EXPECT_THROW(shapes_category_name(0), c10::ValueError);
  EXPECT_THROW(shapes_category_name(6), c10::ValueError);
}

TEST(ShapesSamples, MasksAreBoolImagesOfTheSampleSize) {
  for (const ShapesSample& sample : shapes_test_samples()) {
    for (const ShapeObject& object : sample.objects) {
      ASSERT_EQ(object.mask.scalar_type(), at::kBool);
      ASSERT_EQ(object.mask.sizes(), (at::IntArrayRef{sample.image.size(1), sample.image.size(2)}));
    }
  }
}

TEST(ShapesSamples, BoxesAreTightAroundNonEmptyVisibleMasks) {
  for (const ShapesSample& sample : shapes_test_samples()) {
    for (const ShapeObject& object : sample.objects) {
      const at::Tensor pixels = object.mask.nonzero();  // [N, 2] (y, x)
      ASSERT_GT(pixels.size(0), 0);
      const int x1 = pixels.select(1, 1).min().item<int>();
      const int y1 = pixels.select(1, 0).min().item<int>();
      const int x2 = pixels.select(1, 1).max().item<int>() + 1;
      const int y2 = pixels.select(1, 0).max().item<int>() + 1;
      EXPECT_EQ(object.box, (std::array<int, 4>{x1, y1, x2, y2}));
    }
  }
}

TEST(ShapesSamples, VisibleMaskIsCoverageMinusLaterObjects) {
  const auto& samples = shapes_test_samples();
  for (size_t s = 0; s < samples.size(); ++s) {
    const std::vector<at::Tensor>& full = shapes_test_full_masks()[s];
    for (size_t i = 0; i < full.size(); ++i) {
      at::Tensor expected = full[i].clone();
      for (size_t later = i + 1; later < full.size(); ++later) {
        expected &= full[later].logical_not();
      }
      EXPECT_TRUE(at::equal(samples[s].objects[i].mask, expected))
          << "sample " << s << ", object " << i;
    }
  }
}

TEST(ShapesSamples, VisibleMasksAreDisjoint) {
  for (const ShapesSample& sample : shapes_test_samples()) {
    at::Tensor owners = at::zeros({sample.image.size(1), sample.image.size(2)}, at::kInt);
    for (const ShapeObject& object : sample.objects) owners += object.mask.to(at::kInt);
    EXPECT_LE(owners.max().item<int>(), 1);
  }
}

TEST(ShapesSamples, NoObjectIsMoreThan40PercentHidden) {
  const auto& samples = shapes_test_samples();
  int occluded_objects = 0;
  double most_hidden = 0.0;
  for (size_t s = 0; s < samples.size(); ++s) {
    for (size_t i = 0; i < samples[s].objects.size(); ++i) {
      const auto full = shapes_test_full_masks()[s][i].sum().item<int64_t>();
      const auto visible = samples[s].objects[i].mask.sum().item<int64_t>();
      ASSERT_GT(full, 0);
      const double hidden = 1.0 - static_cast<double>(visible) / full;
      EXPECT_LE(hidden, 0.4) << "sample " << s << ", object " << i;
      occluded_objects += visible < full;
      most_hidden = std::max(most_hidden, hidden);
    }
  }
  // Occlusion does happen, up to near the limit.
  EXPECT_GE(occluded_objects, 20);
  EXPECT_GE(most_hidden, 0.3);
}

TEST(ShapesSamples, ObjectsLieInsideTheImage) {
  for (const ShapesSample& sample : shapes_test_samples()) {
    const double height = sample.image.size(1), width = sample.image.size(2);
    for (const ShapeObject& object : sample.objects) {
      EXPECT_GE(object.pose.circumradius, 8.0);
      EXPECT_LE(object.pose.circumradius, 64.0);
      EXPECT_GE(object.pose.rotation, 0.0);
      EXPECT_LT(object.pose.rotation, kTwoPi);
      const Outline outline = shape_outline(object.category, object.pose);
      // A disc has no vertices: its extreme points are centre ± radius.
      std::vector<Point> extremes = outline.vertices();
      if (object.category == kCircle) {
        const Point c = object.pose.center;
        const double r = object.pose.circumradius;
        extremes = {{c.x - r, c.y}, {c.x + r, c.y}, {c.x, c.y - r}, {c.x, c.y + r}};
      }
      for (const Point& point : extremes) {
        EXPECT_GE(point.x, 0.0);
        EXPECT_LE(point.x, width);
        EXPECT_GE(point.y, 0.0);
        EXPECT_LE(point.y, height);
      }
    }
  }
}

TEST(ShapesSamples, FillDiffersFromTheBackgroundAtTheCentreByAtLeast120) {
  for (const ShapesSample& sample : shapes_test_samples()) {
    for (const ShapeObject& object : sample.objects) {
      const Rgb background = sample.background.color_at(object.pose.center);
      double distance = 0.0;
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(object.fill_color[c], std::round(object.fill_color[c]));
        EXPECT_GE(object.fill_color[c], 0.0);
        EXPECT_LE(object.fill_color[c], 255.0);
        distance += std::abs(object.fill_color[c] - background[c]);
      }
      EXPECT_GE(distance, 120.0);
    }
  }
}

// The metadata above describes the image: where nothing else covers any part
// of a pixel inside an object, the pixel is its fill colour plus noise.
TEST(ShapesSamples, ImageShowsEachFillInsideItsObject) {
  int checked_channels = 0;
  for (const ShapesSample& sample : shapes_test_samples()) {
    const at::Tensor image = sample.image.to(at::kDouble);
    const double noise = std::sqrt(sample.noise_sigma * sample.noise_sigma + 1.0 / 12.0);
    for (size_t i = 0; i < sample.objects.size(); ++i) {
      const ShapeObject& object = sample.objects[i];
      const at::Tensor interior = solid_pixels(sample, i);
      const auto pixels = interior.sum().item<int64_t>();
      if (pixels < 30) continue;
      for (int c = 0; c < 3; ++c) {
        if (!far_from_clamping(object.fill_color[c])) continue;
        const double mean = image[c].masked_select(interior).mean().item<double>();
        // Four standard errors of the mean.
        EXPECT_NEAR(mean, object.fill_color[c], 0.05 + 4.0 * noise / std::sqrt(pixels));
        ++checked_channels;
      }
    }
  }
  EXPECT_GE(checked_channels, 500);
}

// Along an object's border, where it lies over the background alone, a pixel
// is the fill and the gradient mixed by the fraction of 4 × 4 samples inside.
TEST(ShapesSamples, ObjectBordersAreAntiAliased) {
  double absolute_residuals = 0.0, expected_absolute_noise = 0.0;
  int64_t count = 0;
  for (const ShapesSample& sample : shapes_test_samples()) {
    const int height = static_cast<int>(sample.image.size(1));
    const int width = static_cast<int>(sample.image.size(2));
    std::vector<CoverageTile> coverages;
    for (const ShapeObject& object : sample.objects) {
      coverages.push_back(
          sample_coverage(shape_outline(object.category, object.pose), height, width, 4));
    }
    at::Tensor under_lines = at::zeros({height, width}, at::kBool);
    for (const ClutterLine& line : sample.clutter_lines) {
      under_lines |= coverage_mask(
          sample_coverage(stroke_outline(line.from, line.to, line.width), height, width, 4), height,
          width);
    }
    const auto pixels = sample.image.accessor<uint8_t, 3>();
    for (size_t i = 0; i < coverages.size(); ++i) {
      at::Tensor others = under_lines.clone();
      for (size_t j = 0; j < coverages.size(); ++j) {
        if (j != i) others |= coverage_mask(coverages[j], height, width);
      }
      const auto touched = others.accessor<bool, 2>();
      const CoverageTile& own = coverages[i];
      for (int y = own.y_begin; y < own.y_end; ++y) {
        for (int x = own.x_begin; x < own.x_end; ++x) {
          const int inside = own.at(x, y);
          if (inside == 0 || inside == own.samples_per_pixel || touched[y][x]) continue;
          const double opacity = static_cast<double>(inside) / own.samples_per_pixel;
          const Rgb background = sample.background.color_at({x + 0.5, y + 0.5});
          for (int c = 0; c < 3; ++c) {
            const double expected =
                opacity * sample.objects[i].fill_color[c] + (1.0 - opacity) * background[c];
            if (!far_from_clamping(expected)) continue;
            absolute_residuals += std::abs(pixels[c][y][x] - expected);
            expected_absolute_noise += std::max(0.25, sample.noise_sigma * 0.7979);
            ++count;
          }
        }
      }
    }
  }
  ASSERT_GE(count, 5000);
  EXPECT_NEAR(absolute_residuals / count, expected_absolute_noise / count, 0.5);
}

// Away from objects and lines the image is the background gradient plus noise
// of the recorded σ (and the rounding to bytes, variance 1/12).
TEST(ShapesSamples, BackgroundIsTheGradientWithNoiseOfTheRecordedSigma) {
  const auto& samples = shapes_test_samples();
  for (size_t s = 0; s < samples.size(); ++s) {
    const ShapesSample& sample = samples[s];
    const int64_t height = sample.image.size(1), width = sample.image.size(2);
    at::Tensor objects = at::zeros({height, width}, at::kBool);
    for (const at::Tensor& full : shapes_test_full_masks()[s]) objects |= full;
    at::Tensor lines = at::zeros({height, width}, at::kBool);
    for (const ClutterLine& line : sample.clutter_lines) {
      const CoverageTile footprint =
          sample_coverage(stroke_outline(line.from, line.to, line.width), height, width, 4);
      lines |= coverage_mask(footprint, height, width);
    }
    const at::Tensor near_something = dilate(objects, 2) | dilate(lines, 1);
    const at::Tensor far_mask = near_something.logical_not();
    const auto far = far_mask.accessor<bool, 2>();
    const auto pixels = sample.image.accessor<uint8_t, 3>();
    double sum = 0.0, sum_of_squares = 0.0;
    int64_t count = 0;
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        if (!far[y][x]) continue;
        const Rgb expected = sample.background.color_at({x + 0.5, y + 0.5});
        for (int c = 0; c < 3; ++c) {
          if (!far_from_clamping(expected[c])) continue;
          const double residual = pixels[c][y][x] - expected[c];
          sum += residual;
          sum_of_squares += residual * residual;
          ++count;
        }
      }
    }
    if (count < 2000) continue;
    const double noise = std::sqrt(sample.noise_sigma * sample.noise_sigma + 1.0 / 12.0);
    const double mean = sum / count;
    EXPECT_NEAR(mean, 0.0, 0.02 + 4.0 * noise / std::sqrt(count)) << "sample " << s;
    EXPECT_NEAR(std::sqrt(sum_of_squares / count - mean * mean), noise, 0.03 + 0.05 * noise)
        << "sample " << s;
  }
}

TEST(ShapesSamples, NoiseSigmaCoversItsRange) {
  double smallest = 100.0, largest = 0.0;
  for (const ShapesSample& sample : shapes_test_samples()) {
    EXPECT_GE(sample.noise_sigma, 0.0);
    EXPECT_LE(sample.noise_sigma, 12.0);
    smallest = std::min(smallest, sample.noise_sigma);
    largest = std::max(largest, sample.noise_sigma);
  }
  EXPECT_LE(smallest, 0.5);
  EXPECT_GE(largest, 11.5);
}

TEST(ShapesSamples, ClutterLinesCoverTheirRanges) {
  std::set<size_t> counts;
  for (const ShapesSample& sample : shapes_test_samples()) {
    const double height = sample.image.size(1), width = sample.image.size(2);
    EXPECT_LE(sample.clutter_lines.size(), 4u);
    counts.insert(sample.clutter_lines.size());
    for (const ClutterLine& line : sample.clutter_lines) {
      EXPECT_GE(line.width, 1.0);
      EXPECT_LE(line.width, 2.0);
      for (const Point& end : {line.from, line.to}) {
        EXPECT_GE(end.x, 0.0);
        EXPECT_LE(end.x, width);
        EXPECT_GE(end.y, 0.0);
        EXPECT_LE(end.y, height);
      }
    }
  }
  EXPECT_EQ(counts, (std::set<size_t>{0, 1, 2, 3, 4}));
}

// Where a line covers a whole pixel and nothing drawn later touches it, the
// pixel is the line's colour plus noise.
TEST(ShapesSamples, ClutterLinesShowWhereNothingCoversThem) {
  double absolute_residuals = 0.0, expected_absolute_noise = 0.0;
  int64_t count = 0;
  for (const ShapesSample& sample : shapes_test_samples()) {
    const int height = static_cast<int>(sample.image.size(1));
    const int width = static_cast<int>(sample.image.size(2));
    at::Tensor drawn_later = at::zeros({height, width}, at::kBool);
    for (const ShapeObject& object : sample.objects) {
      const CoverageTile footprint =
          sample_coverage(shape_outline(object.category, object.pose), height, width, 4);
      drawn_later |= coverage_mask(footprint, height, width);
    }
    const auto pixels = sample.image.accessor<uint8_t, 3>();
    for (auto line = sample.clutter_lines.rbegin(); line != sample.clutter_lines.rend(); ++line) {
      const CoverageTile footprint =
          sample_coverage(stroke_outline(line->from, line->to, line->width), height, width, 4);
      const auto hidden = drawn_later.accessor<bool, 2>();
      for (int y = footprint.y_begin; y < footprint.y_end; ++y) {
        for (int x = footprint.x_begin; x < footprint.x_end; ++x) {
          if (footprint.at(x, y) != footprint.samples_per_pixel || hidden[y][x]) continue;
          for (int c = 0; c < 3; ++c) {
            if (!far_from_clamping(line->color[c])) continue;
            absolute_residuals += std::abs(pixels[c][y][x] - line->color[c]);
            // E|N(0, σ²)| = σ √(2/π), and at least the rounding's 1/4.
            expected_absolute_noise += std::max(0.25, sample.noise_sigma * 0.7979);
            ++count;
          }
        }
      }
      drawn_later |= coverage_mask(footprint, height, width);
    }
  }
  ASSERT_GE(count, 200);
  EXPECT_NEAR(absolute_residuals / count, expected_absolute_noise / count, 0.5);
}

// Lines lie beneath the objects: inside an object, a pixel a line runs through
// still shows the object's fill.
TEST(ShapesSamples, ObjectsCoverTheClutterLines) {
  double absolute_residuals = 0.0, expected_absolute_noise = 0.0;
  int64_t count = 0;
  for (const ShapesSample& sample : shapes_test_samples()) {
    const int height = static_cast<int>(sample.image.size(1));
    const int width = static_cast<int>(sample.image.size(2));
    at::Tensor under_lines = at::zeros({height, width}, at::kBool);
    for (const ClutterLine& line : sample.clutter_lines) {
      const CoverageTile footprint =
          sample_coverage(stroke_outline(line.from, line.to, line.width), height, width, 4);
      under_lines |= coverage_mask(footprint, height, width);
    }
    const auto pixels = sample.image.accessor<uint8_t, 3>();
    for (size_t i = 0; i < sample.objects.size(); ++i) {
      const ShapeObject& object = sample.objects[i];
      const at::Tensor crossed_mask = solid_pixels(sample, i) & under_lines;
      const auto crossed = crossed_mask.accessor<bool, 2>();
      for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
          if (!crossed[y][x]) continue;
          for (int c = 0; c < 3; ++c) {
            if (!far_from_clamping(object.fill_color[c])) continue;
            absolute_residuals += std::abs(pixels[c][y][x] - object.fill_color[c]);
            expected_absolute_noise += std::max(0.25, sample.noise_sigma * 0.7979);
            ++count;
          }
        }
      }
    }
  }
  ASSERT_GE(count, 200);
  EXPECT_NEAR(absolute_residuals / count, expected_absolute_noise / count, 0.5);
}

}  // namespace
}  // namespace roiserve::detector
