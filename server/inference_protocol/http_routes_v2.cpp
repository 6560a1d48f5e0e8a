#include "server/inference_protocol/http_routes_v2.h"

#include <future>
#include <nlohmann/json.hpp>

#include "server/exception_status.h"
#include "server/inference_protocol/json_conversion.h"
#include "server/inference_protocol/model_description.h"
#include "server/inference_protocol/model_infer.h"

namespace roiserve::server::inference_protocol {
namespace {

using nlohmann::json;

// The model routes, with and without Triton's /versions/{version} part.
const char* const kModelPrefixes[] = {"/v2/models/{name}", "/v2/models/{name}/versions/{version}"};

std::string path_param(const HttpRequest& request, const std::string& name) {
  const auto found = request.path_params.find(name);
  return found == request.path_params.end() ? "" : found->second;
}

HttpReply json_reply(const std::string& body) {
  return {200, body};
}

// `status` OK: the JSON of `message`; otherwise the error.
HttpReply message_reply(const grpc::Status& status, const google::protobuf::Message& message) {
  return status.ok() ? json_reply(message_json(message)) : HttpReply::error(status);
}

HttpReply infer(Admission& admission, HttpRequest& http) {
  CallRecord record(admission.metrics(), "ModelInfer", http.peer);
  InflightScope inflight(admission.metrics().inflight("ModelInfer"));
  RestInferRequest rest;
  inference::ModelInferResponse response;
  std::promise<grpc::Status> answered;
  std::shared_ptr<ModelInferRun> run;
  grpc::Status status = guarded("reading the request", [&] {
    const std::string length = http.http.get_header_value("Inference-Header-Content-Length");
    std::optional<size_t> json_length;
    if (!length.empty()) json_length = std::stoull(length);
    rest = read_infer_request(http.body, json_length);
    rest.request.set_model_name(path_param(http, "name"));
    rest.request.set_model_version(path_param(http, "version"));
    return check_version(rest.request.model_name(), rest.request.model_version());
  });
  if (status.ok()) {
    status = ModelInferRun::start(
        admission, rest.request, http.deadline, &response, record,
        [&answered](const grpc::Status& done) { answered.set_value(done); }, run);
    if (status.ok()) status = answered.get_future().get();
  }
  HttpReply reply;
  if (status.ok()) {
    status = guarded("writing the response", [&] {
      RestBody body = write_infer_response(response, rest);
      reply.body = std::move(body.body);
      if (body.json_length) {
        reply.content_type = "application/octet-stream";
        reply.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*body.json_length));
      }
      return grpc::Status::OK;
    });
  }
  record.finish(status);
  return status.ok() ? reply : HttpReply::error(status);
}

// Load and unload: the admin thread's answer, waited for.
HttpReply administer(const std::function<void(AdminDone)>& start) {
  std::promise<grpc::Status> answered;
  start([&answered](const grpc::Status& done) { answered.set_value(done); });
  const grpc::Status status = answered.get_future().get();
  return status.ok() ? json_reply("{}") : HttpReply::error(status);
}

inference::RepositoryModelLoadRequest load_request(const HttpRequest& http) {
  inference::RepositoryModelLoadRequest request;
  if (http.body.empty()) return request;
  const json body = json::parse(http.body, nullptr, false);
  if (!body.is_object()) throw std::invalid_argument("the body must be a JSON object");
  const json parameters = body.value("parameters", json::object());
  if (!parameters.is_object()) throw std::invalid_argument("\"parameters\" must be an object");
  for (const auto& [name, value] : parameters.items()) {
    auto& parameter = (*request.mutable_parameters())[name];
    if (value.is_string()) {
      parameter.set_string_param(value.get<std::string>());
    } else if (value.is_boolean()) {
      parameter.set_bool_param(value.get<bool>());
    } else if (value.is_number_integer()) {
      parameter.set_int64_param(value.get<int64_t>());
    } else {
      throw std::invalid_argument("parameter " + name + " must be a string, boolean or integer");
    }
  }
  return request;
}

}  // namespace

