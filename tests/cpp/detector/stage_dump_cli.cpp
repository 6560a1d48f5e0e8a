// roiserve_stage_dump: runs a model bundle on images and writes what every
// stage produced, for tests/python/test_torchvision_parity.py to compare
// with torchvision stage by stage.
//
//   roiserve_stage_dump [--precision fp32|bf16] MODEL_DIR OUTPUT_PT THREADS IMAGE_PT...
//
// Without --precision the detector runs its plain modules (the arithmetic
// torchvision runs, for bit-for-bit parity); with it, the serving path the
// server and the tools prepare (DetectorImpl::prepare).
//
// IMAGE_PT: one [3, H, W] uint8 RGB tensor (torch.save); each image runs
// alone (a batch of one). OUTPUT_PT: a {name: tensor} dict, for image i:
//   i.image_size  [2] (height, width) after the model's resize
//   i.input       the preprocessed, padded network input [1, 3, H', W']
//   i.features.l  FPN level l (0 = P2 .. 4 = P6)
//   i.proposals   RPN proposals [P, 4], network-input coordinates
//   i.network_boxes, i.boxes (image coordinates), i.scores, i.labels
//   i.mask_origins [D, 2] (top, left) and i.mask.d: detection d's pasted
//                  probabilities, the box-sized patch at that origin
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/serialize.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "detector/bundle/model_bundle.h"

namespace {

using namespace roiserve::detector;

at::Tensor read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path);
  return torch::pickle_load({std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}).toTensor();
}

void dump_image(DetectorImpl& model, const at::Tensor& image, const std::string& prefix,
                c10::Dict<std::string, at::Tensor>& out) {
  const SharedStages shared = model.run_shared({image});
  const ImageSize size = shared.batch.image_sizes.front();
  out.insert(prefix + "image_size", at::tensor({size.height, size.width}));
  out.insert(prefix + "input", shared.batch.tensor);
  for (size_t level = 0; level < shared.features.size(); ++level) {
    out.insert(prefix + "features." + std::to_string(level), shared.features[level]);
  }
  out.insert(prefix + "proposals", shared.proposals.front());
  StageTimings timings;
  const ImageDetections detections = model.run_head(shared, HeadRequest{}, timings).front();
  out.insert(prefix + "network_boxes", detections.network_boxes);
  out.insert(prefix + "boxes", detections.boxes);
  out.insert(prefix + "scores", detections.scores);
  out.insert(prefix + "labels", detections.labels);
  if (detections.masks.empty()) return;
  std::vector<int64_t> origins;
  for (size_t d = 0; d < detections.masks.size(); ++d) {
    const MaskPatch& patch = detections.masks[d];
    origins.insert(origins.end(), {patch.top, patch.left});
    out.insert(prefix + "mask." + std::to_string(d), patch.probabilities.contiguous());
  }
  out.insert(prefix + "mask_origins",
             at::tensor(origins).view({static_cast<int64_t>(detections.masks.size()), 2}));
}

}  // namespace

int main(int argc, char** argv) {
  std::string precision;
  if (argc > 2 && std::string(argv[1]) == "--precision") {
    precision = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 5) {
    std::cerr << "usage: roiserve_stage_dump [--precision fp32|bf16] MODEL_DIR OUTPUT_PT THREADS IMAGE_PT...\n";
    return 2;
  }
  try {
    at::set_num_threads(std::stoi(argv[3]));
    Detector model = load_bundle(argv[1]);
    if (!precision.empty()) model->prepare(parse_precision(precision));
    c10::Dict<std::string, at::Tensor> out;
    for (int i = 4; i < argc; ++i) dump_image(*model, read_image(argv[i]), std::to_string(i - 4) + ".", out);
    const std::vector<char> bytes = torch::pickle_save(out);
    std::ofstream(argv[2], std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "roiserve_stage_dump: " << error.what() << '\n';
    return 1;
  }
}
