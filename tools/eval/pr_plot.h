#pragma once
// Precision/recall curves as a PNG: one line per curve over recall 0..1, with
// axes, a grid and a legend.
#include <filesystem>
#include <string>
#include <vector>

namespace roiserve::tools {

struct PrCurve {
  std::string label;
  std::vector<double> recall;     // ascending
  std::vector<double> precision;  // one per recall value; < 0 for "no data"
  bool dashed = false;
};

void write_pr_plot(const std::vector<PrCurve>& curves, const std::string& title,
                   const std::filesystem::path& path);

}  // namespace roiserve::tools
