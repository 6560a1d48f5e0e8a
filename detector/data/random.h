#pragma once
// A pseudo-random generator whose every draw is specified here, so a seed gives
// the same numbers with any compiler and standard library: the std::
// distributions are implementation-defined and differ between libstdc++ and
// libc++. The floating-point draws are defined in random.cpp, which the library
// compiles without fused multiply-adds, so no caller's flags can change them.
#include <cstdint>

namespace roiserve::detector {

// SplitMix64 (Steele, Lea and Flood, 2014): 64 bits of state, passes BigCrush,
// and any seed, zero included, is a good one.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t next_u64();

  // Uniform in [0, 1), on the grid of multiples of 2^-53.
  double uniform();

  // Uniform in [low, high).
  double uniform(double low, double high);

  // Uniform integer in [low, high], without modulo bias.
  int64_t uniform_int(int64_t low, int64_t high);

  // Standard normal, by the ziggurat method.
  double normal();

  // The SplitMix64 output function, also used to derive independent seeds.
  static uint64_t mix64(uint64_t value);

 private:
  uint64_t state_;
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

}  // namespace roiserve::detector
