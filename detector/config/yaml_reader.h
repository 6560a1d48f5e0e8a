#pragma once
// Reads one mapping of a YAML config strictly: every key must be known (a typo
// is an error, not a silently ignored setting) and every value of the expected
// type. Errors are std::invalid_argument naming the key by its dotted path;
// the caller prefixes the file.
#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>
#include <string>

namespace roiserve::detector {

class MappingReader {
 public:
  // path: the mapping's dotted path in the file ("" for the root).
  MappingReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      throw std::invalid_argument("'" + (path_.empty() ? "the file" : path_) +
                                  "' must be a mapping");
    }
  }

  // Leaves `value` as it is when the key is absent.
  template <typename T>
  void read(const std::string& key, T& value) {
    known_.insert(key);
    if (!node_ || !node_[key]) return;
    try {
      value = node_[key].template as<T>();
    } catch (const YAML::Exception& error) {
      throw std::invalid_argument("'" + qualified(key) + "' has the wrong type: " + error.msg);
    }
  }

  YAML::Node child(const std::string& key) {
    known_.insert(key);
    return node_ ? node_[key] : YAML::Node();
  }

  std::string qualified(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  // Call after all reads.
  void reject_unknown_keys() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& entry : node_) {
      const auto key = entry.first.as<std::string>();
      if (!known_.count(key)) throw std::invalid_argument("unknown key '" + qualified(key) + "'");
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> known_;
};

}  // namespace roiserve::detector
