#pragma once
// The service's HTTP port (--http-listen, formerly --metrics-listen): one
// cpp-httplib server that serves /metrics and the routes other parts
// register (roiserve's /v1 JSON routes, the Open Inference Protocol's /v2
// routes). What every route shares is done here:
//   - bearer tokens (server/auth), checked as the route asks; /metrics and
//     health routes are open, as probes and scrapers carry no token;
//   - TLS when the server has TLS (the gRPC port's certificate, key and
//     client CA);
//   - the body-size limit of the gRPC side (limits.max_message_bytes: 413);
//   - the drain: routes that need a token are refused (503) once draining,
//     and shutdown waits for those in flight;
//   - a deadline from the "grpc-timeout" header (gRPC's format: 500m, 2S);
//   - metrics per route template: roiserve_http_requests_total{route, code}
//     and roiserve_http_request_duration_seconds{route};
//   - errors as {"error": "message"} with the HTTP status of the gRPC code
//     (http_mapping.h); whatever a handler throws becomes such an error.
// Requests block a pool thread while their job runs, so the pool has
// http_threads threads (ServerConfig).
#include <httplib.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/admission.h"
#include "server/auth.h"
#include "server/drain_gate.h"
#include "server/metrics.h"
#include "server/server_config.h"

namespace roiserve::server {

enum class HttpAccess { kOpen, kUser, kAdmin };

// A request as a route's handler sees it: authorized, its body read whole.
struct HttpRequest {
  const httplib::Request& http;  // method, path, headers
  std::map<std::string, std::string> path_params;  // {name} of the route template
  // The URL's query alone (httplib's params also hold a form body's fields).
  std::multimap<std::string, std::string> query;
  std::string body;                      // when not multipart/form-data
  httplib::MultipartFormDataMap parts;   // when multipart/form-data
  Deadline deadline;
  std::string peer;  // "ip:port"
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers = {};  // beside Content-Type

  // {"error": message} with the status of the gRPC code.
  static HttpReply error(const grpc::Status& status);
};

using HttpHandler = std::function<HttpReply(HttpRequest&)>;

class HttpFrontend {
 public:
  HttpFrontend(const TokenAuthenticator& auth, const LimitsConfig& limits, ServerMetrics& metrics,
               DrainGate& drain);
  ~HttpFrontend();

  // Before start(). `method`: GET or POST; `route`: a path template whose
  // "{name}" parts match one path segment each, e.g. /v2/models/{name}/infer.
  void add_route(const std::string& method, const std::string& route, HttpAccess access,
                 HttpHandler handler);

  // Serves on `address` ("host:port", port 0: any free port), with TLS when
  // tls.cert is set, on `threads` pool threads. Returns the address bound.
  // Throws std::runtime_error.
  std::string start(const std::string& address, const TlsConfig& tls, int threads);
  // Stops serving; requests in flight finish first.
  void stop();

 private:
  struct Route {
    std::string method;
    std::string name;  // the template: the metrics' route label
    std::string regex;
    std::regex pattern;
    std::vector<std::string> params;
    HttpAccess access;
    HttpHandler handler;
  };

  void serve(const Route& route, const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader* content) const;
  // Access and drain; not OK: refused before its body is read.
  grpc::Status admit(const Route& route, const httplib::Request& request) const;
  // The template of the route `request` went to ("unmatched" when none).
  std::string route_of(const httplib::Request& request) const;
  void observe(const httplib::Request& request, const httplib::Response& response) const;

  const TokenAuthenticator& auth_;
  const LimitsConfig& limits_;
  ServerMetrics& metrics_;
  DrainGate& drain_;
  std::vector<Route> routes_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

}  // namespace roiserve::server
