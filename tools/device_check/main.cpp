// roiserve-device-check: the detector's part of scripts/gpu-check.sh. Needs
// LibTorch and roiserve_detector only (no CLI11, OpenCV or JSON library), so
// that it builds on a GPU machine that has nothing else; prints JSON.
//
//   roiserve-device-check eval --model DIR [--device cpu|cuda[:N]] [--seed S]
//       [--first I] [--count N] [--threads T]
//     COCO box AP of every box head and mask AP of every (head, mask pooler) on
//     shapes-v1 images first..first+count-1 of a seed (default: the validation
//     set, seed 2, images 0..199), as roiserve-eval computes them.
//   roiserve-device-check latency --model DIR [--device D] [--height H] [--width W]
//       [--batch B] [--warmup N] [--repeats N] [--heads a,b] [--threads T]
//     Per-stage latency (the detector's stage timings) of detect() on B images of
//     H x W (default 800 x 1216, batch 1): every box head, with masks where the
//     model has them; median and mean over the repeats, after the warm-up, and
//     the wall time of the whole call with the device synchronized.
//   roiserve-device-check bundle --config FILE --weights FILE --output DIR
//       [--name NAME] [--norm-eps EPS]
//     A bundle from a model.yaml template and a {name: tensor} weights file in
//     roiserve's naming (what tools/import_torchvision writes where PyYAML is
//     missing: it converts the checkpoint, this writes the bundle).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/serialize.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "detector/bundle/model_bundle.h"
#include "detector/data/ground_truth.h"
#include "detector/data/shapes_dataset.h"
#include "detector/data/shapes_labelled.h"
#include "detector/eval/coco_eval.h"
#include "detector/eval/rle_tensor.h"
#include "detector/model/device.h"

namespace {

using namespace roiserve;

// --key value pairs after the subcommand.
class Arguments {
 public:
  Arguments(int argc, char** argv, int first) {
    for (int i = first; i < argc; i += 2) {
      const std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || i + 1 >= argc) {
        throw std::invalid_argument("expected --option value pairs, got '" + key + "'");
      }
      values_[key.substr(2)] = argv[i + 1];
    }
  }

  std::string text(const std::string& key, const std::string& fallback) {
    used_.push_back(key);
    const auto found = values_.find(key);
    return found == values_.end() ? fallback : found->second;
  }
  std::string required(const std::string& key) {
    const std::string value = text(key, "");
    if (value.empty()) throw std::invalid_argument("--" + key + " is required");
    return value;
  }
  int64_t integer(const std::string& key, int64_t fallback) {
    const std::string value = text(key, std::to_string(fallback));
    size_t end = 0;
    const int64_t parsed = std::stoll(value, &end);
    if (end != value.size()) throw std::invalid_argument("--" + key + ": not an integer");
    return parsed;
  }
  double real(const std::string& key, double fallback) {
    const std::string value = text(key, "");
    return value.empty() ? fallback : std::stod(value);
  }
  std::vector<std::string> list(const std::string& key) {
    std::vector<std::string> items;
    std::stringstream stream(text(key, ""));
    for (std::string item; std::getline(stream, item, ',');) {
      if (!item.empty()) items.push_back(item);
    }
    return items;
  }
  // Throws for an option the subcommand does not know (a typo would
  // otherwise silently take the default).
  void check_all_used() const {
    for (const auto& [key, value] : values_) {
      if (std::find(used_.begin(), used_.end(), key) == used_.end()) {
        throw std::invalid_argument("unknown option --" + key);
      }
    }
  }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> used_;
};

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string json_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

std::string json_milliseconds(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", value);
  return buffer;
}

