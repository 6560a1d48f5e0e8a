#include "detector/data/shapes_dataset.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

#include "detector/data/coverage.h"
#include "detector/data/random.h"

namespace roiserve::detector {
namespace {

constexpr int kMinImageSize = 192;
constexpr int kMaxImageSize = 384;
constexpr int kMaxClutterLines = 4;
constexpr double kMinLineWidth = 1.0;
constexpr double kMaxLineWidth = 2.0;
constexpr int kMinObjects = 1;
constexpr int kMaxObjects = 6;
constexpr double kMinCircumradius = 8.0;
constexpr double kMaxCircumradius = 64.0;
constexpr double kMinFillContrast = 120.0;
// At most 40% of an object may be hidden: visible / full >= 3 / 5.
constexpr int kMinVisibleNumerator = 3;
constexpr int kMinVisibleDenominator = 5;
constexpr double kMaxNoiseSigma = 12.0;
constexpr int kAntiAliasingSamplesPerAxis = 4;
constexpr double kTwoPi = 0x1.921fb54442d18p2;
// Keeps a shape clear of the image border despite the rounding of its vertices.
constexpr double kBorderMargin = 1e-9;

// No object on the pixel; objects are numbered from 0 in an int8_t.
constexpr int8_t kUncovered = -1;
static_assert(kMaxObjects <= 127);

Rgb random_color(Random& random) {
  Rgb color;
  for (double& channel : color) channel = static_cast<double>(random.uniform_int(0, 255));
  return color;
}

double l1_distance(const Rgb& a, const Rgb& b) {
  return std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]);
}

// A random rotation, and a centre that keeps the whole shape inside the image.
ShapePose random_pose(int category, double circumradius, int height, int width, Random& random) {
  const double rotation = random.uniform(0.0, kTwoPi);
  const Bounds extent = shape_outline(category, {{0.0, 0.0}, circumradius, rotation}).bounds();
  const double x =
      random.uniform(kBorderMargin - extent.x_min, width - kBorderMargin - extent.x_max);
  const double y =
      random.uniform(kBorderMargin - extent.y_min, height - kBorderMargin - extent.y_max);
  return {{x, y}, circumradius, rotation};
}

// Which object is on top at each pixel centre, and how many pixels each object
// covers in full and still shows.
class Occlusion {
 public:
  Occlusion(int height, int width)
      : width_(width), top_object_(static_cast<size_t>(height) * width, kUncovered) {}

  // Whether laying `footprint` (pixel-centre coverage) on top would leave any
  // object with less than 60% of its full coverage visible.
  bool hides_too_much(const CoverageTile& footprint) const {
    std::vector<int64_t> lost(full_pixels_.size(), 0);
    for_each_covered(footprint, [&](size_t pixel) {
      if (top_object_[pixel] != kUncovered) ++lost[top_object_[pixel]];
    });
    for (size_t i = 0; i < lost.size(); ++i) {
      if (kMinVisibleDenominator * (visible_pixels_[i] - lost[i]) <
          kMinVisibleNumerator * full_pixels_[i]) {
        return true;
      }
    }
    return false;
  }

  void add_on_top(const CoverageTile& footprint) {
    const auto object = static_cast<int8_t>(full_pixels_.size());
    int64_t covered = 0;
    for_each_covered(footprint, [&](size_t pixel) {
      if (top_object_[pixel] != kUncovered) --visible_pixels_[top_object_[pixel]];
      top_object_[pixel] = object;
      ++covered;
    });
    full_pixels_.push_back(covered);
    visible_pixels_.push_back(covered);
  }

  const std::vector<int8_t>& top_object() const { return top_object_; }

 private:
  template <typename Visit>
  void for_each_covered(const CoverageTile& footprint, Visit visit) const {
    for (int y = footprint.y_begin; y < footprint.y_end; ++y) {
      for (int x = footprint.x_begin; x < footprint.x_end; ++x) {
        if (footprint.at(x, y) > 0) visit(static_cast<size_t>(y) * width_ + x);
      }
    }
  }

  int width_;
  std::vector<int8_t> top_object_;  // [H, W], kUncovered or the object's index
  std::vector<int64_t> full_pixels_;
  std::vector<int64_t> visible_pixels_;
};

