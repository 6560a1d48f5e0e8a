#include "server/ab_report.h"

#include <stdexcept>

#include "tools/file_io/file_bytes.h"

namespace roiserve::server {
namespace {

constexpr const char* kPage = "report.html";

// What tools/eval/comparison_report.cpp writes beside report.html; the plot
// of masks only when the comparison had masks.
struct KnownFile {
  const char* name;
  const char* content_type;
};
constexpr KnownFile kOptionalFiles[] = {{"pr_bbox.png", "image/png"},
                                        {"pr_segm.png", "image/png"},
                                        {"report.md", "text/markdown; charset=utf-8"},
                                        {"report.json", "application/json"}};

ReportFile read_report_file(const std::filesystem::path& directory, const char* name,
                            const char* content_type) {
  const std::filesystem::path path = directory / name;
  try {
    const std::vector<uint8_t> bytes = tools::read_file_bytes(path);
    return {name, content_type, std::string(bytes.begin(), bytes.end())};
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot read the A/B report file '" + path.string() + "': " + error.what());
  }
}

}  // namespace

AbReport AbReport::load(const std::filesystem::path& path) {
  const std::filesystem::path directory =
      std::filesystem::is_directory(path) ? path : path.parent_path();
  if (!std::filesystem::is_regular_file(directory / kPage)) {
    throw std::runtime_error("no A/B report at '" + path.string() +
                             "': give the directory roiserve-eval --output wrote (with " + kPage +
                             ") or its " + kPage);
  }
  AbReport report;
  report.files_.push_back(read_report_file(directory, kPage, "text/html; charset=utf-8"));
  for (const KnownFile& file : kOptionalFiles) {
    if (std::filesystem::is_regular_file(directory / file.name)) {
      report.files_.push_back(read_report_file(directory, file.name, file.content_type));
    }
  }
  return report;
}

const ReportFile* AbReport::find(std::string_view name) const {
  if (name.empty()) name = kPage;
  for (const ReportFile& file : files_) {
    if (file.name == name) return &file;
  }
  return nullptr;
}

}  // namespace roiserve::server
