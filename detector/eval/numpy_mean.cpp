#include "detector/eval/numpy_mean.h"

#include <algorithm>
#include <stdexcept>

namespace roiserve::eval::detail {
namespace {

constexpr size_t kBufferSize = 8192;        // numpy's default ufunc buffer (numpy.getbufsize())
constexpr size_t kPairwiseBlockSize = 128;  // numpy's PW_BLOCKSIZE
constexpr size_t kAccumulators = 8;

// numpy's pairwise_sum for doubles (numpy/core/src/umath/loops_utils.h.src).
double pairwise_sum(const double* values, size_t n) {
  if (n < kAccumulators) {
    double sum = 0.;
    for (size_t i = 0; i < n; ++i) sum += values[i];
    return sum;
  }
  if (n <= kPairwiseBlockSize) {
    double partial[kAccumulators];
    std::copy(values, values + kAccumulators, partial);
    size_t i = kAccumulators;
    for (; i < n - n % kAccumulators; i += kAccumulators) {
      for (size_t j = 0; j < kAccumulators; ++j) partial[j] += values[i + j];
    }
    double sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                 ((partial[4] + partial[5]) + (partial[6] + partial[7]));
    for (; i < n; ++i) sum += values[i];
    return sum;
  }
  size_t half = n / 2;
  half -= half % kAccumulators;
  return pairwise_sum(values, half) + pairwise_sum(values + half, n - half);
}

}  // namespace

double numpy_mean(const std::vector<double>& values) {
  if (values.empty()) throw std::invalid_argument("numpy_mean: no values");
  double sum = 0.;
  for (size_t begin = 0; begin < values.size(); begin += kBufferSize) {
    sum += pairwise_sum(values.data() + begin, std::min(kBufferSize, values.size() - begin));
  }
  return sum / static_cast<double>(values.size());
}

}  // namespace roiserve::eval::detail
