#include "server/http_frontend.h"

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "server/exception_status.h"
#include "server/http_mapping.h"
#include "server/logging.h"
#include "server/tls_files.h"

namespace roiserve::server {
namespace {

// When the request on this pool thread arrived (its headers were read):
// httplib handles one request at a time per thread, and its logger, which
// observes the duration, runs on the same thread after the response.
thread_local Clock::time_point request_arrival;

// "/v2/models/{name}/infer" -> ^/v2/models/([^/]+)/infer$, and its names.
std::string route_regex(const std::string& route, std::vector<std::string>& params) {
  std::string regex;
  for (size_t at = 0; at < route.size();) {
    const size_t open = route.find('{', at);
    const size_t literal_end = open == std::string::npos ? route.size() : open;
    for (size_t i = at; i < literal_end; ++i) {
      if (std::string_view(".[]()*+?^$|\\").find(route[i]) != std::string_view::npos) regex += '\\';
      regex += route[i];
    }
    if (open == std::string::npos) break;
    const size_t close = route.find('}', open);
    if (close == std::string::npos) throw std::logic_error("unclosed '{' in route " + route);
    params.push_back(route.substr(open + 1, close - open - 1));
    regex += "([^/]+)";
    at = close + 1;
  }
  return regex;
}

std::multimap<std::string, std::string> url_query(const httplib::Request& request) {
  httplib::Params query;
  const size_t mark = request.target.find('?');
  if (mark != std::string::npos) httplib::detail::parse_query_text(request.target.substr(mark + 1), query);
  return {query.begin(), query.end()};
}

void reply(httplib::Response& response, const HttpReply& answer) {
  response.status = answer.status;
  response.set_content(answer.body, answer.content_type.c_str());
  for (const auto& [name, value] : answer.headers) response.set_header(name, value);
}

std::string body_error(int status, uint64_t limit) {
  if (status != 413) return "the request body could not be read (" + std::to_string(status) + ")";
  return "the request body is over this server's limit of " + std::to_string(limit) +
         " bytes (max_message_bytes)";
}

// The body whole, as it came or as multipart/form-data parts; false when
// httplib could not read it (its status says why: 413 over the limit).
bool read_body(const httplib::Request& request, const httplib::ContentReader& content,
               uint64_t limit, HttpRequest& into) {
  if (request.is_multipart_form_data()) {
    httplib::MultipartFormData* part = nullptr;
    return content(
        [&](const httplib::MultipartFormData& header) {
          part = &into.parts.emplace(header.name, header)->second;
          return true;
        },
        [&](const char* data, size_t size) {
          part->content.append(data, size);
          return true;
        });
  }
  // One allocation for a body of declared length within the limit (httplib
  // refuses longer ones as it starts reading).
  const uint64_t declared = std::strtoull(request.get_header_value("Content-Length").c_str(), nullptr, 10);
  if (declared <= limit && !request.has_header("Transfer-Encoding")) into.body.reserve(declared);
  return content([&](const char* data, size_t size) {
    into.body.append(data, size);
    return true;
  });
}

}  // namespace

HttpReply HttpReply::error(const grpc::Status& status) {
  return {http_status(status.error_code()), error_body(status.error_message())};
}

HttpFrontend::HttpFrontend(const TokenAuthenticator& auth, const LimitsConfig& limits,
                           ServerMetrics& metrics, DrainGate& drain)
    : auth_(auth),
      limits_(limits),
      metrics_(metrics),
      drain_(drain),
      requests_(prometheus::BuildCounter()
                    .Name("roiserve_http_requests_total")
                    .Help("HTTP requests answered, by route template and HTTP status code")
                    .Register(metrics.registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("roiserve_http_request_duration_seconds")
                    .Help("Time from an HTTP request's headers to its response, by route template")
                    .Register(metrics.registry())) {
  add_route("GET", "/metrics", HttpAccess::kOpen, [this](HttpRequest&) {
    return HttpReply{200, metrics_.scrape(), "text/plain; version=0.0.4; charset=utf-8"};
  });
}

HttpFrontend::~HttpFrontend() { stop(); }

void HttpFrontend::add_route(const std::string& method, const std::string& route, HttpAccess access,
                             HttpHandler handler) {
  if (http_) throw std::logic_error("HTTP route " + route + " added after start()");
  if (method != "GET" && method != "POST") throw std::logic_error("HTTP method " + method);
  Route entry{method, route, "", {}, {}, access, std::move(handler)};
  entry.regex = route_regex(route, entry.params);
  entry.pattern = std::regex(entry.regex);
  routes_.push_back(std::move(entry));
}

std::string HttpFrontend::start(const std::string& address, const TlsConfig& tls, int threads) {
  const size_t colon = address.rfind(':');
  int port = -1;
  try {
    port = colon == std::string::npos ? -1 : std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) {
    throw std::runtime_error("the HTTP address must be HOST:PORT, got '" + address + "'");
  }
  const std::string host = address.substr(0, colon);
  if (tls.cert.empty()) {
    http_ = std::make_unique<httplib::Server>();
  } else {
    read_tls_files(tls);  // the same checks and messages as the gRPC port's
    const std::string cert = tls.cert.string(), key = tls.key.string(), ca = tls.client_ca.string();
    auto server = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str(),
                                                       ca.empty() ? nullptr : ca.c_str());
    if (!server->is_valid()) {
      throw std::runtime_error("the HTTP port cannot use the TLS certificate '" + cert + "' and key '" +
                               key + "'");
    }
    http_ = std::move(server);
  }
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(limits_.max_message_bytes);
  // httplib writes a response's header and body apart: with Nagle's
  // algorithm the body waits for the client's delayed ACK of the header
  // (40 ms a response on Linux loopback).
  http_->set_tcp_nodelay(true);
  for (const Route& route : routes_) {
    if (route.method == "GET") {
      http_->Get(route.regex, [this, &route](const httplib::Request& request, httplib::Response& response) {
        serve(route, request, response, nullptr);
      });
    } else {
      http_->Post(route.regex, [this, &route](const httplib::Request& request, httplib::Response& response,
                                              const httplib::ContentReader& content) {
        serve(route, request, response, &content);
      });
    }
  }
  http_->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_arrival = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib answers itself (no route, a body over the limit, a
  // malformed request) get the JSON body too; handlers' errors have theirs.
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string message =
        response.status == 404 ? "no route " + request.method + " " + request.path
                               : body_error(response.status, limits_.max_message_bytes);
    response.set_content(error_body(message), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  // Counted once the answer is final but before it is written (the logger
  // runs after): a client that scrapes /metrics right after its answer sees
  // its request counted.
  http_->set_post_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        observe(request, response);
      });
  const int bound =
      port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    http_.reset();
    throw std::runtime_error("cannot serve HTTP on " + address + " (address in use?)");
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return host + ":" + std::to_string(bound);
}

void HttpFrontend::stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

grpc::Status HttpFrontend::admit(const Route& route, const httplib::Request& request) const {
  if (route.access == HttpAccess::kOpen) return grpc::Status::OK;
  const grpc::Status status = drain_.admit();
  if (!status.ok()) return status;
  const bool has_token = request.has_header("Authorization");
  const std::string token = has_token ? request.get_header_value("Authorization") : "";
  return auth_.authorize(has_token ? &token : nullptr,
                         route.access == HttpAccess::kAdmin ? Role::kAdmin : Role::kUser, "header");
}

void HttpFrontend::serve(const Route& route, const httplib::Request& request,
                         httplib::Response& response, const httplib::ContentReader* content) const {
  const grpc::Status admitted = admit(route, request);
  if (!admitted.ok()) {
    // The body stays unread: the connection cannot carry another request.
    response.set_header("Connection", "close");
    reply(response, HttpReply::error(admitted));
    return;
  }
  std::optional<DrainGate::Call> call;
  if (route.access != HttpAccess::kOpen) call.emplace(drain_);
  HttpRequest http_request{request, {}, url_query(request), {}, {}, std::nullopt,
                           request.remote_addr + ":" + std::to_string(request.remote_port)};
  for (size_t i = 0; i < route.params.size() && i + 1 < request.matches.size(); ++i) {
    http_request.path_params[route.params[i]] = request.matches[i + 1];
  }
  if (content != nullptr) {
    int failed = 0;  // httplib's status when the body could not be read
    const grpc::Status status = guarded("while reading the request body", [&] {
      if (!read_body(request, *content, limits_.max_message_bytes, http_request)) failed = response.status > 0 ? response.status : 400;
      return grpc::Status::OK;
    });
    if (!status.ok() || failed) {
      response.set_header("Connection", "close");
      reply(response, status.ok() ? HttpReply{failed, error_body(body_error(failed, limits_.max_message_bytes))}
                                  : HttpReply::error(status));
      log_event(spdlog::level::warn, {{"event", "http_request"}, {"route", route.name},
                                      {"code", response.status}, {"peer", http_request.peer},
                                      {"error", status.ok() ? body_error(failed, limits_.max_message_bytes)
                                                            : status.error_message()}});
      return;
    }
  }
  HttpReply answer;
  const grpc::Status status = guarded("while answering an HTTP request", [&] {
    if (request.has_header("grpc-timeout")) {
      http_request.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                 parse_grpc_timeout(request.get_header_value("grpc-timeout")));
    }
    answer = route.handler(http_request);
    return grpc::Status::OK;
  });
  if (!status.ok()) {
    answer = HttpReply::error(status);
    log_event(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? spdlog::level::warn
                                                                        : spdlog::level::err,
              {{"event", "http_request"}, {"route", route.name}, {"code", answer.status},
               {"peer", http_request.peer}, {"error", status.error_message()}});
  }
  reply(response, answer);
}

std::string HttpFrontend::route_of(const httplib::Request& request) const {
  for (const Route& route : routes_) {
    if (route.method == request.method && std::regex_match(request.path, route.pattern)) return route.name;
  }
  return "unmatched";
}

void HttpFrontend::observe(const httplib::Request& request, const httplib::Response& response) const {
  const std::string route = route_of(request);
  const double seconds = std::chrono::duration<double>(Clock::now() - request_arrival).count();
  requests_.Add({{"route", route}, {"code", std::to_string(response.status)}}).Increment();
  duration_.Add({{"route", route}}, ServerMetrics::latency_buckets()).Observe(seconds);
}

}  // namespace roiserve::server
