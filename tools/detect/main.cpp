// roiserve-detect: runs a model bundle on image files and writes the
// detections JSON (tools/detection_records/detections_json.h), optionally an annotated
// PNG per image.
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "detector/bundle/model_bundle.h"
#include "detector/model/freed_memory.h"
#include "tools/cli/device_option.h"
#include "tools/cli/precision_option.h"
#include "tools/detector_io/detection_results.h"
#include "tools/detector_io/image_tensor.h"
#include "tools/drawing/draw_detections.h"
#include "tools/image_io/image_file.h"

namespace {

using namespace roiserve;

// OUTDIR/<stem>.png, made unique where two inputs share a stem.
std::filesystem::path drawing_path(const std::filesystem::path& dir, const std::string& file,
                                   std::set<std::string>& taken) {
  const std::string stem = std::filesystem::path(file).stem().string();
  std::string name = stem + ".png";
  for (int n = 2; taken.count(name); ++n) name = stem + "-" + std::to_string(n) + ".png";
  taken.insert(name);
  return dir / name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Detect objects in images with a roiserve model bundle"};
  std::string model_dir, json_path, draw_dir, device_name = "cpu", precision;
  detector::HeadRequest request;
  bool no_masks = false;
  double score_threshold = -1, nms_iou = -1;
  int64_t max_detections = 0;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  std::vector<std::string> images;
  app.add_option("--model", model_dir, "model bundle directory")->required();
  app.add_option("--head", request.box_head, "box head (default: the model's)");
  app.add_option("--mask-pooler", request.mask_pooler, "mask pooler (default: the model's first)");
  app.add_flag("--no-masks", no_masks, "boxes only: skip the mask stages");
  app.add_option("--score-threshold", score_threshold, "keep detections scoring above this")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--nms-iou", nms_iou, "per-class NMS IoU threshold")->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-detections", max_detections, "detections per image at most")
      ->check(CLI::PositiveNumber);
  tools::add_device_option(app, device_name);
  tools::add_precision_option(app, precision);
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  app.add_option("--draw", draw_dir, "write an annotated PNG per image into this directory");
  double draw_min_score = tools::kDefaultDrawMinScore;
  app.add_option("--draw-min-score", draw_min_score, "draw the detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--json", json_path, "output file for the detections JSON")->required();
  app.add_option("images", images, "image files (JPEG, PNG, BMP, WebP, TIFF)")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    detector::keep_freed_memory_for_reuse();
    at::set_num_threads(threads);
    const c10::Device device = detector::resolve_device(device_name);
    request.masks = !no_masks;
    if (score_threshold >= 0) request.score_threshold = score_threshold;
    if (nms_iou >= 0) request.nms_iou = nms_iou;
    if (max_detections > 0) request.max_detections = max_detections;

    detector::Detector model = detector::load_bundle(model_dir);
    model->check_request(request);
    model->to(device);
    tools::prepare_precision(*model, precision, "roiserve-detect");
    // Every image is decoded before any work, so a bad file fails the run at once.
    std::vector<at::Tensor> decoded;
    for (const std::string& file : images) decoded.push_back(tools::read_image(file));
    if (!draw_dir.empty()) std::filesystem::create_directories(draw_dir);

    std::vector<tools::ImageRecord> records;
    std::set<std::string> drawings;
    for (size_t i = 0; i < images.size(); ++i) {
      detector::StageTimings timings;
      // On the CPU in, on the CPU out: the detector moves the image to its
      // device and the detections back.
      const auto detections = model->detect({decoded[i]}, request, timings);
      records.push_back(
          tools::make_image_record(images[i], detections.front(), timings, model->config()));
      if (!draw_dir.empty()) {
        tools::write_png(
            tools::draw_detections(tools::to_rgb_mat(decoded[i]), records.back().detections,
                                   draw_min_score),
            drawing_path(draw_dir, images[i], drawings));
      }
    }
    std::ofstream out(json_path);
    out << tools::detections_document(records).dump(1) << "\n";
    if (!out) throw std::runtime_error("cannot write " + json_path);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-detect: %s\n", error.what());
    return 1;
  }
  return 0;
}
