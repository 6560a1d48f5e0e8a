#include "detector/data/portable_math.h"

#include <array>
#include <cmath>

namespace roiserve::detector {
namespace {

constexpr double kLn2 = 0x1.62e42fefa39efp-1;
// ln 2 split so that k · kLn2High is exact for |k| < 2^11.
constexpr double kLn2High = 0x1.62e42fee00000p-1;
constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
constexpr double kLog2E = 0x1.71547652b82fep0;
constexpr double kSqrtHalf = 0x1.6a09e667f3bcdp-1;
// π/2 split so that k · kHalfPiHigh is exact for the small k we see
// (Cody-Waite reduction).
constexpr double kHalfPiHigh = 0x1.921fb54400000p0;
constexpr double kHalfPiLow = 0x1.0b4611a626331p-34;
constexpr double kTwoOverPi = 0x1.45f306dc9c883p-1;

// 1/1, 1/3, 1/5, ...: the atanh series, whose terms at |s| <= 0.172 fall below
// 2^-53 of the sum after 12 terms.
constexpr std::array<double, 12> odd_reciprocals() {
  std::array<double, 12> terms{};
  for (int i = 0; i < 12; ++i) terms[i] = 1.0 / (2 * i + 1);
  return terms;
}

// 1/n! for n = 0..19: Taylor terms of sine and cosine, below 2^-53 at |r| <= π/4
// from n = 19 on, and of the exponential, below 2^-53 at |r| <= ln(2)/2 from
// n = 14 on.
constexpr std::array<double, 20> inverse_factorials() {
  std::array<double, 20> terms{};
  double factorial = 1.0;
  for (int n = 0; n < 20; ++n) {
    if (n > 0) factorial *= n;
    terms[n] = 1.0 / factorial;
  }
  return terms;
}

constexpr std::array<double, 12> kOddReciprocals = odd_reciprocals();
constexpr std::array<double, 20> kInverseFactorials = inverse_factorials();

}  // namespace

double portable_log(double value) {
  // value = mantissa · 2^exponent with mantissa in [√½, √2), where
  // log(mantissa) = 2 atanh(s) with s = (mantissa − 1) / (mantissa + 1) small.
  int exponent = 0;
  double mantissa = std::frexp(value, &exponent);  // exact
  if (mantissa < kSqrtHalf) {
    mantissa *= 2.0;
    exponent -= 1;
  }
  const double s = (mantissa - 1.0) / (mantissa + 1.0);
  const double s_squared = s * s;
  double series = kOddReciprocals.back();
  for (int i = static_cast<int>(kOddReciprocals.size()) - 2; i >= 0; --i) {
    series = series * s_squared + kOddReciprocals[i];
  }
  return exponent * kLn2 + 2.0 * s * series;
}

double portable_exp(double value) {
  // value = k · ln 2 + r with |r| <= ln(2)/2; exp(value) = 2^k · exp(r).
  const double k = std::floor(value * kLog2E + 0.5);
  const double r = (value - k * kLn2High) - k * kLn2Low;
  double series = kInverseFactorials[14];
  for (int n = 13; n >= 0; --n) series = series * r + kInverseFactorials[n];
  return std::ldexp(series, static_cast<int>(k));  // exact
}

SinCos portable_sincos(double angle) {
  // angle = quadrant · π/2 + r with |r| <= π/4, where the Taylor series converge fast.
  const double quadrant = std::floor(angle * kTwoOverPi + 0.5);
  const double r = (angle - quadrant * kHalfPiHigh) - quadrant * kHalfPiLow;
  const double r_squared = r * r;
  double sin_series = kInverseFactorials[19];
  double cos_series = kInverseFactorials[18];
  for (int n = 17; n >= 1; n -= 2) {
    sin_series = kInverseFactorials[n] - r_squared * sin_series;
    cos_series = kInverseFactorials[n - 1] - r_squared * cos_series;
  }
  const double sin_r = r * sin_series;
  const double cos_r = cos_series;
  switch (static_cast<int>(quadrant - 4.0 * std::floor(quadrant / 4.0))) {
    case 0:
      return {sin_r, cos_r};
    case 1:
      return {cos_r, -sin_r};
    case 2:
      return {-sin_r, -cos_r};
    default:
      return {-cos_r, sin_r};
  }
}

}  // namespace roiserve::detector
