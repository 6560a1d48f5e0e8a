#pragma once
// The --device option of the command-line programs (roiserve-detect,
// roiserve-eval, the detector benchmark): cpu, cuda or cuda:N, checked when
// the flags are parsed (detector::resolve_device: the name, then that this
// build and machine have the device), so a bad or missing device fails like
// any other bad flag, before a model loads. Header-only: needs CLI11 and the
// detector library.
#include <CLI/CLI.hpp>
#include <stdexcept>
#include <string>

#include "detector/model/device.h"

namespace roiserve::tools {

inline CLI::Option* add_device_option(CLI::App& app, std::string& device) {
  return app
      .add_option("--device", device, "cpu, cuda or cuda:N: where the model runs (default: cpu)")
      ->check(
          [](const std::string& name) -> std::string {
            try {
              detector::resolve_device(name);
            } catch (const std::invalid_argument& error) {
              return error.what();
            }
            return {};
          },
          "", "device");
}

}  // namespace roiserve::tools
