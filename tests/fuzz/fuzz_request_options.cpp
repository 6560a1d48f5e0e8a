// The request -> options translation: arbitrary DetectRequest and
// CompareRequest messages against the shipped model's architecture. Bad
// options must be std::invalid_argument, never a crash.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "detector/bundle/model_bundle.h"
#include "server/request_options.h"

namespace {

const roiserve::detector::DetectorImpl& model() {
  static const roiserve::detector::Detector shapes(roiserve::detector::read_model_config(
      std::filesystem::path(ROISERVE_SOURCE_DIR) / "models/shapes-v1"));
  return *shapes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace roiserve;
  const server::LimitsConfig limits;
  v1::DetectRequest detect;
  if (detect.ParseFromArray(data, static_cast<int>(size))) {
    try {
      server::resolve_detect_options(detect.options(), model(), limits);
      server::image_input(detect.image(), limits.max_image_pixels);
    } catch (const std::invalid_argument&) {
    }
  }
  v1::CompareRequest compare;
  if (compare.ParseFromArray(data, static_cast<int>(size))) {
    try {
      server::resolve_compare_options(compare, model(), limits);
      server::resolve_agreement_options(compare);
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