std::string json_stats(const eval::CocoEvalResult& result) {
  std::string out = "{";
  for (size_t i = 0; i < eval::kStatNames.size(); ++i) {
    out += (i ? ", " : "") + json_string(std::string(eval::kStatNames[i])) + ": " +
           json_number(result.stats[i]);
  }
  return out + "}";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The data set's label of each model label (0: a class the data set lacks).
std::vector<int64_t> data_labels(const detector::ModelConfig& model,
                                 const std::vector<std::string>& data_classes) {
  std::vector<int64_t> labels(model.class_names.size() + 1, 0);
  for (size_t k = 0; k < model.class_names.size(); ++k) {
    const auto found = std::find(data_classes.begin(), data_classes.end(), model.class_names[k]);
    if (found != data_classes.end()) labels[k + 1] = found - data_classes.begin() + 1;
  }
  if (std::all_of(labels.begin(), labels.end(), [](int64_t label) { return label == 0; })) {
    throw std::invalid_argument("the data set shares no class name with model '" + model.name +
                                "'");
  }
  return labels;
}

// Detections of one image in COCO evaluation form (boxes as [x, y, w, h]; masks
// binarized at the model's threshold), as roiserve-eval converts them.
void append_detections(const detector::ImageDetections& found, int64_t image_id,
                       const std::vector<int64_t>& labels, const detector::ModelConfig& model,
                       bool masks, std::vector<eval::Detection>& out) {
  const at::Tensor boxes = found.boxes.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor scores = found.scores.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor classes = found.labels.to(at::kCPU, at::kLong).contiguous();
  const auto box = boxes.accessor<float, 2>();
  const auto score = scores.accessor<float, 1>();
  const auto label = classes.accessor<int64_t, 1>();
  for (int64_t i = 0; i < boxes.size(0); ++i) {
    const int64_t data_label = labels.at(static_cast<size_t>(label[i]));
    if (data_label == 0) continue;
    eval::Detection detection;
    detection.image_id = image_id;
    detection.category_id = data_label;
    detection.score = score[i];
    const double x1 = box[i][0], y1 = box[i][1], x2 = box[i][2], y2 = box[i][3];
    detection.bbox = {x1, y1, x2 - x1, y2 - y1};
    if (masks) {
      const detector::MaskPatch& patch = found.masks.at(static_cast<size_t>(i));
      detection.segmentation =
          eval::encode_patch(patch.probabilities > model.roi_heads.mask.threshold, patch.top,
                             patch.left, found.image_size.height, found.image_size.width);
    }
    out.push_back(std::move(detection));
  }
}

int run_eval(Arguments& args) {
  const std::string model_dir = args.required("model");
  const c10::Device device = detector::resolve_device(args.text("device", "cpu"));
  const auto seed = static_cast<uint64_t>(
      args.integer("seed", static_cast<int64_t>(detector::kShapesValidationSeed)));
  const int64_t first = args.integer("first", 0);
  const int64_t count = args.integer("count", detector::kShapesValidationSize);
  const int64_t threads = args.integer("threads", at::get_num_threads());
  args.check_all_used();
  if (first < 0 || count <= 0) throw std::invalid_argument("--first >= 0 and --count > 0");
  at::set_num_threads(static_cast<int>(threads));

  detector::Detector model = detector::load_bundle(model_dir);
  model->to(device);
  const detector::ModelConfig& config = model->config();
  const auto data = detector::make_shapes_dataset(seed, first, count);
  const std::vector<int64_t> labels = data_labels(config, data->class_names());
  const std::vector<std::string> heads = model->box_head_names();
  const std::vector<std::string> poolers = model->mask_pooler_names();

  const auto start = std::chrono::steady_clock::now();
  std::vector<eval::ImageInfo> images;
  std::vector<eval::GroundTruth> truths;
  std::map<std::string, std::vector<eval::Detection>> box_detections, mask_detections;
  for (int64_t index = 0; index < data->size(); ++index) {
    const detector::LabelledImage image = data->get(index);
    images.push_back({image.id, image.image.size(1), image.image.size(2)});
    detector::append_ground_truths(image, truths);
    const detector::SharedStages shared = model->run_shared({image.image.to(device)});
    for (const std::string& head : heads) {
      detector::HeadRequest request;
      request.box_head = head;
      request.masks = false;
      detector::StageTimings timings;
      // On the device, for the mask poolers to read.
      const std::vector<detector::ImageDetections> found =
          model->run_box_head(shared, request, timings);
      std::vector<detector::ImageDetections> boxes = found;
      detector::to_cpu(boxes);
      append_detections(boxes[0], image.id, labels, config, false, box_detections[head]);
      for (const std::string& pooler : poolers) {
        std::vector<detector::ImageDetections> masked = found;
        model->run_mask_head(shared, pooler, masked, timings);
        detector::to_cpu(masked);
        append_detections(masked[0], image.id, labels, config, true,
                          mask_detections[head + "/" + pooler]);
      }
    }
  }
  detector::synchronize(device);
  const double inference_s = seconds_since(start);

  std::vector<int64_t> category_ids(data->class_names().size());
  std::iota(category_ids.begin(), category_ids.end(), 1);
  std::string box_json, mask_json, counts_json;
  for (const auto& [head, detections] : box_detections) {
    box_json += (box_json.empty() ? "" : ", ") + json_string(head) + ": " +
                json_stats(eval::evaluate_coco(images, category_ids, truths, detections,
                                               eval::IouType::kBbox));
    counts_json += (counts_json.empty() ? "" : ", ") + json_string(head) + ": " +
                   std::to_string(detections.size());
  }
  for (const auto& [variant, detections] : mask_detections) {
    mask_json += (mask_json.empty() ? "" : ", ") + json_string(variant) + ": " +
                 json_stats(eval::evaluate_coco(images, category_ids, truths, detections,
                                                eval::IouType::kSegm));
  }
  std::printf(
      "{\"model\": %s, \"device\": %s, \"data\": {\"set\": \"shapes-v1\", \"seed\": %llu, "
      "\"first\": %lld, \"count\": %lld}, \"threads\": %d, \"inference_s\": %s,\n"
      " \"detections\": {%s},\n \"box\": {%s},\n \"mask\": {%s}}\n",
      json_string(config.name).c_str(), json_string(device.str()).c_str(),
      static_cast<unsigned long long>(seed), static_cast<long long>(first),
      static_cast<long long>(count), at::get_num_threads(), json_number(inference_s).c_str(),
      counts_json.c_str(), box_json.c_str(), mask_json.c_str());
  return 0;
}

// A height x width image tiled with shapes-v1 validation images (each cropped
// to its cell): realistic content at any size, different for every `variant`.
at::Tensor mosaic(int64_t height, int64_t width, int64_t variant) {
  constexpr int64_t kCell = 320;
  at::Tensor image = at::zeros({3, height, width}, at::kByte);
  int64_t sample = variant * 64;
  for (int64_t top = 0; top < height; top += kCell) {
    for (int64_t left = 0; left < width; left += kCell) {
      const int64_t index = sample++;
      const at::Tensor tile =
          detector::generate_shapes_sample(detector::kShapesValidationSeed, index).image;
      const int64_t h = std::min({kCell, tile.size(1), height - top});
      const int64_t w = std::min({kCell, tile.size(2), width - left});
      image.narrow(1, top, h).narrow(2, left, w).copy_(tile.narrow(1, 0, h).narrow(2, 0, w));
    }
  }
  return image;
}

struct Samples {
  std::vector<double> values;
  double median() const {
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    return n == 0 ? 0 : n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  }
  double mean() const {
    return values.empty() ? 0
                          : std::accumulate(values.begin(), values.end(), 0.0) /
                                static_cast<double>(values.size());
  }
};

int run_latency(Arguments& args) {
  const std::string model_dir = args.required("model");
  const c10::Device device = detector::resolve_device(args.text("device", "cpu"));
  const int64_t height = args.integer("height", 800);
  const int64_t width = args.integer("width", 1216);
  const int64_t batch = args.integer("batch", 1);
  const int64_t warmup = args.integer("warmup", 3);
  const int64_t repeats = args.integer("repeats", 10);
  const int64_t threads = args.integer("threads", at::get_num_threads());
  std::vector<std::string> heads = args.list("heads");
  args.check_all_used();
  if (height <= 0 || width <= 0 || batch <= 0 || warmup < 0 || repeats <= 0) {
    throw std::invalid_argument("--height, --width, --batch, --repeats > 0 and --warmup >= 0");
  }
  at::set_num_threads(static_cast<int>(threads));

  detector::Detector model = detector::load_bundle(model_dir);
  model->to(device);
  if (heads.empty()) heads = model->box_head_names();
  std::vector<at::Tensor> images;
  for (int64_t i = 0; i < batch; ++i) images.push_back(mosaic(height, width, i).to(device));
  const bool masks = !model->mask_pooler_names().empty();

  std::string heads_json;
  for (const std::string& head : heads) {
    detector::HeadRequest request;
    request.box_head = head;
    request.masks = masks;
    model->check_request(request);
    std::map<std::string, Samples> stages;
    std::vector<std::string> stage_order;
    Samples wall;
    double detections = 0;
    for (int64_t run = 0; run < warmup + repeats; ++run) {
      detector::StageTimings timings;
      detector::synchronize(device);
      const auto start = std::chrono::steady_clock::now();
      const std::vector<detector::ImageDetections> found = model->detect(images, request, timings);
      detector::synchronize(device);
      const double ms = 1e3 * seconds_since(start);
      if (run < warmup) continue;
      wall.values.push_back(ms);
      for (const auto& [stage, stage_ms] : timings.entries()) {
        if (!stages.count(stage)) stage_order.push_back(stage);
        stages[stage].values.push_back(stage_ms);
      }
      for (const auto& image : found) detections += static_cast<double>(image.boxes.size(0));
    }
    std::string stages_json;
    for (const std::string& stage : stage_order) {
      stages_json += (stages_json.empty() ? "" : ", ") + json_string(stage) +
                     ": {\"median\": " + json_milliseconds(stages[stage].median()) +
                     ", \"mean\": " + json_milliseconds(stages[stage].mean()) + "}";
    }
    heads_json += std::string(heads_json.empty() ? "" : ",\n  ") + json_string(head) +
                  ": {\"masks\": " + (masks ? "true" : "false") +
                  ", \"wall_ms\": {\"median\": " + json_milliseconds(wall.median()) +
                  ", \"mean\": " + json_milliseconds(wall.mean()) + "}" +
                  ", \"detections_per_image\": " +
                  json_number(detections / static_cast<double>(repeats * batch)) +
                  ", \"stages_ms\": {" + stages_json + "}}";
  }
  std::printf(
      "{\"model\": %s, \"device\": %s, \"height\": %lld, \"width\": %lld, \"batch\": %lld, "
      "\"warmup\": %lld, \"repeats\": %lld, \"threads\": %d,\n \"heads\": {%s}}\n",
      json_string(model->config().name).c_str(), json_string(device.str()).c_str(),
      static_cast<long long>(height), static_cast<long long>(width), static_cast<long long>(batch),
      static_cast<long long>(warmup), static_cast<long long>(repeats), at::get_num_threads(),
      heads_json.c_str());
  return 0;
}

int run_bundle(Arguments& args) {
  const std::string config_file = args.required("config");
  const std::string weights_file = args.required("weights");
  const std::string output = args.required("output");
  const std::string name = args.text("name", "");
  const std::string norm_eps = args.text("norm-eps", "");
  args.check_all_used();

  detector::ModelConfig config = detector::read_model_config_file(config_file);
  if (!name.empty()) config.name = name;
  if (!norm_eps.empty()) config.backbone.norm_eps = std::stod(norm_eps);
  detector::Detector model(config);
  std::ifstream stream(weights_file, std::ios::binary);
  if (!stream) throw std::invalid_argument(weights_file + ": cannot be read");
  const std::vector<char> bytes{std::istreambuf_iterator<char>(stream),
                                std::istreambuf_iterator<char>()};
  const c10::IValue state = torch::pickle_load(bytes);
  if (!state.isGenericDict()) {
    throw std::invalid_argument(weights_file + ": must hold a dict of tensors");
  }
  detector::load_state_dict(*model, state.toGenericDict(), weights_file);
  detector::save_bundle(*model, output);
  std::printf("{\"bundle\": %s, \"model\": %s}\n", json_string(output).c_str(),
              json_string(config.name).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: roiserve-device-check eval|latency|bundle --option value ... "
      "(see tools/device_check/main.cpp)";
  if (argc < 2) {
    std::fprintf(stderr, "%s\n", usage.c_str());
    return 2;
  }
  const std::string command = argv[1];
  try {
    Arguments args(argc, argv, 2);
    if (command == "eval") return run_eval(args);
    if (command == "latency") return run_latency(args);
    if (command == "bundle") return run_bundle(args);
    std::fprintf(stderr, "%s\n", usage.c_str());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-device-check %s: %s\n", command.c_str(), error.what());
    return 1;
  }
}
