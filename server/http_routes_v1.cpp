#include "server/http_routes_v1.h"

#include <google/protobuf/util/json_util.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "server/exception_status.h"
#include "server/model_info.h"
#include "tools/response_records/response_records.h"

namespace roiserve::server {
namespace {

using Query = std::multimap<std::string, std::string>;

void parse_json(const std::string& json, google::protobuf::Message* message) {
  if (json.empty()) return;
  const auto status = google::protobuf::util::JsonStringToMessage(json, message);
  if (!status.ok()) {
    throw std::invalid_argument("the request JSON is not a " + message->GetDescriptor()->name() +
                                ": " + std::string(status.message()));
  }
}

float fraction_parameter(const std::string& name, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') {
    throw std::invalid_argument("query parameter " + name + " must be a number, got '" + text + "'");
  }
  return static_cast<float>(value);
}

uint32_t count_parameter(const std::string& name, const std::string& text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text[0] == '-' || value > UINT32_MAX) {
    throw std::invalid_argument("query parameter " + name + " must be a whole number, got '" +
                                text + "'");
  }
  return static_cast<uint32_t>(value);
}

v1::MaskFormat mask_format_parameter(const std::string& text) {
  if (text == "none") return v1::MASK_FORMAT_NONE;
  if (text == "coco_rle") return v1::MASK_FORMAT_COCO_RLE;
  if (text == "png") return v1::MASK_FORMAT_PNG;
  throw std::invalid_argument("query parameter mask_format must be none, coco_rle or png, got '" +
                              text + "'");
}

// Applies a DetectOptions parameter; false when `name` is none.
bool apply_option(const std::string& name, const std::string& value, v1::DetectOptions& options) {
  if (name == "model") options.set_model(value);
  else if (name == "head") options.set_head(value);
  else if (name == "mask_pooler") options.set_mask_pooler(value);
  else if (name == "score_threshold") options.set_score_threshold(fraction_parameter(name, value));
  else if (name == "nms_iou") options.set_nms_iou(fraction_parameter(name, value));
  else if (name == "max_detections") options.set_max_detections(count_parameter(name, value));
  else if (name == "mask_format") options.set_mask_format(mask_format_parameter(value));
  else return false;
  return true;
}

[[noreturn]] void unknown_parameter(const std::string& name, const char* known) {
  throw std::invalid_argument("unknown query parameter '" + name + "' (known: " + known + ")");
}

constexpr const char* kDetectParameters =
    "model, head, mask_pooler, score_threshold, nms_iou, max_detections, mask_format, request_id";

// "roi_align/roi_pool,spp": the variants as roiserve-client's --compare has them.
void add_variants(const std::string& list, v1::CompareRequest& request) {
  request.clear_variants();
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    v1::Variant* variant = request.add_variants();
    const size_t slash = item.find('/');
    variant->set_head(item.substr(0, slash));
    if (slash != std::string::npos) variant->set_mask_pooler(item.substr(slash + 1));
  }
}

// Waits for a job's answer on the HTTP pool thread that admitted it.
class Completion {
 public:
  DoneCallback callback() {
    return [this](const grpc::Status& status) {
      std::lock_guard<std::mutex> lock(mutex_);
      status_ = status;
      done_ = true;
      finished_.notify_all();
    };
  }
  grpc::Status wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [this] { return done_; });
    return status_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  grpc::Status status_;
};

bool is_json(const HttpRequest& request) {
  return request.http.get_header_value("Content-Type").rfind("application/json", 0) == 0;
}

// The request's JSON (multipart "request" part, or a JSON body) and image
// (multipart "image" part, a JSON body's own, or the raw body); `file`: the
// image part's file name.
template <typename Request>
Request request_from(HttpRequest& http, Request (*parse)(const std::string&, const Query&),
                     std::string& file) {
  if (http.http.is_multipart_form_data()) {
    const auto json = http.parts.find("request");
    const auto image = http.parts.find("image");
    if (image == http.parts.end()) {
      throw std::invalid_argument("the multipart body has no 'image' part");
    }
    Request request = parse(json == http.parts.end() ? "" : json->second.content, http.query);
    if (request.has_image()) {
      throw std::invalid_argument("give the image in the 'image' part alone, not in 'request'");
    }
    file = image->second.filename;
    request.mutable_image()->set_encoded(std::move(image->second.content));
    return request;
  }
  if (is_json(http)) return parse(http.body, http.query);
  Request request = parse("", http.query);
  request.mutable_image()->set_encoded(std::move(http.body));
  return request;
}

