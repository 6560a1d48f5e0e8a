// roiserve-shapes: writes shapes-v1 images as a COCO-format data set (PNG
// files and an instances JSON), to look at, to evaluate with other tools, or to
// feed the service real image files.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "detector/data/shapes_labelled.h"
#include "tools/coco_dataset/coco_dataset.h"

int main(int argc, char** argv) {
  using namespace roiserve;
  CLI::App app{"Write shapes-v1 images as a COCO-format data set"};
  uint64_t seed = detector::kShapesValidationSeed;
  int64_t first = 0, count = detector::kShapesValidationSize;
  std::string output_dir;
  app.add_option("--seed", seed, "data set seed (default 2, the validation set)");
  app.add_option("--first", first, "first image index")->check(CLI::NonNegativeNumber);
  app.add_option("--count", count, "number of images (default 200)")->check(CLI::PositiveNumber);
  app.add_option("--output", output_dir, "output directory (instances.json, images/)")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    tools::write_coco_dataset(*detector::make_shapes_dataset(seed, first, count), output_dir);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "roiserve-shapes: %s\n", error.what());
    return 1;
  }
  return 0;
}
