#pragma once
// A whole text file as a string (PEM files, tokens).
#include <filesystem>
#include <string>

namespace roiserve::tools {

// Throws std::runtime_error naming the file when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace roiserve::tools