nlohmann::json document(const std::string& model, const std::string& request_id,
                        nlohmann::json image) {
  return {{"model", model}, {"request_id", request_id}, {"images", nlohmann::json::array({image})}};
}

HttpReply json_reply(const nlohmann::json& json) {
  return {200, json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// Admits one /v1 inference request, waits for its answer and writes it.
template <typename Request, typename Response, typename Start, typename Write>
HttpReply infer(Admission& admission, HttpRequest& http, const char* method,
                Request (*parse)(const std::string&, const Query&), Start start, Write write) {
  CallRecord record(admission.metrics(), method, http.peer);
  InflightScope inflight(admission.metrics().inflight(method));
  std::string file;
  Request request;
  Response response;
  Completion completion;
  std::shared_ptr<InferenceJob> job;
  grpc::Status status = guarded("while reading the request", [&] {
    request = request_from(http, parse, file);
    return grpc::Status::OK;
  });
  record.set_request_id(request.request_id());
  if (status.ok()) {
    status = (admission.*start)(request, http.deadline, &response, record, completion.callback(), job);
    if (status.ok()) status = completion.wait();
  }
  HttpReply reply;
  if (status.ok()) {
    status = guarded("while writing the response", [&] {
      reply = json_reply(document(response.model(), response.request_id(), write(file, response)));
      return grpc::Status::OK;
    });
  }
  record.finish(status);
  return status.ok() ? reply : HttpReply::error(status);
}

HttpReply list_models(Admission& admission) {
  v1::ListModelsResponse list;
  const grpc::Status status = fill_model_list(admission.models(), &list);
  if (!status.ok()) return HttpReply::error(status);
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.always_print_primitive_fields = true;
  nlohmann::json models = nlohmann::json::array();
  for (const v1::ModelSummary& summary : list.models()) {
    std::shared_ptr<ServedModel> model;
    if (!admission.models().find(summary.name(), model).ok()) continue;  // unloaded meanwhile
    v1::ModelInfo info;
    fill_model_info(*model, admission.limits(), &info);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(info, &json, print);
    nlohmann::json entry = nlohmann::json::parse(json);
    entry["is_default"] = summary.is_default();
    entry["ready"] = summary.ready();
    models.push_back(std::move(entry));
  }
  return json_reply({{"models", models}});
}

}  // namespace

v1::DetectRequest detect_request_of(const std::string& json, const Query& query) {
  v1::DetectRequest request;
  parse_json(json, &request);
  for (const auto& [name, value] : query) {
    if (name == "request_id") request.set_request_id(value);
    else if (!apply_option(name, value, *request.mutable_options())) unknown_parameter(name, kDetectParameters);
  }
  return request;
}

v1::CompareRequest compare_request_of(const std::string& json, const Query& query) {
  v1::CompareRequest request;
  parse_json(json, &request);
  for (const auto& [name, value] : query) {
    if (name == "request_id") request.set_request_id(value);
    else if (name == "variants") add_variants(value, request);
    else if (name == "match_iou") request.set_match_iou(fraction_parameter(name, value));
    else if (name == "agreement_min_score") request.set_agreement_min_score(fraction_parameter(name, value));
    else if (!apply_option(name, value, *request.mutable_options())) {
      unknown_parameter(name, "variants, match_iou, agreement_min_score, model, mask_pooler, "
                              "score_threshold, nms_iou, max_detections, mask_format, request_id");
    }
  }
  return request;
}

void add_v1_routes(HttpFrontend& http, Admission& admission) {
  http.add_route("POST", "/v1/detect", HttpAccess::kUser, [&admission](HttpRequest& request) {
    return infer<v1::DetectRequest, v1::DetectResponse>(
        admission, request, "POST /v1/detect", &detect_request_of, &Admission::start_detect,
        [](const std::string& file, const v1::DetectResponse& response) {
          return nlohmann::json(tools::record_from_response(file, response));
        });
  });
  http.add_route("POST", "/v1/compare", HttpAccess::kUser, [&admission](HttpRequest& request) {
    return infer<v1::CompareRequest, v1::CompareResponse>(
        admission, request, "POST /v1/compare", &compare_request_of, &Admission::start_compare,
        &tools::compare_record);
  });
  http.add_route("GET", "/v1/models", HttpAccess::kUser,
                 [&admission](HttpRequest&) { return list_models(admission); });
}

}  // namespace roiserve::server
