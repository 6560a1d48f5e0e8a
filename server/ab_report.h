#pragma once
// The offline A/B report that roiserve-eval writes (its --output directory:
// report.html, the tables and plots it shows, report.md, report.json), read
// once at start (--ab-report) and served by the page's routes under /report/.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace roiserve::server {

struct ReportFile {
  std::string name;  // as report.html links it, e.g. "pr_bbox.png"
  std::string content_type;
  std::string body;
};

class AbReport {
 public:
  // path: the report directory or its report.html. Throws std::runtime_error
  // naming the file when report.html is missing or a file cannot be read.
  static AbReport load(const std::filesystem::path& path);

  // A file of the report by name; "" is report.html. nullptr: no such file.
  const ReportFile* find(std::string_view name) const;

 private:
  std::vector<ReportFile> files_;
};

}  // namespace roiserve::server
