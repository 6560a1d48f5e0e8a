#include "server/inference_protocol/json_conversion.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace roiserve::server::inference_protocol {
namespace {

using nlohmann::json;

std::string base64_decode(const std::string& text) {
  if (text.size() % 4 != 0) throw std::invalid_argument("a b64 element is not base64");
  std::string bytes(text.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) throw std::invalid_argument("a b64 element is not base64");
  // EVP_DecodeBlock counts the padding's bytes too.
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && padding < 2; --i) ++padding;
  bytes.resize(static_cast<size_t>(written) - padding);
  return bytes;
}

std::string base64_encode(const std::string& bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  text.resize(static_cast<size_t>(written));
  return text;
}

void flatten(const json& data, std::vector<const json*>& elements) {
  if (data.is_array()) {
    for (const json& element : data) flatten(element, elements);
  } else {
    elements.push_back(&data);
  }
}

template <typename T>
T number(const json& element, const std::string& input) {
  if (!element.is_number()) throw std::invalid_argument("input " + input + "'s data holds a non-number");
  return element.get<T>();
}

// JSON "data" into the typed contents of its datatype.
void read_data(const json& data, const std::string& input, const std::string& datatype,
               inference::InferTensorContents* contents) {
  std::vector<const json*> elements;
  flatten(data, elements);
  for (const json* element : elements) {
    if (datatype == "BYTES") {
      if (element->is_string()) {
        contents->add_bytes_contents(element->get<std::string>());
      } else if (element->is_object() && element->contains("b64") && (*element)["b64"].is_string()) {
        contents->add_bytes_contents(base64_decode((*element)["b64"].get<std::string>()));
      } else {
        throw std::invalid_argument("input " + input + "'s BYTES elements must be strings or {\"b64\": ...}");
      }
    } else if (datatype == "BOOL") {
      if (!element->is_boolean()) throw std::invalid_argument("input " + input + "'s data holds a non-boolean");
      contents->add_bool_contents(element->get<bool>());
    } else if (datatype == "UINT8" || datatype == "UINT16" || datatype == "UINT32") {
      const auto value = number<int64_t>(*element, input);
      if (value < 0 || value > UINT32_MAX) throw std::invalid_argument("input " + input + " holds " + std::to_string(value) + ", out of " + datatype + "'s range");
      contents->add_uint_contents(static_cast<uint32_t>(value));
    } else if (datatype == "INT8" || datatype == "INT16" || datatype == "INT32") {
      contents->add_int_contents(number<int32_t>(*element, input));
    } else if (datatype == "INT64") {
      contents->add_int64_contents(number<int64_t>(*element, input));
    } else if (datatype == "UINT64") {
      contents->add_uint64_contents(number<uint64_t>(*element, input));
    } else if (datatype == "FP32") {
      contents->add_fp32_contents(number<float>(*element, input));
    } else if (datatype == "FP64") {
      contents->add_fp64_contents(number<double>(*element, input));
    } else {
      throw std::invalid_argument("input " + input + " has an unknown datatype '" + datatype + "'");
    }
  }
}

void read_parameters(const json& parameters, google::protobuf::Map<std::string, inference::InferParameter>* out) {
  if (!parameters.is_object()) throw std::invalid_argument("\"parameters\" must be an object");
  for (const auto& [name, value] : parameters.items()) {
    inference::InferParameter& parameter = (*out)[name];
    if (value.is_boolean()) {
      parameter.set_bool_param(value.get<bool>());
    } else if (value.is_number_integer()) {
      parameter.set_int64_param(value.get<int64_t>());
    } else if (value.is_number()) {
      parameter.set_double_param(value.get<double>());
    } else if (value.is_string()) {
      parameter.set_string_param(value.get<std::string>());
    } else {
      throw std::invalid_argument("parameter " + name + " must be a boolean, number or string");
    }
  }
}

json parameters_json(const google::protobuf::Map<std::string, inference::InferParameter>& parameters) {
  json object = json::object();
  for (const auto& [name, value] : parameters) {
    switch (value.parameter_choice_case()) {
      case inference::InferParameter::kBoolParam: object[name] = value.bool_param(); break;
      case inference::InferParameter::kInt64Param: object[name] = value.int64_param(); break;
      case inference::InferParameter::kUint64Param: object[name] = value.uint64_param(); break;
      case inference::InferParameter::kDoubleParam: object[name] = value.double_param(); break;
      case inference::InferParameter::kStringParam: object[name] = value.string_param(); break;
      default: break;
    }
  }
  return object;
}

template <typename T>
json fixed_width_data(const std::string& raw) {
  json data = json::array();
  for (size_t offset = 0; offset + sizeof(T) <= raw.size(); offset += sizeof(T)) {
    T value;
    std::memcpy(&value, raw.data() + offset, sizeof(T));
    data.push_back(value);
  }
  return data;
}

// BYTES elements as strings; bytes that are not UTF-8 (PNG masks) as {"b64": ...}.
json bytes_data(const std::string& raw) {
  json data = json::array();
  for (size_t offset = 0; offset + 4 <= raw.size();) {
    uint32_t length = 0;
    std::memcpy(&length, raw.data() + offset, 4);
    std::string element = raw.substr(offset + 4, length);
    offset += 4 + length;
    json text = element;
    try {
      (void)text.dump();
      data.push_back(std::move(text));
    } catch (const json::type_error&) {
      data.push_back({{"b64", base64_encode(element)}});
    }
  }
  return data;
}

