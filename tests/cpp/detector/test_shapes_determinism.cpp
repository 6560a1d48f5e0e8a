// A (seed, index) pair names one sample, whatever else the process does, and
// names the same one on every machine.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "detector/data/shapes_dataset.h"

namespace roiserve::detector {
namespace {

void expect_identical(const ShapesSample& a, const ShapesSample& b) {
  ASSERT_TRUE(at::equal(a.image, b.image));
  ASSERT_EQ(a.objects.size(), b.objects.size());
  for (size_t i = 0; i < a.objects.size(); ++i) {
    EXPECT_EQ(a.objects[i].category, b.objects[i].category);
    EXPECT_EQ(a.objects[i].box, b.objects[i].box);
    EXPECT_TRUE(at::equal(a.objects[i].mask, b.objects[i].mask));
    EXPECT_EQ(a.objects[i].pose.center.x, b.objects[i].pose.center.x);
    EXPECT_EQ(a.objects[i].pose.center.y, b.objects[i].pose.center.y);
    EXPECT_EQ(a.objects[i].pose.circumradius, b.objects[i].pose.circumradius);
    EXPECT_EQ(a.objects[i].pose.rotation, b.objects[i].pose.rotation);
    EXPECT_EQ(a.objects[i].fill_color, b.objects[i].fill_color);
  }
  EXPECT_EQ(a.clutter_lines.size(), b.clutter_lines.size());
  EXPECT_EQ(a.noise_sigma, b.noise_sigma);
}

// FNV-1a over everything a training pipeline reads from a sample.
class Fingerprint {
 public:
  void add(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * 0x100000001b3ULL;
  }
  void add(const at::Tensor& tensor) {
    const at::Tensor contiguous = tensor.contiguous();
    add(contiguous.data_ptr(), contiguous.nbytes());
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

uint64_t fingerprint(const ShapesSample& sample) {
  Fingerprint fingerprint;
  fingerprint.add(sample.image);
  for (const ShapeObject& object : sample.objects) {
    fingerprint.add(&object.category, sizeof(object.category));
    fingerprint.add(object.box.data(), sizeof(object.box));
    fingerprint.add(object.mask);
  }
  return fingerprint.value();
}

TEST(ShapesDeterminism, SameSeedAndIndexGiveTheSameSample) {
  for (int64_t index : {0, 1, 17, 123456789}) {
    expect_identical(generate_shapes_sample(42, index), generate_shapes_sample(42, index));
  }
}

TEST(ShapesDeterminism, OtherIndexOrSeedGivesAnotherImage) {
  const ShapesSample reference = generate_shapes_sample(42, 0);
  for (const auto& [seed, index] :
       std::vector<std::pair<uint64_t, int64_t>>{{42, 1}, {43, 0}, {0, 42}, {0, 0}}) {
    const ShapesSample other = generate_shapes_sample(seed, index);
    EXPECT_FALSE(reference.image.sizes() == other.image.sizes() &&
                 at::equal(reference.image, other.image))
        << "seed " << seed << ", index " << index;
  }
}

TEST(ShapesDeterminism, IgnoresThreadCountTorchSeedAndCallOrder) {
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::manual_seed(1);
  const ShapesSample first = generate_shapes_sample(7, 3);
  at::set_num_threads(threads);
  at::manual_seed(2);
  generate_shapes_sample(7, 4);
  expect_identical(first, generate_shapes_sample(7, 3));
}

// Pinned from a first run: a change here means the data set changed (a new
// version), or that some step rounds differently on this machine.
TEST(ShapesDeterminism, MatchesThePinnedFingerprints) {
  EXPECT_EQ(fingerprint(generate_shapes_sample(0, 0)), 0xb92ccef121827d42ULL);
  EXPECT_EQ(fingerprint(generate_shapes_sample(0, 1)), 0xcb9501a9b39261c1ULL);
  EXPECT_EQ(fingerprint(generate_shapes_sample(2024, 99)), 0xbc533b548a187756ULL);
}

TEST(ShapesDeterminism, RejectsNegativeIndices) {
  EXPECT_THROW(generate_shapes_sample(0, -1), c10::ValueError);
}

}  // namespace
}  // namespace roiserve::detector
