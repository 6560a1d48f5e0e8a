#include "server/web_routes.h"

#include <memory>
#include <string>

#include "server/ab_report.h"
#include "server/web_assets.h"

namespace roiserve::server {
namespace {

// The page may load from and talk to this origin only; blob: and data: for
// the image it draws and the empty favicon.
constexpr const char* kPagePolicy =
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'";
constexpr const char* kReportPage = "/report/";

// no-cache: the browser keeps a file but asks each time, and gets 304 while
// its ETag (the file's hash) is unchanged, the new file after an upgrade.
HttpReply asset_reply(const WebAsset& asset, const HttpRequest& request) {
  HttpReply reply{200, "", std::string(asset.content_type),
                  {{"Cache-Control", "no-cache"},
                   {"ETag", std::string(asset.etag)},
                   {"X-Content-Type-Options", "nosniff"}}};
  if (asset.path == "index.html") reply.headers.emplace_back("Content-Security-Policy", kPagePolicy);
  if (request.http.get_header_value("If-None-Match") == asset.etag) {
    reply.status = 304;
  } else {
    reply.body = asset.body;
  }
  return reply;
}

HttpReply report_reply(const AbReport* report, const std::string& name) {
  const ReportFile* file = report ? report->find(name) : nullptr;
  if (!file) {
    const std::string message =
        report ? "the A/B report has no file '" + name + "'\n"
               : "this server has no A/B report: start it with --ab-report DIR, the directory "
                 "roiserve-eval --output wrote\n";
    return {404, message, "text/plain; charset=utf-8", {}};
  }
  return {200, file->body, file->content_type,
          {{"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}}};
}

}  // namespace

void add_web_routes(HttpFrontend& http, const std::filesystem::path& ab_report) {
  const std::shared_ptr<const AbReport> report =
      ab_report.empty() ? nullptr : std::make_shared<const AbReport>(AbReport::load(ab_report));
  for (const WebAsset& asset : web_assets()) {
    const std::string route = asset.path == "index.html" ? "/" : "/" + std::string(asset.path);
    http.add_route("GET", route, HttpAccess::kOpen,
                   [&asset](HttpRequest& request) { return asset_reply(asset, request); });
  }
  // report.html links its plots relatively, so it is read from /report/.
  http.add_route("GET", "/report", HttpAccess::kOpen, [](HttpRequest&) {
    return HttpReply{301, "", "text/plain", {{"Location", kReportPage}}};
  });
  http.add_route("GET", kReportPage, HttpAccess::kOpen,
                 [report](HttpRequest&) { return report_reply(report.get(), ""); });
  http.add_route("GET", "/report/{file}", HttpAccess::kOpen, [report](HttpRequest& request) {
    return report_reply(report.get(), request.path_params.at("file"));
  });
}

}  // namespace roiserve::server
