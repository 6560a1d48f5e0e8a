#pragma once
// The comparison page's files (server/web/), built into the binary by
// cmake/embed_web_assets.cmake: served with no files at run time.
#include <string_view>
#include <vector>

namespace roiserve::server {

struct WebAsset {
  std::string_view path;          // under "/", e.g. "index.html", "samples/x.jpg"
  std::string_view content_type;  // from the file's extension
  std::string_view etag;          // quoted, from the file's SHA-256
  std::string_view body;
};

const std::vector<WebAsset>& web_assets();

}  // namespace roiserve::server
