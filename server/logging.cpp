#include "server/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>

namespace roiserve::server {
namespace {

std::atomic<bool> json_format{false};

// Bytes that are not UTF-8 (a client's, echoed in an error) are replaced:
// a log line never throws.
std::string dumped(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string text_value(const nlohmann::ordered_json& value) {
  if (!value.is_string()) return dumped(value);
  const auto& text = value.get_ref<const std::string&>();
  const bool plain = !text.empty() && text.find_first_of(" \"=\n\t") == std::string::npos;
  return plain ? text : dumped(value);
}

}  // namespace

void configure_logging(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_logger_mt("roiserve");
  json_format = format == "json";
  logger->set_pattern(json_format ? R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l",%v})"
                                  : "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void log_event(spdlog::level::level_enum level, const nlohmann::ordered_json& fields) {
  if (!spdlog::should_log(level)) return;
  std::string line;
  if (json_format) {
    const std::string object = dumped(fields);
    line = object.substr(1, object.size() - 2);  // the pattern adds the braces
  } else {
    for (const auto& [key, value] : fields.items()) {
      line += (line.empty() ? "" : " ") + key + "=" + text_value(value);
    }
  }
  spdlog::log(level, "{}", line);
}

}  // namespace roiserve::server
