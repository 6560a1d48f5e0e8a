#include "tools/file_io/file_bytes.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace roiserve::tools {
namespace {

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  File file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw std::runtime_error(std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t block[1 << 16];
  size_t count = 0;
  while ((count = std::fread(block, 1, sizeof(block), file.get())) > 0) {
    bytes.insert(bytes.end(), block, block + count);
  }
  if (std::ferror(file.get())) throw std::runtime_error(std::strerror(errno));
  return bytes;
}

void write_file_bytes(const std::vector<uint8_t>& bytes, const std::filesystem::path& path) {
  File file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file || std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size() ||
      std::fflush(file.get()) != 0) {
    throw std::runtime_error("cannot write '" + path.string() + "': " + std::strerror(errno));
  }
}

}  // namespace roiserve::tools