void add_v2_routes(HttpFrontend& http, Admission& admission, RepositoryModels& repository,
                   std::function<bool()> ready) {
  ModelRepository& models = admission.models();
  http.add_route("GET", "/v2/health/live", HttpAccess::kOpen,
                 [](HttpRequest&) { return json_reply(R"({"live":true})"); });
  http.add_route("GET", "/v2/health/ready", HttpAccess::kOpen, [ready, &admission](HttpRequest&) {
    const bool is_ready = ready() && admission.drain().admit().ok();
    return HttpReply{is_ready ? 200 : 503, json{{"ready", is_ready}}.dump()};
  });
  http.add_route("GET", "/v2", HttpAccess::kUser, [](HttpRequest&) {
    inference::ServerMetadataResponse metadata;
    fill_server_metadata(&metadata);
    return json_reply(message_json(metadata));
  });
  http.add_route("GET", "/v2/models/stats", HttpAccess::kUser, [&models](HttpRequest&) {
    inference::ModelStatisticsResponse statistics;
    return message_reply(fill_model_statistics(models, "", "", &statistics), statistics);
  });
  for (const std::string prefix : kModelPrefixes) {
    http.add_route("GET", prefix, HttpAccess::kUser, [&models](HttpRequest& request) {
      std::shared_ptr<ServedModel> model;
      inference::ModelMetadataResponse metadata;
      const grpc::Status status =
          find_model(models, path_param(request, "name"), path_param(request, "version"), model);
      if (status.ok()) fill_model_metadata(*model, &metadata);
      return message_reply(status, metadata);
    });
    http.add_route("GET", prefix + "/ready", HttpAccess::kUser, [&models, ready](HttpRequest& request) {
      const std::string name = path_param(request, "name");
      const bool is_ready = model_ready(models, name, path_param(request, "version")) && ready();
      // Triton's status: 200 when ready, 400 otherwise.
      return HttpReply{is_ready ? 200 : 400, json{{"name", name}, {"ready", is_ready}}.dump()};
    });
    http.add_route("GET", prefix + "/config", HttpAccess::kUser, [&models](HttpRequest& request) {
      std::shared_ptr<ServedModel> model;
      inference::ModelConfig config;
      const grpc::Status status =
          find_model(models, path_param(request, "name"), path_param(request, "version"), model);
      if (status.ok()) fill_model_config(*model, &config);
      return message_reply(status, config);
    });
    http.add_route("GET", prefix + "/stats", HttpAccess::kUser, [&models](HttpRequest& request) {
      inference::ModelStatisticsResponse statistics;
      const std::string name = path_param(request, "name");
      return message_reply(fill_model_statistics(models, name,
                                                 path_param(request, "version"), &statistics),
                           statistics);
    });
    http.add_route("POST", prefix + "/infer", HttpAccess::kUser,
                   [&admission](HttpRequest& request) { return infer(admission, request); });
  }
  http.add_route("POST", "/v2/repository/index", HttpAccess::kUser, [&repository](HttpRequest& request) {
    const json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
    if (!body.is_object()) throw std::invalid_argument("the body must be a JSON object");
    inference::RepositoryIndexResponse index;
    repository.index(body.value("ready", false), &index);
    json models = json::array();
    for (const auto& model : index.models()) {
      json entry = {{"name", model.name()}, {"version", model.version()}, {"state", model.state()}};
      if (!model.reason().empty()) entry["reason"] = model.reason();
      models.push_back(std::move(entry));
    }
    return json_reply(models.dump());
  });
  http.add_route("POST", "/v2/repository/models/{name}/load", HttpAccess::kAdmin,
                 [&repository](HttpRequest& request) {
                   const std::string path = load_path_parameter(load_request(request).parameters());
                   return administer([&](AdminDone done) {
                     repository.load(path_param(request, "name"), path, std::move(done));
                   });
                 });
  http.add_route("POST", "/v2/repository/models/{name}/unload", HttpAccess::kAdmin,
                 [&repository](HttpRequest& request) {
                   return administer([&](AdminDone done) {
                     repository.unload(path_param(request, "name"), std::move(done));
                   });
                 });
}

}  // namespace roiserve::server::inference_protocol
