#pragma once
// Model bundles: a directory holding
//   model.yaml  - the ModelConfig (architecture, classes, preprocessing, heads, defaults)
//   weights.pt  - every parameter and buffer, a dict {name: tensor} pickled in
//                 PyTorch's zip format: torch.load("weights.pt") reads it in
//                 Python, torch::pickle_load in C++.
// See docs/MODEL_BUNDLE.md.
#include <filesystem>
#include <string>

#include "detector/model/detector.h"

namespace roiserve::detector {

inline constexpr const char* kModelYamlFile = "model.yaml";
inline constexpr const char* kWeightsFile = "weights.pt";

ModelConfig read_model_config(const std::filesystem::path& bundle_dir);

// Builds the detector of bundle_dir/model.yaml and loads its weights. Throws
// std::invalid_argument when a tensor is missing, unexpected or mis-shaped
// (naming it), or the files are unreadable. The result is in eval mode.
Detector load_bundle(const std::filesystem::path& bundle_dir);

// Writes model.yaml and weights.pt (creating the directory).
void save_bundle(DetectorImpl& detector, const std::filesystem::path& bundle_dir);

// Loads a {name: tensor} dict into the detector's parameters and buffers,
// with the same checks as load_bundle.
void load_state_dict(DetectorImpl& detector, const c10::Dict<c10::IValue, c10::IValue>& state,
                     const std::string& origin);

}  // namespace roiserve::detector
