#pragma once
// The comparison page's routes on the HTTP frontend (docs/WEB.md): "/" and
// the page's files, built into the binary (server/web_assets.h), and the
// offline A/B report of roiserve-eval under /report/ when the server was
// given one. All are open: the API calls the page makes carry the token.
#include <filesystem>

#include "server/http_frontend.h"

namespace roiserve::server {

// ab_report: the report's directory or report.html, read now (throws
// std::runtime_error naming the file); empty: none, and /report/ answers 404
// saying how to give one.
void add_web_routes(HttpFrontend& http, const std::filesystem::path& ab_report);

}  // namespace roiserve::server
