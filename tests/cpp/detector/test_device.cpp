// The detector's device: parsing and checking device names (the one place
// every --device flag and `device` key goes through), the classification of
// out-of-memory errors, stage timers, and a detector that holds its device and
// hands back CPU detections. Runs on any machine: a CUDA device is used where
// this build and machine have one, and its absence is checked where not.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <filesystem>
#include <new>
#include <stdexcept>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_dataset.h"
#include "detector/data/shapes_labelled.h"
#include "detector/model/detector.h"
#include "detector/model/device.h"
#include "model_support.h"

namespace roiserve::detector {
namespace {

std::string error_of(const std::string& name) {
  try {
    resolve_device(name);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

// Whether this process can run the detector on a GPU at all.
bool cuda_usable() {
  try {
    check_device_available(c10::Device(c10::kCUDA, 0));
    return true;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

TEST(Device, ParsesCpuCudaAndCudaN) {
  EXPECT_EQ(parse_device("cpu"), c10::Device(c10::kCPU));
  // "cuda" is the first GPU, so that what is reported is the device in effect.
  EXPECT_EQ(parse_device("cuda"), c10::Device(c10::kCUDA, 0));
  EXPECT_EQ(parse_device("cuda:0"), c10::Device(c10::kCUDA, 0));
  EXPECT_EQ(parse_device("cuda:3"), c10::Device(c10::kCUDA, 3));
  EXPECT_EQ(parse_device("cuda:3").str(), "cuda:3");
}

TEST(Device, RejectsEveryOtherNameSayingWhatItAccepts) {
  for (const std::string name :
       {"tpu", "cuda:x", "cuda:", "cuda:-1", "cuda:1:2", "cuda:1x", "CUDA", "Cpu", "cpu:0", "",
        " cuda", "cuda ", "mps", "cuda:128", "cuda:99999999999999999999"}) {
    const std::string message = error_of(name);
    EXPECT_NE(message.find("'" + name + "' is not a device: expected cpu, cuda or cuda:N"),
              std::string::npos)
        << name << ": " << message;
    EXPECT_THROW(parse_device(name), std::invalid_argument) << name;
  }
}

TEST(Device, TheCpuIsAlwaysAvailable) {
  EXPECT_NO_THROW(check_device_available(c10::Device(c10::kCPU)));
  EXPECT_EQ(resolve_device("cpu"), c10::Device(c10::kCPU));
  EXPECT_TRUE(device_responds(c10::Device(c10::kCPU)));
  EXPECT_NO_THROW(synchronize(c10::Device(c10::kCPU)));
}

TEST(Device, ACudaDeviceThisBuildOrMachineLacksIsRefusedSayingWhy) {
  if (!cuda_usable()) {
    // Debian's LibTorch has no CUDA; a CUDA build on a machine without a GPU
    // finds none; a roiserve build without kernels says so. All say "CUDA".
    for (const std::string name : {"cuda", "cuda:0", "cuda:1"}) {
      const std::string message = error_of(name);
      EXPECT_NE(message.find("device " + parse_device(name).str() + ": "), std::string::npos)
          << message;
      const bool explained = message.find("no CUDA support") != std::string::npos ||
                             message.find("no CUDA device found") != std::string::npos ||
                             message.find("no CUDA kernels") != std::string::npos;
      EXPECT_TRUE(explained) << message;
    }
    if (!torch::cuda::is_available()) {
      EXPECT_NE(error_of("cuda").find("no CUDA"), std::string::npos) << error_of("cuda");
    }
  } else {
    const std::string message = error_of("cuda:127");
    EXPECT_NE(message.find("this machine has " + std::to_string(torch::cuda::device_count()) +
                           " CUDA device"),
              std::string::npos)
        << message;
    EXPECT_TRUE(device_responds(c10::Device(c10::kCUDA, 0)));
  }
}

TEST(Device, OutOfMemoryIsToldApartFromOtherErrors) {
  // LibTorch's CUDA caching allocator (1.13 and 2.x) throws c10::OutOfMemoryError.
  try {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB");
  } catch (const std::exception& error) {
    EXPECT_TRUE(is_out_of_memory(error));
  }
  // The CUDA runtime and the libraries report theirs as plain c10::Errors.
  for (const char* message : {"CUDA error: out of memory", "CUDA out of memory. Tried to allocate",
                              "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"}) {
    try {
      TORCH_CHECK(false, message);
    } catch (const std::exception& error) {
      EXPECT_TRUE(is_out_of_memory(error)) << message;
    }
  }
  EXPECT_TRUE(is_out_of_memory(std::bad_alloc()));
  try {
    TORCH_CHECK(false, "CUDA error: an illegal memory access was encountered");
  } catch (const std::exception& error) {
    EXPECT_FALSE(is_out_of_memory(error));
  }
  // Only LibTorch's errors are read for the words.
  EXPECT_FALSE(is_out_of_memory(std::runtime_error("out of memory")));
  EXPECT_FALSE(is_out_of_memory(std::invalid_argument("model 'm' has no box head 'x'")));
}

TEST(Device, ErrorMessagesLeaveLibTorchsStackTraceOut) {
  try {
    TORCH_CHECK(false, "CUDA error: an illegal memory access was encountered");
  } catch (const std::exception& error) {
    EXPECT_EQ(error_message(error), "CUDA error: an illegal memory access was encountered");
  }
  EXPECT_EQ(error_message(std::invalid_argument("no box head 'x'")), "no box head 'x'");
}

TEST(StageTimer, TimesItsScopeAndSkipsAScopeLeftByAnException) {
  StageTimings timings;
  { StageTimer timer(timings, "backbone", c10::Device(c10::kCPU)); }
  ASSERT_NE(timings.find("backbone"), nullptr);
  EXPECT_GE(*timings.find("backbone"), 0.0);
  try {
    StageTimer timer(timings, "rpn");
    throw std::runtime_error("the stage failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(timings.find("rpn"), nullptr);
}

Detector tiny_detector() {
  at::manual_seed(7);
  Detector detector(test::tiny_model_config());
  detector->eval();
  return detector;
}

void expect_on_cpu(const std::vector<ImageDetections>& detections) {
  for (const ImageDetections& image : detections) {
    EXPECT_TRUE(image.boxes.is_cpu());
    EXPECT_TRUE(image.scores.is_cpu());
    EXPECT_TRUE(image.labels.is_cpu());
    EXPECT_TRUE(image.network_boxes.is_cpu());
    for (const MaskPatch& patch : image.masks) EXPECT_TRUE(patch.probabilities.is_cpu());
  }
}

TEST(DetectorDevice, TheDetectorHoldsItsDeviceAndHandsBackCpuDetections) {
  Detector detector = tiny_detector();
  EXPECT_EQ(detector->device(), c10::Device(c10::kCPU));
  detector->to(c10::Device(c10::kCPU));
  EXPECT_EQ(detector->device(), c10::Device(c10::kCPU));
  StageTimings timings;
  const auto detections =
      detector->detect({generate_shapes_sample(3, 0).image}, HeadRequest{}, timings);
  expect_on_cpu(detections);
  EXPECT_GT(detections[0].masks.size(), 0u);
}

// With a GPU: the weights move once, images go in from the CPU, detections
// come back to it, equal to the CPU's within float rounding, every stage timed.
TEST(DetectorDevice, OnAGpuTheShippedModelFindsWhatItFindsOnTheCpu) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable CUDA device: " << error_of("cuda");
  const auto bundle = std::filesystem::path(ROISERVE_SOURCE_DIR) / "models" / "shapes-v1";
  Detector on_cpu = load_bundle(bundle);
  Detector on_gpu = load_bundle(bundle);
  on_gpu->to(c10::Device(c10::kCUDA));
  EXPECT_EQ(on_gpu->device(), c10::Device(c10::kCUDA, 0));
  for (const at::Tensor& parameter : on_gpu->parameters()) EXPECT_TRUE(parameter.is_cuda());
  const std::vector<at::Tensor> images = {generate_shapes_sample(kShapesValidationSeed, 0).image,
                                          generate_shapes_sample(kShapesValidationSeed, 1).image};
  StageTimings cpu_timings, gpu_timings;
  const auto expected = on_cpu->detect(images, HeadRequest{}, cpu_timings);
  const auto got = on_gpu->detect(images, HeadRequest{}, gpu_timings);
  expect_on_cpu(got);
  for (const auto& [stage, ms] : cpu_timings.entries()) {
    ASSERT_NE(gpu_timings.find(stage), nullptr) << stage;
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].boxes.size(0), expected[i].boxes.size(0));
    EXPECT_TRUE(at::equal(got[i].labels, expected[i].labels));
    EXPECT_TRUE(at::allclose(got[i].boxes, expected[i].boxes, 0, 0.1));
    EXPECT_TRUE(at::allclose(got[i].scores, expected[i].scores, 0, 1e-3));
    ASSERT_EQ(got[i].masks.size(), expected[i].masks.size());
    for (size_t d = 0; d < got[i].masks.size(); ++d) {
      const at::Tensor mine = got[i].masks[d].to_image(got[i].image_size) > 0.5;
      const at::Tensor theirs = expected[i].masks[d].to_image(expected[i].image_size) > 0.5;
      const double overlap = (mine & theirs).sum().item<double>();
      const double either = (mine | theirs).sum().item<double>();
      EXPECT_GE(either == 0 ? 1.0 : overlap / either, 0.98) << "image " << i << " mask " << d;
    }
  }
}

}  // namespace
}  // namespace roiserve::detector