json output_data(const std::string& datatype, const std::string& raw) {
  if (datatype == "FP32") return fixed_width_data<float>(raw);
  if (datatype == "INT64") return fixed_width_data<int64_t>(raw);
  if (datatype == "BYTES") return bytes_data(raw);
  throw std::logic_error("no JSON form for output datatype " + datatype);
}

}  // namespace

RestInferRequest read_infer_request(const std::string& body, std::optional<size_t> json_length) {
  if (json_length && *json_length > body.size()) {
    throw std::invalid_argument("Inference-Header-Content-Length (" + std::to_string(*json_length) +
                                ") is larger than the body (" + std::to_string(body.size()) + " bytes)");
  }
  const size_t header_size = json_length ? *json_length : body.size();
  json header;
  try {
    header = json::parse(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(header_size));
  } catch (const json::parse_error& error) {
    throw std::invalid_argument(std::string("the request body is not JSON: ") + error.what());
  }
  if (!header.is_object()) throw std::invalid_argument("the request body must be a JSON object");
  RestInferRequest rest;
  inference::ModelInferRequest& request = rest.request;
  try {
    if (header.contains("id")) request.set_id(header["id"].get<std::string>());
    if (header.contains("parameters")) read_parameters(header["parameters"], request.mutable_parameters());
    const auto binary_output = request.parameters().find("binary_data_output");
    rest.binary_by_default = binary_output != request.parameters().end() && binary_output->second.bool_param();
    if (!header.contains("inputs") || !header["inputs"].is_array()) {
      throw std::invalid_argument("the request has no \"inputs\" array");
    }
    size_t offset = header_size;
    size_t binary_inputs = 0;
    for (const json& input : header["inputs"]) {
      auto* tensor = request.add_inputs();
      tensor->set_name(input.at("name").get<std::string>());
      tensor->set_datatype(input.at("datatype").get<std::string>());
      for (const json& dim : input.at("shape")) tensor->add_shape(dim.get<int64_t>());
      const json parameters = input.value("parameters", json::object());
      if (parameters.contains("binary_data_size")) {
        const auto size = parameters["binary_data_size"].get<uint64_t>();
        if (!json_length || size > body.size() - offset) {
          throw std::invalid_argument("input " + tensor->name() + "'s binary_data_size (" + std::to_string(size) +
                                      ") runs past the body's binary data");
        }
        request.add_raw_input_contents(body.substr(offset, size));
        offset += size;
        ++binary_inputs;
      } else if (input.contains("data")) {
        read_data(input["data"], tensor->name(), tensor->datatype(), tensor->mutable_contents());
      } else {
        throw std::invalid_argument("input " + tensor->name() + " has neither data nor binary_data_size");
      }
    }
    if (binary_inputs != 0 && binary_inputs != static_cast<size_t>(request.inputs_size())) {
      throw std::invalid_argument("either every input's data is binary or none is");
    }
    if (offset != body.size()) {
      throw std::invalid_argument("the body has " + std::to_string(body.size() - offset) +
                                  " bytes of binary data that no input claims");
    }
    for (const json& output : header.value("outputs", json::array())) {
      auto* requested = request.add_outputs();
      requested->set_name(output.at("name").get<std::string>());
      const json parameters = output.value("parameters", json::object());
      rest.binary_outputs.emplace_back(requested->name(),
                                       parameters.value("binary_data", rest.binary_by_default));
    }
  } catch (const json::exception& error) {
    throw std::invalid_argument(std::string("the request's JSON is not an inference request: ") + error.what());
  }
  return rest;
}

RestBody write_infer_response(const inference::ModelInferResponse& response, const RestInferRequest& request) {
  json header = {{"model_name", response.model_name()},
                 {"model_version", response.model_version()},
                 {"outputs", json::array()}};
  if (!response.id().empty()) header["id"] = response.id();
  header["parameters"] = parameters_json(response.parameters());
  std::string binary;
  bool any_binary = false;
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& output = response.outputs(i);
    const std::string& raw = response.raw_output_contents(i);
    json tensor = {{"name", output.name()}, {"datatype", output.datatype()}, {"shape", output.shape()}};
    bool as_binary = request.binary_by_default;
    for (const auto& [name, binary_flag] : request.binary_outputs) {
      if (name == output.name()) as_binary = binary_flag;
    }
    if (as_binary) {
      tensor["parameters"] = {{"binary_data_size", raw.size()}};
      binary += raw;
      any_binary = true;
    } else {
      tensor["data"] = output_data(output.datatype(), raw);
    }
    header["outputs"].push_back(std::move(tensor));
  }
  RestBody rest{header.dump(), std::nullopt};
  if (any_binary) {
    rest.json_length = rest.body.size();
    rest.body += binary;
  }
  return rest;
}

std::string message_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string text;
  const auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) throw std::runtime_error("writing JSON failed: " + status.ToString());
  return text;
}

}  // namespace roiserve::server::inference_protocol
