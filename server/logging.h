#pragma once
// Structured logs through spdlog: every line is an event with fields, written
// as `key=value ...` (text) or as one JSON object a line (json), on stderr.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string>

namespace roiserve::server {

// level: trace, debug, info, warn, error, off; format: text or json.
void configure_logging(const std::string& level, const std::string& format);

// fields: a JSON object; "event" names what happened.
void log_event(spdlog::level::level_enum level, const nlohmann::ordered_json& fields);

}  // namespace roiserve::server
