#pragma once
// The mean of a float64 array rounded exactly as numpy.mean rounds it.
#include <vector>

namespace roiserve::eval::detail {

// numpy sums in chunks of its 8192-element buffer, each by pairwise summation
// with 8 interleaved accumulators, then divides by the count. A plain loop
// would differ in the last bits, and COCO summaries are compared exactly.
// values must not be empty.
double numpy_mean(const std::vector<double>& values);

}  // namespace roiserve::eval::detail
