#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>

#include "detector/heads/box_head.h"

namespace roiserve::detector {
namespace {

std::map<std::string, BoxHeadFactory>& registry() {
  static std::map<std::string, BoxHeadFactory> factories;
  return factories;
}

std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

bool register_box_head(const std::string& type, BoxHeadFactory factory) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  if (!registry().emplace(type, std::move(factory)).second) {
    throw std::logic_error("box head type '" + type + "' is registered twice");
  }
  return true;
}

std::vector<std::string> registered_box_head_types() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::string> types;
  for (const auto& entry : registry()) types.push_back(entry.first);
  return types;
}

std::shared_ptr<BoxHead> create_box_head(const std::string& type, const BoxHeadContext& context,
                                         const YAML::Node& params) {
  BoxHeadFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    const auto found = registry().find(type);
    if (found == registry().end()) {
      std::string known;
      for (const auto& entry : registry()) known += (known.empty() ? "" : ", ") + entry.first;
      throw std::invalid_argument("unknown box head type '" + type + "' (known: " + known + ")");
    }
    factory = found->second;
  }
  return factory(context, params);
}

int64_t head_param_int(const YAML::Node& params, const std::string& key, int64_t fallback) {
  if (!params || !params.IsMap() || !params[key]) return fallback;
  try {
    return params[key].as<int64_t>();
  } catch (const YAML::Exception&) {
    throw std::invalid_argument("box head parameter '" + key + "' must be an integer");
  }
}

std::vector<int64_t> head_param_ints(const YAML::Node& params, const std::string& key,
                                     std::vector<int64_t> fallback) {
  if (!params || !params.IsMap() || !params[key]) return fallback;
  try {
    return params[key].as<std::vector<int64_t>>();
  } catch (const YAML::Exception&) {
    throw std::invalid_argument("box head parameter '" + key + "' must be a list of integers");
  }
}

void reject_unknown_head_params(const std::string& type, const YAML::Node& params,
                                const std::vector<std::string>& known) {
  if (!params || params.IsNull()) return;
  if (!params.IsMap()) throw std::invalid_argument("box head '" + type + "': settings must be a mapping");
  for (const auto& entry : params) {
    const auto key = entry.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw std::invalid_argument("box head '" + type + "': unknown setting '" + key + "'");
    }
  }
}

}  // namespace roiserve::detector
