// roiserve-client: calls roiserve-server. Sends each image file's bytes as
// they are (the server decodes), and writes the detections JSON of
// roiserve-detect, with the server's per-stage latencies as timings_ms.
//   roiserve-client --target HOST:PORT [--head H] [--mask-pooler P]
//       [--compare H1[/P1],H2[/P2],...] [--stream] [--deadline-ms N]
//       [--json OUT.json] [--draw OUTDIR] IMAGE...
//   roiserve-client --health | --list-models | --model-info [--model M]
// Exit status: 0 when every call succeeded, 1 when one failed (its gRPC
// status code name and message go to stderr), 2 for bad flags or files.
#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "roiserve/v1/detection.grpc.pb.h"
#include "tools/client/channel.h"
#include "tools/response_records/response_records.h"
#include "tools/drawing/draw_detections.h"
#include "tools/file_io/file_bytes.h"
#include "tools/image_io/image_file.h"

namespace {

using namespace roiserve;

struct Request {
  std::string model, head, mask_pooler, compare;
  bool no_masks = false;
  double score_threshold = -1, nms_iou = -1;
  int64_t max_detections = 0;
};

void report_error(const std::string& what, const grpc::Status& status) {
  static const char* const kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  const auto code = static_cast<size_t>(status.error_code());
  std::fprintf(stderr, "roiserve-client: %s: %s: %s\n", what.c_str(),
               code < std::size(kNames) ? kNames[code] : "UNKNOWN", status.error_message().c_str());
}

v1::DetectOptions detect_options(const Request& request) {
  v1::DetectOptions options;
  options.set_model(request.model);
  options.set_head(request.head);
  options.set_mask_pooler(request.mask_pooler);
  options.set_mask_format(request.no_masks ? v1::MASK_FORMAT_NONE : v1::MASK_FORMAT_UNSPECIFIED);
  if (request.score_threshold >= 0) options.set_score_threshold(static_cast<float>(request.score_threshold));
  if (request.nms_iou >= 0) options.set_nms_iou(static_cast<float>(request.nms_iou));
  if (request.max_detections > 0) options.set_max_detections(static_cast<uint32_t>(request.max_detections));
  return options;
}

// "roi_align/roi_pool,spp" -> (roi_align, roi_pool), (spp, "").
std::vector<v1::Variant> parse_variants(const std::string& list) {
  std::vector<v1::Variant> variants;
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    v1::Variant variant;
    const size_t slash = item.find('/');
    variant.set_head(item.substr(0, slash));
    if (slash != std::string::npos) variant.set_mask_pooler(item.substr(slash + 1));
    variants.push_back(variant);
  }
  return variants;
}

std::string file_bytes(const std::string& path) {
  try {
    const std::vector<uint8_t> bytes = tools::read_file_bytes(path);
    return {bytes.begin(), bytes.end()};
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot read '" + path + "': " + error.what());
  }
}

// OUTDIR/<stem><suffix>.png, unique where two inputs share a stem.
void draw(const std::string& dir, double min_score, const std::string& file, const std::string& suffix,
          const std::vector<tools::DetectionRecord>& detections, std::set<std::string>& taken) {
  if (dir.empty()) return;
  const std::string stem = std::filesystem::path(file).stem().string() + suffix;
  std::string name = stem + ".png";
  for (int n = 2; taken.count(name); ++n) name = stem + "-" + std::to_string(n) + ".png";
  taken.insert(name);
  tools::write_png(tools::draw_detections(tools::read_rgb_image(file), detections, min_score),
                   std::filesystem::path(dir) / name);
}

void summarize(const tools::ImageRecord& record) {
  std::printf("%s: %zu detections, %.1f ms on the server:", record.file.c_str(),
              record.detections.size(),
              record.timings_ms.count("total") ? record.timings_ms.at("total") : 0.0);
  for (const auto& detection : record.detections) {
    if (detection.score >= 0.5) std::printf(" %s %.2f", detection.category.c_str(), detection.score);
  }
  std::printf("\n");
}

