#pragma once
// Box regression constants shared by the RPN and the RoI heads.
#include <cmath>

namespace roiserve::detector {

// Largest dw, dh applied before exp: boxes grow at most 1000/16 times.
inline const double kBoxDeltaClip = std::log(1000.0 / 16.0);
// Smooth-L1 transition point of the box losses (torchvision, Detectron).
inline constexpr double kSmoothL1Beta = 1.0 / 9.0;

}  // namespace roiserve::detector
