#include "detector/data/random.h"

#include <array>
#include <cmath>

#include "detector/data/portable_math.h"

namespace roiserve::detector {
namespace {

// The ziggurat of Marsaglia and Tsang (2000) in Doornik's form (2005), which
// takes the layer from bits that do not overlap the abscissa's: 128 layers of
// equal area kLayerArea under exp(−x²/2), the base reaching to kTailStart.
constexpr int kLayers = 128;
constexpr double kTailStart = 3.442619855899;
constexpr double kLayerArea = 9.91256303526217e-3;

struct Ziggurat {
  std::array<double, kLayers + 1> edge;     // right edge of each layer; edge[kLayers] = 0
  std::array<double, kLayers> inner_ratio;  // edge[i + 1] / edge[i]: the part under the curve
};

// Built from portable maths, so the tables are the same on every machine.
Ziggurat build_ziggurat() {
  Ziggurat z;
  double density = portable_exp(-0.5 * kTailStart * kTailStart);
  z.edge[0] = kLayerArea / density;  // the base layer, as a rectangle of the same area
  z.edge[1] = kTailStart;
  z.edge[kLayers] = 0.0;
  for (int i = 2; i < kLayers; ++i) {
    z.edge[i] = std::sqrt(-2.0 * portable_log(kLayerArea / z.edge[i - 1] + density));
    density = portable_exp(-0.5 * z.edge[i] * z.edge[i]);
  }
  for (int i = 0; i < kLayers; ++i) z.inner_ratio[i] = z.edge[i + 1] / z.edge[i];
  return z;
}

const Ziggurat& ziggurat() {
  static const Ziggurat tables = build_ziggurat();
  return tables;
}

}  // namespace

uint64_t Random::next_u64() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return mix64(state_);
}

double Random::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Random::uniform(double low, double high) {
  return low + (high - low) * uniform();
}

int64_t Random::uniform_int(int64_t low, int64_t high) {
  const uint64_t range = static_cast<uint64_t>(high - low) + 1;
  // Draws below 2^64 mod range would make the low residues one count more likely.
  const uint64_t threshold = (0 - range) % range;
  uint64_t draw = next_u64();
  while (draw < threshold) draw = next_u64();
  return low + static_cast<int64_t>(draw % range);
}

// Nearly 99% of draws end at the first test, with one 64-bit number and one
// multiplication; the image noise needs hundreds of thousands per sample.
double Random::normal() {
  const Ziggurat& z = ziggurat();
  for (;;) {
    const uint64_t bits = next_u64();
    // The top 53 bits give u in [−1, 1), the lowest 7 the layer.
    const double u = 2.0 * (static_cast<double>(bits >> 11) * 0x1.0p-53) - 1.0;
    const int layer = static_cast<int>(bits & (kLayers - 1));
    if (std::abs(u) < z.inner_ratio[layer]) return u * z.edge[layer];
    if (layer == 0) {
      // Beyond kTailStart, by Marsaglia's (1964) exponential rejection; 1 − uniform() is in (0, 1].
      double x, y;
      do {
        x = portable_log(1.0 - uniform()) / kTailStart;
        y = portable_log(1.0 - uniform());
      } while (-2.0 * y < x * x);
      return u < 0.0 ? x - kTailStart : kTailStart - x;
    }
    // In the layer's wedge beside the curve: a height drawn between the
    // densities at the layer's two edges, both relative to the density at x,
    // is accepted when it lies under the curve, below 1.
    const double x = u * z.edge[layer];
    const double outer_edge = portable_exp(-0.5 * (z.edge[layer] * z.edge[layer] - x * x));
    const double inner_edge = portable_exp(-0.5 * (z.edge[layer + 1] * z.edge[layer + 1] - x * x));
    if (inner_edge + uniform() * (outer_edge - inner_edge) < 1.0) return x;
  }
}

uint64_t Random::mix64(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

}  // namespace roiserve::detector
