#include "benchmarks/inference_protocol_calls.h"

#include <grpcpp/client_context.h>
#include <httplib.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "inference/grpc_service.grpc.pb.h"

namespace roiserve::benchmarks {
namespace {

// Stage latencies are response parameters named as roiserve.v1's stages;
// "head" and "mask_pooler" are strings, "batch_size" an integer.
void read_stages(const google::protobuf::Map<std::string, inference::InferParameter>& parameters,
                 StageLatencies& stages, uint32_t& batch_size) {
  for (const auto& [name, value] : parameters) {
    if (value.has_double_param()) stages.emplace_back(name, value.double_param());
    if (name == "batch_size") batch_size = static_cast<uint32_t>(value.int64_param());
  }
}

inference::ModelInferRequest infer_request(const std::string& image, const InferOptions& options) {
  inference::ModelInferRequest request;
  request.set_model_name(options.model);
  auto* input = request.add_inputs();
  input->set_name("IMAGE");
  input->set_datatype("BYTES");
  input->add_shape(1);
  const auto length = static_cast<uint32_t>(image.size());
  std::string raw(reinterpret_cast<const char*>(&length), 4);
  request.add_raw_input_contents(raw + image);
  if (!options.head.empty()) (*request.mutable_parameters())["head"].set_string_param(options.head);
  if (!options.masks) (*request.mutable_parameters())["mask_format"].set_string_param("none");
  return request;
}

// The REST body: JSON, then the IMAGE tensor's bytes; and the JSON's length.
std::pair<std::string, std::string> rest_body(const std::string& image, const InferOptions& options) {
  const std::string element = std::string(4, '\0') + image;
  nlohmann::json parameters = {{"binary_data_output", true}};
  if (!options.head.empty()) parameters["head"] = options.head;
  if (!options.masks) parameters["mask_format"] = "none";
  const std::string json =
      nlohmann::json{{"inputs", {{{"name", "IMAGE"},
                                  {"datatype", "BYTES"},
                                  {"shape", {1}},
                                  {"parameters", {{"binary_data_size", element.size()}}}}}},
                     {"parameters", parameters}}
          .dump();
  std::string body = json + element;
  const auto length = static_cast<uint32_t>(image.size());
  std::memcpy(body.data() + json.size(), &length, 4);
  return {body, std::to_string(json.size())};
}

}  // namespace

Call model_infer_call(const std::shared_ptr<grpc::Channel>& channel,
                      const std::vector<std::string>& images, const InferOptions& options) {
  std::shared_ptr<inference::GRPCInferenceService::Stub> stub =
      inference::GRPCInferenceService::NewStub(channel);
  auto requests = std::make_shared<std::vector<inference::ModelInferRequest>>();
  for (const std::string& image : images) requests->push_back(infer_request(image, options));
  return [stub, requests](size_t index, StageLatencies& stages, uint32_t& batch_size) {
    grpc::ClientContext context;
    inference::ModelInferResponse response;
    if (!stub->ModelInfer(&context, (*requests)[index % requests->size()], &response).ok()) return false;
    read_stages(response.parameters(), stages, batch_size);
    return true;
  };
}

Call rest_infer_call(const std::string& target, const std::vector<std::string>& images,
                     const InferOptions& options) {
  if (options.model.empty()) throw std::invalid_argument("REST inference needs --model");
  const size_t colon = target.rfind(':');
  auto client = std::make_shared<httplib::Client>(target.substr(0, colon), std::stoi(target.substr(colon + 1)));
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // else Nagle holds the body back for the header's ACK (40 ms)
  auto bodies = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  for (const std::string& image : images) bodies->push_back(rest_body(image, options));
  const std::string path = "/v2/models/" + options.model + "/infer";
  return [client, bodies, path](size_t index, StageLatencies& stages, uint32_t& batch_size) {
    const auto& [body, json_length] = (*bodies)[index % bodies->size()];
    const auto result = client->Post(path, {{"Inference-Header-Content-Length", json_length}}, body,
                                     "application/octet-stream");
    if (!result || result->status != 200) return false;
    const std::string header_length = result->get_header_value("Inference-Header-Content-Length");
    const size_t length = header_length.empty() ? result->body.size() : std::stoull(header_length);
    const nlohmann::json answer = nlohmann::json::parse(result->body.substr(0, length));
    for (const auto& [name, value] : answer["parameters"].items()) {
      if (value.is_number_float()) stages.emplace_back(name, value.get<double>());
      if (name == "batch_size") batch_size = value.get<uint32_t>();
    }
    return true;
  };
}

}  // namespace roiserve::benchmarks
