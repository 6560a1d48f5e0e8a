#include "detector/bundle/model_bundle.h"

#include <torch/serialize.h>

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>

namespace roiserve::detector {
namespace {

std::map<std::string, at::Tensor> named_state(torch::nn::Module& module) {
  std::map<std::string, at::Tensor> state;
  for (const auto& entry : module.named_parameters()) state[entry.key()] = entry.value();
  for (const auto& entry : module.named_buffers()) state[entry.key()] = entry.value();
  return state;
}

std::string shape_string(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

std::vector<char> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path.string());
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A reader (a server loading the bundle while training rewrites it) sees the
// old file or the new one, never half of one.
void write_file_atomically(const std::filesystem::path& path, const char* data, size_t size) {
  const std::filesystem::path partial = path.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
    out.write(data, static_cast<std::streamsize>(size));
    if (!out) throw std::runtime_error("cannot write " + partial.string());
  }
  std::filesystem::rename(partial, path);
}

}  // namespace

ModelConfig read_model_config(const std::filesystem::path& bundle_dir) {
  if (!std::filesystem::is_directory(bundle_dir)) {
    throw std::invalid_argument("model bundle " + bundle_dir.string() + " is not a directory");
  }
  return read_model_config_file(bundle_dir / kModelYamlFile);
}

void load_state_dict(DetectorImpl& detector, const c10::Dict<c10::IValue, c10::IValue>& state,
                     const std::string& origin) {
  std::map<std::string, at::Tensor> expected = named_state(detector);
  std::map<std::string, at::Tensor> given;
  for (const auto& entry : state) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      throw std::invalid_argument(origin + ": every entry must map a name to a tensor");
    }
    given[entry.key().toStringRef()] = entry.value().toTensor();
  }
  for (const auto& [name, tensor] : expected) {
    const auto found = given.find(name);
    if (found == given.end()) throw std::invalid_argument(origin + ": missing tensor '" + name + "'");
    if (found->second.sizes() != tensor.sizes()) {
      throw std::invalid_argument(origin + ": tensor '" + name + "' has shape " +
                                  shape_string(found->second.sizes()) + ", the model expects " +
                                  shape_string(tensor.sizes()));
    }
  }
  for (const auto& [name, tensor] : given) {
    if (!expected.count(name)) {
      throw std::invalid_argument(origin + ": unexpected tensor '" + name +
                                  "' (the model has no such parameter or buffer)");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : expected) tensor.copy_(given[name]);
}

Detector load_bundle(const std::filesystem::path& bundle_dir) {
  Detector detector(read_model_config(bundle_dir));
  const std::filesystem::path weights = bundle_dir / kWeightsFile;
  c10::IValue state;
  try {
    state = torch::pickle_load(read_file(weights));
  } catch (const c10::Error& error) {
    throw std::invalid_argument(weights.string() + ": not a readable PyTorch file: " +
                                error.what_without_backtrace());
  }
  if (!state.isGenericDict()) {
    throw std::invalid_argument(weights.string() + ": must hold a dict of tensors");
  }
  load_state_dict(*detector, state.toGenericDict(), weights.string());
  detector->eval();
  return detector;
}

void save_bundle(DetectorImpl& detector, const std::filesystem::path& bundle_dir) {
  std::filesystem::create_directories(bundle_dir);
  YAML::Node root = model_config_to_yaml(detector.config());
  root["weights"] = kWeightsFile;
  YAML::Emitter emitter;
  emitter << root;
  const std::string yaml = std::string(emitter.c_str()) + "\n";
  write_file_atomically(bundle_dir / kModelYamlFile, yaml.data(), yaml.size());

  c10::Dict<std::string, at::Tensor> state;
  for (const auto& [name, tensor] : named_state(detector)) {
    state.insert(name, tensor.detach().cpu().contiguous());
  }
  const std::vector<char> bytes = torch::pickle_save(state);
  write_file_atomically(bundle_dir / kWeightsFile, bytes.data(), bytes.size());
}

}  // namespace roiserve::detector