int health(const std::shared_ptr<grpc::Channel>& channel, const tools::CallSettings& settings,
           const std::string& service) {
  grpc::ClientContext context;
  settings.apply(context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response);
  if (!status.ok()) {
    report_error("health", status);
    return 1;
  }
  std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int print_json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"roiserve-client: detect objects through a roiserve server"};
  tools::ConnectionOptions connection;
  Request request;
  bool check_health = false, list_models = false, model_info = false, stream = false;
  std::string health_service, json_path, draw_dir;
  std::vector<std::string> images;
  app.add_option("--target", connection.target, "server address, HOST:PORT");
  app.add_option("--deadline-ms", connection.deadline_ms, "deadline of each call (0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--tls-ca", connection.tls_ca, "connect with TLS, trusting this CA (PEM)");
  app.add_option("--tls-cert", connection.tls_cert, "client certificate (PEM), for mutual TLS");
  app.add_option("--tls-key", connection.tls_key, "client private key (PEM)");
  app.add_option("--tls-server-name", connection.tls_server_name, "expected server certificate name");
  app.add_option("--token-file", connection.token_file, "bearer token file (default: $ROISERVE_TOKEN)");
  app.add_option("--model", request.model, "model name (default: the server's default)");
  app.add_option("--head", request.head, "box head (default: the model's)");
  app.add_option("--mask-pooler", request.mask_pooler, "mask pooler (default: the model's)");
  app.add_option("--compare", request.compare, "compare variants HEAD[/POOLER],HEAD[/POOLER],...");
  app.add_flag("--no-masks", request.no_masks, "boxes only");
  app.add_option("--score-threshold", request.score_threshold, "keep detections scoring above this");
  app.add_option("--nms-iou", request.nms_iou, "per-class NMS IoU threshold");
  app.add_option("--max-detections", request.max_detections, "detections per image at most");
  app.add_flag("--stream", stream, "send every image on one DetectStream");
  app.add_option("--json", json_path, "write the detections JSON here");
  app.add_option("--draw", draw_dir, "write an annotated PNG per image into this directory");
  double draw_min_score = tools::kDefaultDrawMinScore;
  app.add_option("--draw-min-score", draw_min_score, "draw the detections scoring at least this");
  app.add_flag("--health", check_health, "probe grpc.health.v1: exit 0 when SERVING");
  app.add_option("--health-service", health_service, "service to probe (default: the server)");
  app.add_flag("--list-models", list_models, "print the loaded models as JSON");
  app.add_flag("--model-info", model_info, "print --model's description as JSON");
  app.add_option("images", images, "image files (JPEG, PNG, BMP, WebP, TIFF)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 exits 0 for --help, and a code of its own (105, 109, ...) for a
    // bad flag: the documented exit status of a bad flag is 2.
    return app.exit(error) == 0 ? 0 : 2;
  }

  try {
    const auto channel = tools::make_channel(connection);
    const tools::CallSettings settings(connection);
    if (check_health) return health(channel, settings, health_service);
    const auto stub = v1::DetectionService::NewStub(channel);
    if (list_models || model_info) {
      grpc::ClientContext context;
      settings.apply(context);
      grpc::Status status;
      if (list_models) {
        v1::ListModelsResponse response;
        status = stub->ListModels(&context, {}, &response);
        if (status.ok()) return print_json(response);
      } else {
        v1::GetModelInfoRequest info_request;
        info_request.set_name(request.model);
        v1::ModelInfo response;
        status = stub->GetModelInfo(&context, info_request, &response);
        if (status.ok()) return print_json(response);
      }
      report_error(list_models ? "ListModels" : "GetModelInfo", status);
      return 1;
    }
    if (images.empty()) throw std::invalid_argument("give image files (or --health, --list-models)");
    if (!draw_dir.empty()) std::filesystem::create_directories(draw_dir);

    bool failed = false;
    std::set<std::string> drawings;
    std::vector<tools::ImageRecord> records;
    nlohmann::json compared = nlohmann::json::array();
    const v1::DetectOptions options = detect_options(request);
    if (!request.compare.empty()) {
      for (const std::string& file : images) {
        v1::CompareRequest compare;
        compare.mutable_image()->set_encoded(file_bytes(file));
        *compare.mutable_options() = options;
        for (const v1::Variant& variant : parse_variants(request.compare)) *compare.add_variants() = variant;
        grpc::ClientContext context;
        settings.apply(context);
        v1::CompareResponse response;
        const grpc::Status status = stub->Compare(&context, compare, &response);
        if (!status.ok()) {
          report_error(file, status);
          failed = true;
          continue;
        }
        compared.push_back(tools::compare_record(file, response));
        for (const auto& variant : compared.back()["variants"]) {
          draw(draw_dir, draw_min_score, file, "-" + variant["head"].get<std::string>(),
               variant["detections"].get<std::vector<tools::DetectionRecord>>(), drawings);
        }
      }
    } else {
      std::vector<v1::DetectRequest> requests;
      for (const std::string& file : images) {
        v1::DetectRequest detect;
        detect.mutable_image()->set_encoded(file_bytes(file));
        *detect.mutable_options() = options;
        detect.set_request_id(file);
        requests.push_back(std::move(detect));
      }
      auto answer = [&](const std::string& file, const v1::DetectResponse& response) {
        records.push_back(tools::record_from_response(file, response));
        draw(draw_dir, draw_min_score, file, "", records.back().detections, drawings);
        if (json_path.empty()) summarize(records.back());
      };
      if (stream) {
        grpc::ClientContext context;
        settings.apply(context);
        auto call = stub->DetectStream(&context);
        // Writing apart from reading: the server reads on only as its
        // responses are taken.
        std::thread writer([&] {
          for (const auto& detect : requests) {
            if (!call->Write(detect)) break;
          }
          call->WritesDone();
        });
        v1::DetectStreamResponse response;
        while (call->Read(&response)) {
          const std::string& file = images.at(response.index());
          if (response.has_error()) {
            report_error(file, grpc::Status(static_cast<grpc::StatusCode>(response.error().code()),
                                            response.error().message()));
            failed = true;
          } else {
            answer(file, response.result());
          }
        }
        writer.join();
        const grpc::Status status = call->Finish();
        if (!status.ok()) {
          report_error("DetectStream", status);
          failed = true;
        }
      } else {
        for (size_t i = 0; i < images.size(); ++i) {
          grpc::ClientContext context;
          settings.apply(context);
          v1::DetectResponse response;
          const grpc::Status status = stub->Detect(&context, requests[i], &response);
          if (status.ok()) {
            answer(images[i], response);
          } else {
            report_error(images[i], status);
            failed = true;
          }
        }
      }
    }
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << (request.compare.empty() ? tools::detections_document(records)
                                      : nlohmann::json{{"images", compared}})
                 .dump(1)
          << "\n";
      if (!out) throw std::runtime_error("cannot write '" + json_path + "'");
    } else if (!request.compare.empty()) {
      std::cout << nlohmann::json{{"images", compared}}.dump(1) << "\n";
    }
    return failed ? 1 : 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-client: %s\n", error.what());
    return 2;
  }
}
