// roiserve_detector_bench: per-stage latency of the detector on square inputs
// (320 x 320 by default): every box head of a model, with and without masks,
// median over the timed runs. A model comes from a bundle (--model) or, with
// random weights, from a model.yaml (--config). compare_detector_torchvision.py
// runs it on a torchvision checkpoint imported by tools/import_torchvision and
// times torchvision itself on the same weights and inputs. --device cuda[:N]
// runs it on a GPU: the weights move there once, the inputs stay on the CPU
// (each forward uploads its image and downloads its detections, as a server
// does), and every stage's time ends with a synchronisation of the GPU.
// --precision fp32|bf16 picks the serving arithmetic (default: the model's).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_dataset.h"
#include "detector/model/freed_memory.h"
#include "tools/cli/device_option.h"
#include "tools/cli/precision_option.h"

namespace {

using namespace roiserve::detector;

// "cpu": the process's user + system CPU time over the forward, all threads:
// on a shared machine a steadier measure of the work than wall time.
const char* const kStages[] = {"preprocess", "backbone",    "rpn",       "box_pool",
                               "box_head",   "postprocess", "mask_pool", "mask_head",
                               "paste",      "total",       "cpu"};

// shapes-v1 validation images, zero-padded or cropped to size x size.
std::vector<at::Tensor> square_inputs(int64_t count, int64_t size) {
  std::vector<at::Tensor> images;
  for (int64_t i = 0; i < count; ++i) {
    const at::Tensor image = generate_shapes_sample(2, i).image;
    at::Tensor square = at::zeros({3, size, size}, at::kByte);
    const int64_t height = std::min(size, image.size(1)), width = std::min(size, image.size(2));
    square.narrow(1, 0, height)
        .narrow(2, 0, width)
        .copy_(image.narrow(1, 0, height).narrow(2, 0, width));
    images.push_back(square);
  }
  return images;
}

double process_cpu_ms() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& t) {
    return 1e3 * static_cast<double>(t.tv_sec) + 1e-3 * static_cast<double>(t.tv_usec);
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct Run {
  std::string name;
  std::map<std::string, std::vector<double>> stages;
  double detections = 0;  // mean per image
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Per-stage latency of a roiserve detector on square inputs"};
  std::string model_dir, config_file, json_path, device_name = "cpu", precision_name;
  std::vector<std::string> heads;
  int64_t size = 320, input_count = 8, iterations = 20, warmup = 3;
  double score_threshold = -1;
  bool no_resize = false;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  auto* model_option = app.add_option("--model", model_dir, "model bundle");
  app.add_option("--config", config_file, "model.yaml: that architecture with random weights")
      ->excludes(model_option)
      ->check(CLI::ExistingFile);
  app.add_option("--heads", heads, "box heads (default: all the model has)")->delimiter(',');
  app.add_option("--size", size, "input side in pixels")->check(CLI::PositiveNumber);
  app.add_option("--inputs", input_count, "distinct input images, cycled")
      ->check(CLI::PositiveNumber);
  app.add_option("--iterations", iterations, "timed forwards per configuration")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed forwards first")->check(CLI::NonNegativeNumber);
  app.add_option("--score-threshold", score_threshold,
                 "override the model's (0 keeps max_detections boxes, as random weights need)");
  app.add_flag("--no-resize", no_resize, "feed the inputs at their size (no shorter-side resize)");
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  roiserve::tools::add_device_option(app, device_name);
  roiserve::tools::add_precision_option(app, precision_name);
  app.add_option("--json", json_path, "also write the medians as JSON");
  CLI11_PARSE(app, argc, argv);
  if (model_dir.empty() && config_file.empty()) {
    std::fprintf(stderr, "roiserve_detector_bench: give --model or --config\n");
    return 2;
  }

  try {
    keep_freed_memory_for_reuse();
    at::set_num_threads(threads);
    at::manual_seed(0);
    ModelConfig config =
        model_dir.empty() ? read_model_config_file(config_file) : read_model_config(model_dir);
    if (no_resize) config.preprocess.resize = "none";
    Detector model = model_dir.empty() ? Detector(config) : load_bundle(model_dir);
    if (model_dir.empty()) {
      model->eval();
    } else if (no_resize) {
      std::fprintf(stderr, "--no-resize applies to --config models only\n");
      return 2;
    }
    model->to(resolve_device(device_name));
    const PrecisionChoice precision =
        roiserve::tools::prepare_precision(*model, precision_name, "roiserve_detector_bench");
    if (heads.empty()) heads = model->box_head_names();
    const std::vector<at::Tensor> inputs = square_inputs(input_count, size);

    std::vector<Run> runs;
    for (const std::string& head : heads) {
      for (bool masks : {true, false}) {
        if (masks && model->mask_pooler_names().empty()) continue;
        HeadRequest request;
        request.box_head = head;
        request.masks = masks;
        if (score_threshold >= 0) request.score_threshold = score_threshold;
        Run run{head + (masks ? " + masks" : ""), {}, 0};
        for (int64_t i = 0; i < warmup + iterations; ++i) {
          StageTimings timings;
          const double cpu_before = process_cpu_ms();
          const auto detections =
              model->detect({inputs[static_cast<size_t>(i % input_count)]}, request, timings);
          timings.add("cpu", process_cpu_ms() - cpu_before);
          if (i < warmup) continue;
          for (const auto& [stage, ms] : timings.entries()) run.stages[stage].push_back(ms);
          run.detections += static_cast<double>(detections[0].boxes.size(0)) / iterations;
        }
        runs.push_back(std::move(run));
      }
    }

    std::printf("%s on %s in %s, %ldx%ld inputs, %d threads, median of %ld runs (ms)\n\n| stage |",
                model->config().name.c_str(), model->device().str().c_str(),
                roiserve::detector::precision_name(precision.effective).c_str(),
                static_cast<long>(size), static_cast<long>(size), at::get_num_threads(),
                static_cast<long>(iterations));
    for (const Run& run : runs) std::printf(" %s |", run.name.c_str());
    std::printf("\n|---|");
    for (size_t i = 0; i < runs.size(); ++i) std::printf("---:|");
    std::printf("\n");
    for (const char* stage : kStages) {
      std::printf("| %s |", stage);
      for (const Run& run : runs) {
        const auto found = run.stages.find(stage);
        if (found == run.stages.end()) {
          std::printf(" – |");
        } else {
          std::printf(" %.2f |", median(found->second));
        }
      }
      std::printf("\n");
    }
    std::printf("| detections |");
    for (const Run& run : runs) std::printf(" %.1f |", run.detections);
    std::printf("\n");

    if (!json_path.empty()) {
      nlohmann::json report = {{"model", model->config().name},
                               {"device", model->device().str()},
                               {"precision", roiserve::detector::precision_name(precision.effective)},
                               {"size", size},
                               {"threads", at::get_num_threads()},
                               {"iterations", iterations},
                               {"runs", nlohmann::json::array()}};
      for (const Run& run : runs) {
        nlohmann::json medians = nlohmann::json::object();
        for (const auto& [stage, values] : run.stages) medians[stage] = median(values);
        report["runs"].push_back(
            {{"name", run.name}, {"detections", run.detections}, {"median_ms", medians}});
      }
      std::ofstream(json_path) << report.dump(2) << "\n";
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve_detector_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
