#pragma once
// Logarithm, exponential, sine and cosine from additions, multiplications and divisions
// alone. The C library's versions are not required to round the same way on
// every platform, and one differing last bit would move a shape edge across a
// pixel centre and change the data set; these give the same bits everywhere.
// Accurate to a few units in the last place over the arguments the generator
// uses: log on (0, 1], exp on [−700, 0], sine and cosine within a few turns of
// zero.

namespace roiserve::detector {

double portable_log(double value);

double portable_exp(double value);

struct SinCos {
  double sin;
  double cos;
};

SinCos portable_sincos(double angle);

}  // namespace roiserve::detector
