// Serving precision: the one parser of precision names, model.yaml's default,
// the fallback of bf16 to fp32 on a CPU without native bf16 (oneDNN's own ISA
// cap, ONEDNN_MAX_CPU_ISA, stands in for such a CPU), and the prepared
// serving path (BatchNorm folded, channels-last) against the plain modules on
// the shipped model.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "detector/bundle/model_bundle.h"
#include "detector/config/model_config.h"
#include "detector/data/shapes_dataset.h"
#include "detector/data/shapes_labelled.h"
#include "detector/model/detector.h"
#include "detector/model/mask_head.h"
#include "detector/model/precision.h"
#include "ops/ops.h"

namespace roiserve::detector {
namespace {

std::string parse_error(const std::string& name) {
  try {
    parse_precision(name);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

// Sets an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const std::filesystem::path kShippedModel =
    std::filesystem::path(ROISERVE_SOURCE_DIR) / "models" / "shapes-v1";

std::vector<at::Tensor> validation_images() {
  return {generate_shapes_sample(kShapesValidationSeed, 0).image,
          generate_shapes_sample(kShapesValidationSeed, 1).image};
}

TEST(Precision, ParsesFp32AndBf16AndNothingElse) {
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_EQ(precision_name(Precision::bf16), "bf16");
  EXPECT_EQ(compute_dtype(Precision::bf16), at::kBFloat16);
  for (const std::string name : {"FP32", "bf", "fp16", "float32", "", " bf16", "bfloat16"}) {
    EXPECT_EQ(parse_error(name), "'" + name + "' is not a precision: expected fp32 or bf16");
  }
}

TEST(Precision, ModelYamlSaysTheDefaultFp32WhenSilent) {
  ModelConfig config = read_model_config(kShippedModel);
  EXPECT_EQ(config.precision, Precision::fp32);
  YAML::Node yaml = model_config_to_yaml(config);
  EXPECT_EQ(yaml["precision"].as<std::string>(), "fp32");
  yaml["precision"] = "bf16";
  EXPECT_EQ(model_config_from_yaml(yaml).precision, Precision::bf16);
  yaml["precision"] = "fp16";
  try {
    model_config_from_yaml(yaml);
    FAIL() << "fp16 was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), "'precision': 'fp16' is not a precision: expected fp32 or bf16");
  }
}

TEST(Precision, Bf16RunsFp32WhereTheCpuHasNoNativeBf16AndSaysWhy) {
  const ScopedEnv capped("ONEDNN_MAX_CPU_ISA", "AVX512_CORE");
  EXPECT_FALSE(cpu_has_native_bf16());
  const PrecisionChoice choice = effective_precision(Precision::bf16, c10::Device(c10::kCPU));
  EXPECT_EQ(choice.requested, Precision::bf16);
  EXPECT_EQ(choice.effective, Precision::fp32);
  EXPECT_NE(choice.fallback_reason.find("no native bf16"), std::string::npos);
  EXPECT_TRUE(effective_precision(Precision::fp32, c10::Device(c10::kCPU)).fallback_reason.empty());

  Detector model = load_bundle(kShippedModel);
  const PrecisionChoice prepared = model->prepare(Precision::bf16);
  EXPECT_EQ(prepared.effective, Precision::fp32);
  ASSERT_TRUE(model->precision().has_value());
  EXPECT_EQ(model->precision()->requested, Precision::bf16);
}

TEST(Precision, Bf16IsKeptWhereTheCpuHasIt) {
  if (!cpu_has_native_bf16()) GTEST_SKIP() << "this CPU has no native bf16";
  const ScopedEnv uncapped("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16");
  EXPECT_EQ(effective_precision(Precision::bf16, c10::Device(c10::kCPU)).effective,
            Precision::bf16);
}

TEST(Precision, ThePreparedFp32PathFindsWhatThePlainModulesFind) {
  Detector plain = load_bundle(kShippedModel);
  Detector prepared = load_bundle(kShippedModel);
  EXPECT_FALSE(prepared->precision().has_value());
  EXPECT_EQ(prepared->prepare(Precision::fp32).effective, Precision::fp32);
  for (const std::string& head : plain->box_head_names()) {
    for (const std::string& pooler : plain->mask_pooler_names()) {
      HeadRequest request;
      request.box_head = head;
      request.mask_pooler = pooler;
      StageTimings plain_timings, prepared_timings;
      const auto expected = plain->detect(validation_images(), request, plain_timings);
      const auto got = prepared->detect(validation_images(), request, prepared_timings);
      ASSERT_EQ(got.size(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].boxes.size(0), expected[i].boxes.size(0)) << head << " " << pooler;
        ASSERT_GT(got[i].boxes.size(0), 0);
        EXPECT_TRUE(at::equal(got[i].labels, expected[i].labels)) << head;
        EXPECT_TRUE(at::allclose(got[i].boxes, expected[i].boxes, 0, 0.05)) << head;
        EXPECT_TRUE(at::allclose(got[i].scores, expected[i].scores, 0, 1e-4)) << head;
        ASSERT_EQ(got[i].masks.size(), expected[i].masks.size());
        for (size_t d = 0; d < got[i].masks.size(); ++d) {
          EXPECT_TRUE(at::allclose(got[i].masks[d].probabilities,
                                   expected[i].masks[d].probabilities, 0, 1e-3));
        }
      }
    }
  }
}

// Every layer type the mask head has (3 x 3 convolutions, the 2 x 2 stride-2
// transposed convolution, the 1 x 1 predictor) in each precision against the
// plain module: the same shape, and values within the compute dtype's rounding.
TEST(Precision, ThePreparedMaskHeadComputesWhatThePlainOneDoes) {
  const ModelConfig config = read_model_config(kShippedModel);
  for (const auto& [precision, tolerance] :
       std::vector<std::pair<Precision, double>>{{Precision::fp32, 1e-5}, {Precision::bf16, 3e-2}}) {
    at::manual_seed(0);
    MaskHead head("roi_align", config.roi_heads.mask, config.backbone.fpn_channels,
                  config.num_classes_with_background());
    head->eval();
    c10::InferenceMode inference;
    const at::Tensor pooled = at::rand({5, config.backbone.fpn_channels, 14, 14});
    const at::Tensor plain = head->forward(pooled);
    head->prepare(compute_dtype(precision));
    const at::Tensor prepared = head->forward(pooled);
    ASSERT_EQ(prepared.sizes(), plain.sizes()) << precision_name(precision);
    EXPECT_EQ(prepared.scalar_type(), at::kFloat);
    const double error = ((prepared - plain).abs().max() / plain.abs().max()).item<double>();
    EXPECT_LE(error, tolerance) << precision_name(precision);
    // An image with no detections gives the mask head no RoIs at all.
    const at::Tensor none = head->forward(pooled.narrow(0, 0, 0));
    EXPECT_EQ(none.sizes(), plain.narrow(0, 0, 0).sizes()) << precision_name(precision);
  }
}

// bf16 finds what fp32 finds on the shipped model: every confident fp32
// detection (score > 0.5) has a bf16 one of its class at IoU >= 0.5, and the
// detections come back float32, also after a move.
TEST(Precision, TheBf16PathFindsWhatFp32FindsInFloat32AndSurvivesAMove) {
  Detector fp32 = load_bundle(kShippedModel);
  fp32->prepare(Precision::fp32);
  Detector bf16 = load_bundle(kShippedModel);
  bf16->prepare(Precision::bf16);
  bf16->to(c10::Device(c10::kCPU));
  ASSERT_TRUE(bf16->precision().has_value());
  EXPECT_EQ(bf16->precision()->requested, Precision::bf16);
  StageTimings timings;
  const auto expected = fp32->detect(validation_images(), HeadRequest{}, timings);
  const auto got = bf16->detect(validation_images(), HeadRequest{}, timings);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_GT(got[i].boxes.size(0), 0);
    EXPECT_EQ(got[i].boxes.scalar_type(), at::kFloat);
    EXPECT_EQ(got[i].scores.scalar_type(), at::kFloat);
    EXPECT_EQ(got[i].masks.front().probabilities.scalar_type(), at::kFloat);
    const at::Tensor confident = expected[i].scores > 0.5;
    const at::Tensor iou = ops::box_iou(expected[i].boxes, got[i].boxes) *
                           (expected[i].labels.unsqueeze(1) == got[i].labels.unsqueeze(0));
    const at::Tensor found = std::get<0>(iou.max(1)) >= 0.5;
    ASSERT_GT(confident.sum().item<int64_t>(), 0);
    EXPECT_TRUE(found.index({confident}).all().item<bool>()) << "image " << i;
  }
}

}  // namespace
}  // namespace roiserve::detector
