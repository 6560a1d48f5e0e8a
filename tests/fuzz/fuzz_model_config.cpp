// model.yaml as the bundle loader reads it: YAML text -> ModelConfig, with
// every relation checked. Errors are std::invalid_argument (or yaml-cpp's
// parse errors, which the loader turns into one).
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "detector/config/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const YAML::Node root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
    const roiserve::detector::ModelConfig config = roiserve::detector::model_config_from_yaml(root);
    // What was read writes back and reads again to the same.
    roiserve::detector::model_config_from_yaml(roiserve::detector::model_config_to_yaml(config));
  } catch (const YAML::Exception&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