// Masks and tight boxes from the map of which object is on top. Every object
// keeps at least 60% of a footprint that, at circumradius 8 or more, holds
// dozens of pixel centres: no mask is empty.
void set_masks_and_boxes(const std::vector<int8_t>& top_object, int height, int width,
                         std::vector<ShapeObject>& objects) {
  std::vector<bool*> masks;
  for (ShapeObject& object : objects) {
    object.mask = at::zeros({height, width}, at::kBool);
    masks.push_back(object.mask.data_ptr<bool>());
    object.box = {width, height, 0, 0};
  }
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const size_t pixel = static_cast<size_t>(y) * width + x;
      const int8_t index = top_object[pixel];
      if (index == kUncovered) continue;
      masks[index][pixel] = true;
      ShapeObject& object = objects[index];
      object.box = {std::min(object.box[0], x), std::min(object.box[1], y),
                    std::max(object.box[2], x + 1), std::max(object.box[3], y + 1)};
    }
  }
}

}  // namespace

const char* shapes_category_name(int category) {
  TORCH_CHECK_VALUE(category >= 1 && category <= kShapeCategoryCount,
                    "shapes_category_name: category must be in 1..", kShapeCategoryCount, ", got ",
                    category);
  return kShapesCategoryNames[category - 1];
}

// The order of the draws below is part of the data set's definition: changing
// it changes every sample, which makes a new version of the data set.
ShapesSample generate_shapes_sample(uint64_t seed, int64_t index) {
  TORCH_CHECK_VALUE(index >= 0, "generate_shapes_sample: index must be >= 0, got ", index);
  Random random(Random::mix64(Random::mix64(seed) + static_cast<uint64_t>(index)));
  ShapesSample sample;

  const auto height = static_cast<int>(random.uniform_int(kMinImageSize, kMaxImageSize));
  const auto width = static_cast<int>(random.uniform_int(kMinImageSize, kMaxImageSize));
  Canvas canvas(height, width);

  const Rgb start_color = random_color(random);
  const Rgb end_color = random_color(random);
  sample.background =
      make_linear_gradient(start_color, end_color, random.uniform(0.0, kTwoPi), height, width);
  canvas.paint(sample.background);

  const auto line_count = random.uniform_int(0, kMaxClutterLines);
  for (int64_t i = 0; i < line_count; ++i) {
    ClutterLine line;
    line.from = {random.uniform(0.0, width), random.uniform(0.0, height)};
    line.to = {random.uniform(0.0, width), random.uniform(0.0, height)};
    line.width = random.uniform(kMinLineWidth, kMaxLineWidth);
    line.color = random_color(random);
    canvas.blend(sample_coverage(stroke_outline(line.from, line.to, line.width), height, width,
                                 kAntiAliasingSamplesPerAxis),
                 line.color);
    sample.clutter_lines.push_back(line);
  }

  Occlusion occlusion(height, width);
  const auto object_count = random.uniform_int(kMinObjects, kMaxObjects);
  for (int64_t i = 0; i < object_count; ++i) {
    ShapeObject object;
    object.category = static_cast<int>(random.uniform_int(1, kShapeCategoryCount));
    const double circumradius = random.uniform(kMinCircumradius, kMaxCircumradius);
    // Only the pose is redrawn, so the class and size keep their distributions
    // among the objects that are placed.
    bool placed = false;
    for (int attempt = 0; attempt < kMaxPlacementAttempts && !placed; ++attempt) {
      object.pose = random_pose(object.category, circumradius, height, width, random);
      const CoverageTile footprint =
          sample_coverage(shape_outline(object.category, object.pose), height, width, 1);
      if (!occlusion.hides_too_much(footprint)) {
        occlusion.add_on_top(footprint);
        placed = true;
      }
    }
    if (!placed) break;

    // Under 14% of all colours lie within L1 distance 120 of any one colour
    // (the L1 ball holds (4/3)·120³ of the 256³), so this ends within a few draws.
    const Rgb background = sample.background.color_at(object.pose.center);
    do {
      object.fill_color = random_color(random);
    } while (l1_distance(object.fill_color, background) < kMinFillContrast);
    canvas.blend(sample_coverage(shape_outline(object.category, object.pose), height, width,
                                 kAntiAliasingSamplesPerAxis),
                 object.fill_color);
    sample.objects.push_back(std::move(object));
  }
  set_masks_and_boxes(occlusion.top_object(), height, width, sample.objects);

  sample.noise_sigma = random.uniform(0.0, kMaxNoiseSigma);
  sample.image = canvas.quantize_with_noise(sample.noise_sigma, random);
  return sample;
}

}  // namespace roiserve::detector
