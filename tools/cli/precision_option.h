#pragma once
// The --precision option of the command-line programs (roiserve-detect,
// roiserve-eval, the detector benchmark): fp32 or bf16, checked when the flags
// are parsed (detector::parse_precision), so a misspelt precision fails like
// any other bad flag, before a model loads. Empty: the model's own default
// (model.yaml's `precision`). Header-only: needs CLI11 and the detector library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "detector/model/detector.h"
#include "detector/model/precision.h"

namespace roiserve::tools {

inline CLI::Option* add_precision_option(CLI::App& app, std::string& precision) {
  return app
      .add_option("--precision", precision,
                  "fp32 or bf16: the arithmetic the model serves in (default: the model's, "
                  "model.yaml's 'precision'); bf16 runs fp32 on a CPU without native bf16")
      ->check(
          [](const std::string& name) -> std::string {
            try {
              detector::parse_precision(name);
            } catch (const std::invalid_argument& error) {
              return error.what();
            }
            return {};
          },
          "", "precision");
}

// Prepares `model` (on its device already) in the --precision asked for, or
// the model's default; a bf16 that falls back to fp32 is said on stderr.
inline detector::PrecisionChoice prepare_precision(detector::DetectorImpl& model,
                                                   const std::string& precision,
                                                   const char* program) {
  const detector::PrecisionChoice choice =
      model.prepare(precision.empty() ? model.config().precision
                                      : detector::parse_precision(precision));
  if (!choice.fallback_reason.empty()) {
    std::fprintf(stderr, "%s: precision %s requested: %s\n", program,
                 detector::precision_name(choice.requested).c_str(),
                 choice.fallback_reason.c_str());
  }
  return choice;
}

}  // namespace roiserve::tools
