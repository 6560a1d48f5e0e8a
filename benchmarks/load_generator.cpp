// roiserve-loadgen: closed-loop load on a running roiserve-server, over
// loopback. At each concurrency level, N client threads send Detect calls
// back to back (or over one DetectStream each, or the Open Inference
// Protocol's ModelInfer, or its REST /v2/models/{name}/infer with binary
// data) until a request count or a time limit; reports throughput,
// end-to-end latency percentiles, and the server's overhead: end-to-end
// latency minus the model's compute stages (preprocess .. paste), with image
// decode reported apart. Several protocols run one after another, level by
// level and round by round, so that their overheads are measured under the
// same load.
//   roiserve-loadgen --target HOST:PORT --concurrency 1,4,16 --requests 200
//       [--duration-s 60] [--stream] [--json OUT] IMAGE...
//   roiserve-loadgen --target HOST:PORT --http-target HOST:PORT --model NAME
//       --protocol detect,model-infer,rest-infer --rounds 5 IMAGE...
#include <CLI/CLI.hpp>
#include <grpcpp/create_channel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "benchmarks/inference_protocol_calls.h"
#include "roiserve/v1/detection.grpc.pb.h"
#include "tools/file_io/file_bytes.h"

namespace {

using namespace roiserve;
using Clock = std::chrono::steady_clock;

const std::set<std::string> kModelStages = {"preprocess", "backbone", "rpn",       "box_pool",
                                            "box_head",   "postprocess", "mask_pool", "mask_head",
                                            "paste"};

struct Sample {
  double end_to_end_ms;
  double decode_ms;
  double model_ms;
  double queue_wait_ms;
  double server_total_ms;  // receipt of the request until its response was ready
  uint32_t batch_size;
};

Sample sample_of(double end_to_end_ms, const std::vector<std::pair<std::string, double>>& stages,
                 uint32_t batch_size) {
  Sample sample{end_to_end_ms, 0, 0, 0, 0, batch_size};
  for (const auto& [stage, milliseconds] : stages) {
    if (stage == "decode") sample.decode_ms = milliseconds;
    if (stage == "queue_wait") sample.queue_wait_ms = milliseconds;
    if (stage == "total") sample.server_total_ms = milliseconds;
    if (kModelStages.count(stage)) sample.model_ms += milliseconds;
  }
  return sample;
}

Sample sample_of(double end_to_end_ms, const v1::DetectResponse& response) {
  std::vector<std::pair<std::string, double>> stages;
  for (const v1::StageLatency& latency : response.latency()) {
    stages.emplace_back(latency.stage(), latency.milliseconds());
  }
  return sample_of(end_to_end_ms, stages, response.batch_size());
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p / 100.0 * values.size()));
  return values[index];
}

struct LevelResult {
  int concurrency;
  std::vector<Sample> samples;
  int64_t errors = 0;
  double seconds = 0;
};

// Work shared by the threads of one level: a request budget and a time limit.
struct Budget {
  std::atomic<int64_t> remaining;
  Clock::time_point stop;
  bool take() { return Clock::now() < stop && remaining.fetch_sub(1) > 0; }
};

using benchmarks::Call;

void unary_worker(const Call& call, size_t offset, Budget& budget, LevelResult& result,
                  std::mutex& mutex) {
  for (size_t i = offset; budget.take(); ++i) {
    std::vector<std::pair<std::string, double>> stages;
    uint32_t batch_size = 0;
    const Clock::time_point start = Clock::now();
    const bool ok = call(i, stages, batch_size);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::lock_guard<std::mutex> lock(mutex);
    if (ok) {
      result.samples.push_back(sample_of(ms, stages, batch_size));
    } else {
      ++result.errors;
    }
  }
}

void stream_worker(v1::DetectionService::Stub& stub, const std::vector<v1::DetectRequest>& requests,
                   size_t offset, Budget& budget, LevelResult& result, std::mutex& mutex) {
  grpc::ClientContext context;
  auto stream = stub.DetectStream(&context);
  v1::DetectStreamResponse response;
  for (size_t i = offset; budget.take(); ++i) {
    const Clock::time_point start = Clock::now();
    if (!stream->Write(requests[i % requests.size()]) || !stream->Read(&response)) break;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    std::lock_guard<std::mutex> lock(mutex);
    if (response.has_result()) {
      result.samples.push_back(sample_of(ms, response.result()));
    } else {
      ++result.errors;
    }
  }
  stream->WritesDone();
  if (!stream->Finish().ok()) {
    std::lock_guard<std::mutex> lock(mutex);
    ++result.errors;
  }
}

