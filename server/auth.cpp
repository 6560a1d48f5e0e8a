#include "server/auth.h"

#include <fstream>
#include <stdexcept>

namespace roiserve::server {
namespace {

std::vector<std::string> read_tokens(const std::filesystem::path& path) {
  std::vector<std::string> tokens;
  if (path.empty()) return tokens;
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read token file '" + path.string() + "'");
  std::string line;
  while (std::getline(file, line)) {
    const size_t begin = line.find_first_not_of(" \t\r");
    const size_t end = line.find_last_not_of(" \t\r");
    if (begin == std::string::npos || line[begin] == '#') continue;
    tokens.push_back(line.substr(begin, end - begin + 1));
  }
  if (tokens.empty()) throw std::runtime_error("token file '" + path.string() + "' has no token");
  return tokens;
}

// Compares in time independent of where the strings differ, so response
// times do not reveal how much of a guessed token was right.
bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

bool contains(const std::vector<std::string>& tokens, const std::string& token) {
  bool found = false;
  for (const std::string& candidate : tokens) found |= constant_time_equal(candidate, token);
  return found;
}

}  // namespace

TokenAuthenticator::TokenAuthenticator(const std::filesystem::path& user_tokens,
                                       const std::filesystem::path& admin_tokens)
    : user_tokens_(read_tokens(user_tokens)), admin_tokens_(read_tokens(admin_tokens)) {}

grpc::Status TokenAuthenticator::authorize(const grpc::ServerContextBase& context,
                                           Role needed) const {
  if (!enabled()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto header = metadata.find("authorization");
  if (header == metadata.end()) return authorize(nullptr, needed, "metadata");
  const std::string value(header->second.data(), header->second.size());
  return authorize(&value, needed, "metadata");
}

grpc::Status TokenAuthenticator::authorize(const std::string* authorization, Role needed,
                                           const char* carrier) const {
  if (!enabled()) return grpc::Status::OK;
  if (authorization == nullptr) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            std::string("this server needs 'authorization: Bearer <token>' ") + carrier};
  }
  static constexpr std::string_view kScheme = "Bearer ";
  const std::string& value = *authorization;
  if (value.size() <= kScheme.size() || value.compare(0, kScheme.size(), kScheme) != 0) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            std::string("the authorization ") + carrier + " must be 'Bearer <token>'"};
  }
  const std::string token = value.substr(kScheme.size());
  if (contains(admin_tokens_, token)) return grpc::Status::OK;
  if (contains(user_tokens_, token)) {
    if (needed == Role::kUser) return grpc::Status::OK;
    return {grpc::StatusCode::PERMISSION_DENIED, "this call needs an admin token"};
  }
  return {grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not valid"};
}

}  // namespace roiserve::server
