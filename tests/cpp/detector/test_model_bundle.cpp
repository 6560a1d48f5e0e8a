// Model bundles: a round trip keeps every weight and the outputs; a missing,
// unexpected or mis-shaped tensor and a bad model.yaml are errors naming it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/serialize.h>

#include <filesystem>
#include <fstream>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_dataset.h"
#include "model_support.h"
#include "temp_dir.h"

namespace roiserve::detector {
namespace {

class ModelBundle : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    directory_ = dir_ / "bundle";
    at::manual_seed(3);
    detector_ = Detector(test::tiny_model_config());
    detector_->eval();
    save_bundle(*detector_, directory_);
  }

  c10::Dict<std::string, at::Tensor> saved_weights() const {
    std::ifstream in(directory_ / kWeightsFile, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto generic = torch::pickle_load(bytes).toGenericDict();
    c10::Dict<std::string, at::Tensor> weights;
    for (const auto& entry : generic) {
      weights.insert(entry.key().toStringRef(), entry.value().toTensor());
    }
    return weights;
  }

  void write_weights(const c10::Dict<std::string, at::Tensor>& weights) const {
    const auto bytes = torch::pickle_save(weights);
    std::ofstream(directory_ / kWeightsFile, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  std::string load_error() const {
    try {
      load_bundle(directory_);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "";
  }

  std::filesystem::path directory_;
  Detector detector_{nullptr};
};

TEST_F(ModelBundle, RoundTripKeepsWeightsConfigAndOutputs) {
  Detector loaded = load_bundle(directory_);
  EXPECT_EQ(loaded->config().class_names, detector_->config().class_names);
  EXPECT_EQ(loaded->box_head_names(), detector_->box_head_names());
  const auto original = detector_->named_parameters();
  const auto copy = loaded->named_parameters();
  ASSERT_EQ(original.size(), copy.size());
  for (const auto& entry : original) {
    EXPECT_TRUE(at::equal(entry.value(), copy[entry.key()])) << entry.key();
  }
  const std::vector<at::Tensor> images{generate_shapes_sample(9, 0).image};
  StageTimings t1, t2;
  const auto a = detector_->detect(images, HeadRequest{}, t1);
  const auto b = loaded->detect(images, HeadRequest{}, t2);
  EXPECT_TRUE(at::equal(a[0].boxes, b[0].boxes));
  EXPECT_TRUE(at::equal(a[0].scores, b[0].scores));
}

TEST_F(ModelBundle, ConfigSurvivesYamlRoundTrip) {
  const ModelConfig config = read_model_config(directory_);
  const YAML::Node again = model_config_to_yaml(config);
  EXPECT_EQ(YAML::Dump(again), YAML::Dump(model_config_to_yaml(detector_->config())));
  EXPECT_EQ(config.rpn.nms_iou, detector_->config().rpn.nms_iou);
  EXPECT_EQ(config.roi_heads.box_heads.at("roi_align").params["representation_size"].as<int>(), 32);
}

TEST_F(ModelBundle, MissingTensorIsNamed) {
  auto weights = saved_weights();
  ASSERT_EQ(weights.erase("rpn.head.conv.weight"), 1u);
  write_weights(weights);
  EXPECT_NE(load_error().find("missing tensor 'rpn.head.conv.weight'"), std::string::npos)
      << load_error();
}

TEST_F(ModelBundle, UnexpectedTensorIsNamed) {
  auto weights = saved_weights();
  weights.insert("box_heads.roi_warp.fc6.weight", at::zeros({2, 2}));
  write_weights(weights);
  EXPECT_NE(load_error().find("unexpected tensor 'box_heads.roi_warp.fc6.weight'"),
            std::string::npos)
      << load_error();
}

TEST_F(ModelBundle, MisShapedTensorIsNamedWithBothShapes) {
  auto weights = saved_weights();
  weights.insert_or_assign("backbone.body.conv1.weight", at::zeros({8, 3, 3, 3}));
  write_weights(weights);
  const std::string error = load_error();
  EXPECT_NE(error.find("tensor 'backbone.body.conv1.weight' has shape [8, 3, 3, 3], the model "
                       "expects [8, 3, 7, 7]"),
            std::string::npos)
      << error;
}

TEST_F(ModelBundle, BadYamlIsAnErrorNamingTheKey) {
  std::ofstream(directory_ / kModelYamlFile, std::ios::app) << "surprise: 1\n";
  EXPECT_NE(load_error().find("unknown key 'surprise'"), std::string::npos) << load_error();
}

TEST_F(ModelBundle, UnsupportedFormatVersionIsAnError) {
  YAML::Node root = YAML::LoadFile((directory_ / kModelYamlFile).string());
  root["format_version"] = 99;
  std::ofstream(directory_ / kModelYamlFile) << YAML::Dump(root);
  EXPECT_NE(load_error().find("format_version 99 is not supported"), std::string::npos)
      << load_error();
}

TEST_F(ModelBundle, MissingFilesAreErrors) {
  std::filesystem::remove(directory_ / kWeightsFile);
  EXPECT_NE(load_error().find("cannot read"), std::string::npos) << load_error();
  std::filesystem::remove(directory_ / kModelYamlFile);
  EXPECT_NE(load_error().find("model.yaml: no such file"), std::string::npos) << load_error();
  std::filesystem::remove_all(directory_);
  EXPECT_NE(load_error().find("is not a directory"), std::string::npos) << load_error();
}

TEST_F(ModelBundle, GarbageWeightsAreAnError) {
  std::ofstream(directory_ / kWeightsFile, std::ios::binary) << "not a zip file";
  EXPECT_NE(load_error().find("not a readable PyTorch file"), std::string::npos) << load_error();
}

}  // namespace
}  // namespace roiserve::detector