struct Protocol {
  std::string name;
  // A call for one client thread (each thread its own connection state).
  std::function<Call()> make_call;
  bool stream = false;
};

Protocol detect_protocol(const std::shared_ptr<grpc::Channel>& channel,
                         const std::vector<v1::DetectRequest>& requests, bool stream) {
  std::shared_ptr<v1::DetectionService::Stub> stub = v1::DetectionService::NewStub(channel);
  return {stream ? "detect-stream" : "detect", [stub, &requests]() -> Call {
            return [stub, &requests](size_t i, auto& stages, uint32_t& batch_size) {
              grpc::ClientContext context;
              v1::DetectResponse response;
              if (!stub->Detect(&context, requests[i % requests.size()], &response).ok()) return false;
              for (const v1::StageLatency& latency : response.latency()) {
                stages.emplace_back(latency.stage(), latency.milliseconds());
              }
              batch_size = response.batch_size();
              return true;
            };
          }, stream};
}

LevelResult run_level(const Protocol& protocol, const std::shared_ptr<grpc::Channel>& channel,
                      const std::vector<v1::DetectRequest>& requests, int concurrency,
                      int64_t count, double duration_s) {
  LevelResult result{concurrency, {}, 0, 0};
  Budget budget{{count}, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(duration_s))};
  std::mutex mutex;
  auto stub = v1::DetectionService::NewStub(channel);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      if (protocol.stream) {
        stream_worker(*stub, requests, static_cast<size_t>(t), budget, result, mutex);
      } else {
        unary_worker(protocol.make_call(), static_cast<size_t>(t), budget, result, mutex);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

nlohmann::json summarize(const LevelResult& level) {
  std::vector<double> end_to_end, overhead, in_server, transport, decode, queue_wait, batch;
  for (const Sample& s : level.samples) {
    end_to_end.push_back(s.end_to_end_ms);
    overhead.push_back(s.end_to_end_ms - s.model_ms - s.decode_ms);
    in_server.push_back(s.server_total_ms - s.model_ms - s.decode_ms);
    transport.push_back(s.end_to_end_ms - s.server_total_ms);
    decode.push_back(s.decode_ms);
    queue_wait.push_back(s.queue_wait_ms);
    batch.push_back(s.batch_size);
  }
  return {{"concurrency", level.concurrency},
          {"requests", level.samples.size()},
          {"errors", level.errors},
          {"throughput_per_s", level.samples.size() / std::max(level.seconds, 1e-9)},
          {"latency_ms", {{"p50", percentile(end_to_end, 50)},
                          {"p95", percentile(end_to_end, 95)},
                          {"p99", percentile(end_to_end, 99)}}},
          {"overhead_excluding_decode_ms", {{"p50", percentile(overhead, 50)},
                                            {"p95", percentile(overhead, 95)}}},
          // The overhead's two parts: inside the server (queue, handoffs,
          // encode), and outside it (gRPC, the network stack, the client).
          {"server_overhead_ms_p50", percentile(in_server, 50)},
          {"transport_ms_p50", percentile(transport, 50)},
          {"queue_wait_ms_p50", percentile(queue_wait, 50)},
          {"decode_ms_p50", percentile(decode, 50)},
          {"batch_size_p50", percentile(batch, 50)}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"roiserve-loadgen: closed-loop load and latency of a roiserve server"};
  std::string target = "localhost:50051", http_target, json_path, head, model;
  int64_t requests_per_level = 200;
  int64_t warmup = 5;
  int rounds = 1;
  double duration_s = 60;
  bool stream = false, no_masks = false;
  std::vector<std::string> images;
  app.add_option("--target", target, "server address (loopback)");
  std::string levels_flag = "1,4,16";
  std::string protocols_flag = "detect";
  app.add_option("--concurrency", levels_flag, "client threads, one level each: N,N,...");
  app.add_option("--requests", requests_per_level, "requests per level and protocol, at most")
      ->check(CLI::PositiveNumber);
  app.add_option("--duration-s", duration_s, "seconds per level and round, at most")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "unmeasured requests first, per protocol");
  app.add_option("--head", head, "box head (default: the model's)");
  app.add_option("--model", model, "model name (default: the server's default; needed by rest-infer)");
  app.add_flag("--no-masks", no_masks, "boxes only");
  app.add_flag("--stream", stream, "detect: one DetectStream per client thread instead of unary calls");
  app.add_option("--protocol", protocols_flag,
                 "what to call, one or more of detect (roiserve.v1), model-infer (Open Inference "
                 "Protocol, gRPC), rest-infer (its REST side, binary data): NAME,NAME,...");
  app.add_option("--http-target", http_target, "the server's HTTP address, for rest-infer");
  app.add_option("--rounds", rounds, "protocols alternate this many times per level, each round "
                 "with a share of --requests")->check(CLI::PositiveNumber);
  app.add_option("--json", json_path, "write the results here");
  app.add_option("images", images, "image files to send, in turn")->required();
  CLI11_PARSE(app, argc, argv);
  std::vector<int> concurrency;
  std::stringstream levels_list(levels_flag);
  for (std::string level; std::getline(levels_list, level, ',');) {
    concurrency.push_back(std::stoi(level));
    if (concurrency.back() < 1) {
      std::fprintf(stderr, "roiserve-loadgen: --concurrency levels must be >= 1\n");
      return 2;
    }
  }

  std::vector<std::string> encoded;
  std::vector<v1::DetectRequest> requests;
  for (const std::string& file : images) {
    const std::vector<uint8_t> bytes = tools::read_file_bytes(file);
    encoded.emplace_back(bytes.begin(), bytes.end());
    v1::DetectRequest request;
    request.mutable_image()->set_encoded(encoded.back());
    request.mutable_options()->set_model(model);
    request.mutable_options()->set_head(head);
    if (no_masks) request.mutable_options()->set_mask_format(v1::MASK_FORMAT_NONE);
    requests.push_back(std::move(request));
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  const auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
  const benchmarks::InferOptions options{model, head, !no_masks};
  std::vector<Protocol> protocols;
  std::stringstream protocol_list(protocols_flag);
  for (std::string name; std::getline(protocol_list, name, ',');) {
    if (name == "detect") {
      protocols.push_back(detect_protocol(channel, requests, stream));
    } else if (name == "model-infer") {
      protocols.push_back({name, [&] { return benchmarks::model_infer_call(channel, encoded, options); }});
    } else if (name == "rest-infer" && !http_target.empty() && !model.empty()) {
      protocols.push_back({name, [&] { return benchmarks::rest_infer_call(http_target, encoded, options); }});
    } else {
      std::fprintf(stderr, "roiserve-loadgen: unknown --protocol '%s' (rest-infer needs --http-target "
                   "and --model)\n", name.c_str());
      return 2;
    }
  }
  for (const Protocol& protocol : protocols) {
    if (warmup > 0) run_level(protocol, channel, requests, 1, warmup, duration_s);
  }

  nlohmann::json levels = nlohmann::json::array();
  std::printf("%-11s %-13s %8s %7s %9s %9s %9s %9s %11s %9s %10s %9s %6s\n", "concurrency", "protocol",
              "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "overhead50", "server50",
              "transport50", "decode50", "batch");
  for (int level : concurrency) {
    std::vector<LevelResult> results(protocols.size(), LevelResult{level, {}, 0, 0});
    for (int round = 0; round < rounds; ++round) {
      for (size_t p = 0; p < protocols.size(); ++p) {
        const int64_t share = requests_per_level / rounds + (round < requests_per_level % rounds ? 1 : 0);
        LevelResult part = run_level(protocols[p], channel, requests, level, share, duration_s);
        results[p].samples.insert(results[p].samples.end(), part.samples.begin(), part.samples.end());
        results[p].errors += part.errors;
        results[p].seconds += part.seconds;
      }
    }
    for (size_t p = 0; p < protocols.size(); ++p) {
      nlohmann::json summary = summarize(results[p]);
      summary["protocol"] = protocols[p].name;
      std::printf("%-11d %-13s %8d %7d %9.2f %9.2f %9.2f %9.2f %11.3f %9.3f %10.3f %9.3f %6.0f\n", level,
                  protocols[p].name.c_str(), summary["requests"].get<int>(), summary["errors"].get<int>(),
                  summary["throughput_per_s"].get<double>(), summary["latency_ms"]["p50"].get<double>(),
                  summary["latency_ms"]["p95"].get<double>(), summary["latency_ms"]["p99"].get<double>(),
                  summary["overhead_excluding_decode_ms"]["p50"].get<double>(),
                  summary["server_overhead_ms_p50"].get<double>(), summary["transport_ms_p50"].get<double>(),
                  summary["decode_ms_p50"].get<double>(), summary["batch_size_p50"].get<double>());
      levels.push_back(summary);
    }
  }
  if (!json_path.empty()) {
    std::ofstream(json_path) << nlohmann::json{{"target", target}, {"stream", stream}, {"levels", levels}}.dump(1)
                             << "\n";
  }
  for (const auto& level : levels) {
    if (level["errors"].get<int64_t>() > 0) return 1;
  }
  return 0;
}
