#include "tools/file_io/text_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace roiserve::tools {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read '" + path.string() + "'");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace roiserve::tools
