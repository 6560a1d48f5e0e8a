// roiserve-eval: COCO AP of a model bundle on a labelled data set (shapes-v1
// generated from a seed, or COCO-format files), for one head or as the
// offline A/B tool over several heads and mask poolers sharing one backbone
// pass and one set of proposals per image. Writes the report of
// tools/eval/comparison_report.h and prints the headline numbers.
#include <ATen/Parallel.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <numeric>
#include <thread>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_labelled.h"
#include "detector/model/freed_memory.h"
#include "tools/coco_dataset/coco_dataset.h"
#include "tools/cli/device_option.h"
#include "tools/cli/precision_option.h"
#include "tools/eval/comparison_report.h"
#include "tools/eval/head_comparison.h"

namespace {

using namespace roiserve;

void print_summary(const tools::HeadComparison& comparison) {
  std::printf("%-14s %7s %7s %7s %9s\n", "head", "box AP", "AP50", "AP75", "agnostic");
  for (const auto& head : comparison.box_heads) {
    std::printf("%-14s %7.3f %7.3f %7.3f %9.3f\n", head.head.c_str(), head.bbox.stats[0],
                head.bbox.stats[1], head.bbox.stats[2], head.bbox_class_agnostic.stats[0]);
  }
  if (comparison.masks.empty()) return;
  std::printf("\n%-14s %-12s %7s %7s %7s\n", "head", "mask pooler", "mask AP", "AP50", "AP75");
  for (const auto& mask : comparison.masks) {
    std::printf("%-14s %-12s %7.3f %7.3f %7.3f\n", mask.head.c_str(), mask.pooler.c_str(),
                mask.segm.stats[0], mask.segm.stats[1], mask.segm.stats[2]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate (and A/B-compare the heads of) a roiserve model bundle with COCO AP"};
  std::string model_dir, output_dir, device_name = "cpu", precision, coco_annotations, coco_images;
  tools::ComparisonOptions options;
  bool no_masks = false, write_results = false;
  uint64_t shapes_seed = detector::kShapesValidationSeed;
  int64_t shapes_first = 0, shapes_count = detector::kShapesValidationSize;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  app.add_option("--model", model_dir, "model bundle directory")->required();
  app.add_option("--heads", options.heads, "box heads to evaluate (default: all the model has)")
      ->delimiter(',');
  app.add_option("--mask-poolers", options.mask_poolers,
                 "mask poolers to evaluate on each head's detections (default: all)")
      ->delimiter(',');
  app.add_flag("--no-masks", no_masks, "boxes only");
  auto* seed = app.add_option("--shapes-seed", shapes_seed,
                              "shapes-v1 seed (default 2, the validation set)");
  app.add_option("--shapes-first", shapes_first, "first shapes-v1 image index")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--shapes-count", shapes_count, "number of shapes-v1 images (default 200)")
      ->check(CLI::PositiveNumber);
  auto* annotations = app.add_option("--coco-annotations", coco_annotations, "COCO instances JSON")
                          ->check(CLI::ExistingFile)
                          ->excludes(seed);
  app.add_option("--coco-images", coco_images, "folder of the COCO images")
      ->check(CLI::ExistingDirectory)
      ->needs(annotations);
  annotations->needs("--coco-images");
  app.add_option("--agreement-iou", options.agreement_iou, "IoU that pairs two heads' detections")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--agreement-min-score", options.agreement_min_score,
                 "detections scoring below take no part in the agreement")
      ->check(CLI::Range(0.0, 1.0));
  tools::add_device_option(app, device_name);
  tools::add_precision_option(app, precision);
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  app.add_option("--output", output_dir, "report directory")->required();
  app.add_flag("--write-results", write_results,
               "also write each variant's detections in COCO results format");
  CLI11_PARSE(app, argc, argv);

  try {
    detector::keep_freed_memory_for_reuse();
    at::set_num_threads(threads);
    const c10::Device device = detector::resolve_device(device_name);
    options.masks = !no_masks;
    detector::Detector model = detector::load_bundle(model_dir);
    model->to(device);
    tools::prepare_precision(*model, precision, "roiserve-eval");

    std::unique_ptr<detector::LabelledDataset> data;
    std::string description;
    std::vector<int64_t> category_ids;
    if (!coco_annotations.empty()) {
      auto coco = std::make_unique<tools::CocoDataset>(coco_annotations, coco_images);
      category_ids = coco->category_ids();
      description = "COCO " + coco_annotations;
      data = std::move(coco);
    } else {
      data = detector::make_shapes_dataset(shapes_seed, shapes_first, shapes_count);
      category_ids.resize(data->class_names().size());
      std::iota(category_ids.begin(), category_ids.end(), 1);
      description = "shapes-v1 seed " + std::to_string(shapes_seed) + ", images " +
                    std::to_string(shapes_first) + ".." +
                    std::to_string(shapes_first + shapes_count - 1);
    }

    const bool interactive = isatty(STDERR_FILENO);
    const auto progress = [interactive](int64_t done, int64_t total) {
      if (!interactive && done % 50 != 0 && done != total) return;
      std::fprintf(stderr, "%s[eval] %ld/%ld images%s", interactive ? "\r" : "",
                   static_cast<long>(done), static_cast<long>(total),
                   interactive && done != total ? "" : "\n");
    };
    const tools::HeadComparison comparison =
        tools::compare_heads(*model, *data, description, options, progress);
    tools::write_comparison_report(comparison, output_dir, write_results, category_ids);
    print_summary(comparison);
    std::fprintf(stderr, "report written to %s/report.md\n", output_dir.c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-eval: %s\n", error.what());
    return 1;
  }
  return 0;
}
