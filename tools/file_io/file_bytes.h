#pragma once
// Whole files as bytes, read and written through stdio so that a failure says
// why in strerror's words (cv::imread and cv::imwrite report no reason).
#include <cstdint>
#include <filesystem>
#include <vector>

namespace roiserve::tools {

// Throws std::runtime_error with strerror's words (the caller names the file).
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

// Throws std::runtime_error "cannot write 'path': why".
void write_file_bytes(const std::vector<uint8_t>& bytes, const std::filesystem::path& path);

}  // namespace roiserve::tools
