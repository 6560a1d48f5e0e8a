// The generator's random numbers and portable maths: reference outputs, ranges
// and distributions.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>

#include "detector/data/portable_math.h"
#include "detector/data/random.h"

namespace roiserve::detector {
namespace {

TEST(ShapesRandom, SplitMix64MatchesReferenceOutputs) {
  // The first outputs of the reference implementation (Vigna's splitmix64.c) from seed 0.
  Random random(0);
  EXPECT_EQ(random.next_u64(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(random.next_u64(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(random.next_u64(), 0x06c45d188009454fULL);
}

TEST(ShapesRandom, UniformIntHitsEveryValueEvenlyAndNothingElse) {
  Random random(1);
  std::array<int, 6> counts{};
  constexpr int kDraws = 60000;
  for (int i = 0; i < kDraws; ++i) {
    const int64_t value = random.uniform_int(1, 6);
    ASSERT_GE(value, 1);
    ASSERT_LE(value, 6);
    ++counts[value - 1];
  }
  // 10000 expected per value, standard deviation 91.
  for (int count : counts) EXPECT_NEAR(count, kDraws / 6, 400);
}

TEST(ShapesRandom, UniformIntReachesBothEnds) {
  Random random(2);
  bool saw_low = false, saw_high = false;
  for (int i = 0; i < 5000; ++i) {
    const int64_t value = random.uniform_int(192, 384);
    ASSERT_GE(value, 192);
    ASSERT_LE(value, 384);
    saw_low |= value == 192;
    saw_high |= value == 384;
  }
  EXPECT_TRUE(saw_low);
  EXPECT_TRUE(saw_high);
}

TEST(ShapesRandom, UniformLiesInItsRangeWithTheRightMean) {
  Random random(3);
  double sum = 0.0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const double value = random.uniform(8.0, 64.0);
    ASSERT_GE(value, 8.0);
    ASSERT_LT(value, 64.0);
    sum += value;
  }
  // Standard error 56 / sqrt(12 · 100000) = 0.05.
  EXPECT_NEAR(sum / kDraws, 36.0, 0.25);
}

TEST(ShapesRandom, NormalIsStandardNormal) {
  Random random(4);
  constexpr int kDraws = 1000000;
  double sum = 0.0, sum_of_squares = 0.0;
  // Beyond 1, beyond 2.5, and in the tail past the ziggurat's base layer (3.4426) and past 4.
  constexpr std::array<double, 4> kThresholds = {1.0, 2.5, 3.442619855899, 4.0};
  constexpr std::array<double, 4> kTwoSidedTails = {0.317311, 0.0124193, 5.76109e-4, 6.33425e-5};
  std::array<int, 4> beyond{};
  for (int i = 0; i < kDraws; ++i) {
    const double value = random.normal();
    sum += value;
    sum_of_squares += value * value;
    for (size_t t = 0; t < kThresholds.size(); ++t) beyond[t] += std::abs(value) > kThresholds[t];
  }
  const double mean = sum / kDraws;
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_NEAR(sum_of_squares / kDraws - mean * mean, 1.0, 0.007);
  for (size_t t = 0; t < kThresholds.size(); ++t) {
    // Five binomial standard deviations.
    const double expected = kTwoSidedTails[t] * kDraws;
    EXPECT_NEAR(beyond[t], expected, 5.0 * std::sqrt(expected)) << "beyond " << kThresholds[t];
  }
}

TEST(ShapesRandom, PortableLogMatchesTheLibrary) {
  for (double value = 1e-300; value < 1e6; value *= 1.37) {
    const double expected = std::log(value);
    EXPECT_NEAR(portable_log(value), expected, 4e-16 * std::max(1.0, std::abs(expected)))
        << "at " << value;
  }
  EXPECT_EQ(portable_log(1.0), 0.0);
}

TEST(ShapesRandom, PortableSinCosMatchTheLibrary) {
  for (double angle = -20.0; angle <= 20.0; angle += 0.001953) {
    const SinCos result = portable_sincos(angle);
    EXPECT_NEAR(result.sin, std::sin(angle), 1e-15) << "at " << angle;
    EXPECT_NEAR(result.cos, std::cos(angle), 1e-15) << "at " << angle;
  }
}

}  // namespace
}  // namespace roiserve::detector
