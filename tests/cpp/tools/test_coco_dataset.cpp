// COCO-format data sets: shapes-v1 written out and read back is the same set;
// hand-written files exercise polygons, crowds and every rejection; the
// training source maps classes by name.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "detector/data/shapes_labelled.h"
#include "detector/train/training_example.h"
#include "../detector/temp_dir.h"
#include "tools/coco_dataset/coco_dataset.h"
#include "tools/detector_io/image_tensor.h"

namespace roiserve::tools {
namespace {

using nlohmann::json;

class CocoDatasetTest : public test::TempDirTest {
 protected:
  // One 20 x 30 black image, written as PNG, and annotations around it.
  void write_set(const std::vector<json>& annotations, const json& categories = {{{"id", 7}, {"name", "b"}},
                                                                     {{"id", 3}, {"name", "a"}}}) {
    std::filesystem::create_directories(dir_ / "images");
    write_png(at::zeros({3, 20, 30}, at::kByte), dir_ / "images" / "one.png");
    const json root = {{"images", {{{"id", 5}, {"file_name", "one.png"}, {"height", 20}, {"width", 30}}}},
                       {"categories", categories},
                       {"annotations", json(annotations)}};
    std::ofstream(dir_ / "instances.json") << root.dump();
  }

  std::string load_error() {
    try {
      CocoDataset(dir_ / "instances.json", dir_ / "images");
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "(no error)";
  }
};

json annotation(int64_t id, int64_t category, json segmentation, int crowd = 0) {
  return {{"id", id},           {"image_id", 5},
          {"category_id", category}, {"bbox", {2, 3, 10, 5}},
          {"area", 50},         {"iscrowd", crowd},
          {"segmentation", std::move(segmentation)}};
}

TEST_F(CocoDatasetTest, ShapesWrittenAndReadBackAreTheSameSet) {
  const auto shapes = detector::make_shapes_dataset(2, 10, 3);
  write_coco_dataset(*shapes, dir_);
  const CocoDataset coco(dir_ / "instances.json", dir_ / "images");
  ASSERT_EQ(coco.size(), 3);
  EXPECT_EQ(coco.class_names(), shapes->class_names());
  EXPECT_TRUE(coco.has_masks());
  for (int64_t i = 0; i < 3; ++i) {
    const detector::LabelledImage expected = shapes->get(i);
    const detector::LabelledImage read = coco.get(i);
    EXPECT_EQ(read.id, expected.id);
    EXPECT_TRUE(at::equal(read.image, expected.image)) << "PNG must be lossless";
    ASSERT_EQ(read.instances.size(), expected.instances.size());
    for (size_t k = 0; k < read.instances.size(); ++k) {
      EXPECT_EQ(read.instances[k].id, expected.instances[k].id);
      EXPECT_EQ(read.instances[k].label, expected.instances[k].label);
      EXPECT_EQ(read.instances[k].box, expected.instances[k].box);
      EXPECT_EQ(read.instances[k].area, expected.instances[k].area);
      EXPECT_EQ(read.instances[k].mask, expected.instances[k].mask);
    }
  }
}

TEST_F(CocoDatasetTest, CategoriesAreOrderedByIdAndPolygonsRasterized) {
  write_set({annotation(1, 7, {{2, 3, 12, 3, 12, 8, 2, 8}}), annotation(2, 3, {{0, 0, 4, 0, 4, 4}}, 1)});
  const CocoDataset coco(dir_ / "instances.json", dir_ / "images");
  EXPECT_EQ(coco.class_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(coco.category_ids(), (std::vector<int64_t>{3, 7}));
  const auto instances = coco.instances(0);
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(instances[0].label, 2);  // category 7 = "b", the second by id
  EXPECT_EQ(instances[0].box, (std::array<double, 4>{2, 3, 12, 8}));
  EXPECT_EQ(instances[0].mask.height, 20);
  EXPECT_GT(eval::area(instances[0].mask), 0);
  EXPECT_TRUE(instances[1].is_crowd);
}

TEST_F(CocoDatasetTest, TrainingSourceMapsClassesByNameAndLeavesCrowdsOut) {
  write_set({annotation(1, 7, {{2, 3, 12, 3, 12, 8, 2, 8}}), annotation(2, 3, {{0, 0, 4, 0, 4, 4}}, 1)});
  auto coco = std::make_shared<CocoDataset>(dir_ / "instances.json", dir_ / "images");
  const auto source = detector::make_dataset_source(coco, {"x", "b", "a"}, /*with_masks=*/true);
  const detector::TrainingExample example = source->example(0);
  ASSERT_EQ(example.targets.labels.numel(), 1);
  EXPECT_EQ(example.targets.labels[0].item<int64_t>(), 2);  // "b" is the model's second class
  EXPECT_EQ(example.targets.masks.sizes(), (std::vector<int64_t>{1, 20, 30}));
  EXPECT_EQ(example.targets.masks.sum().item<int64_t>(), eval::area(coco->instances(0)[0].mask));
  try {
    detector::make_dataset_source(coco, {"a"}, true);
    FAIL() << "a class the model lacks must be rejected";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("class 'b' is not one of the model's"), std::string::npos);
  }
}

TEST_F(CocoDatasetTest, BoxOnlyAnnotationsHaveNoMasks) {
  json box_only = annotation(1, 7, nullptr);
  box_only.erase("segmentation");
  write_set({box_only});
  auto coco = std::make_shared<CocoDataset>(dir_ / "instances.json", dir_ / "images");
  EXPECT_FALSE(coco->has_masks());
  EXPECT_THROW(detector::make_dataset_source(coco, {"a", "b"}, true), std::invalid_argument);
  EXPECT_NO_THROW(detector::make_dataset_source(coco, {"a", "b"}, false));
}

TEST_F(CocoDatasetTest, RejectionsNameTheProblem) {
  const json polygon = {{2, 3, 12, 3, 12, 8}};
  json unknown_image = annotation(4, 7, polygon);
  unknown_image["image_id"] = 99;
  write_set({unknown_image});
  EXPECT_NE(load_error().find("annotation 4: its image_id names no image"), std::string::npos)
      << load_error();
  write_set({annotation(4, 8, polygon)});
  EXPECT_NE(load_error().find("annotation 4: its category_id names no category"), std::string::npos)
      << load_error();
  write_set({annotation(4, 7, polygon), annotation(4, 7, polygon)});
  EXPECT_NE(load_error().find("ids must be unique"), std::string::npos) << load_error();
  json bad_box = annotation(4, 7, polygon);
  bad_box["bbox"] = {1, 2, -3, 4};
  write_set({bad_box});
  EXPECT_NE(load_error().find("\"bbox\" must be"), std::string::npos) << load_error();
  write_set({annotation(4, 7, {{"size", {5, 5}}, {"counts", "0"}})});
  EXPECT_NE(load_error().find("annotation 4"), std::string::npos) << load_error();
  write_set({}, {{{"id", 1}, {"name", "a"}}, {{"id", 2}, {"name", "a"}}});
  EXPECT_NE(load_error().find("two categories are named 'a'"), std::string::npos) << load_error();
  std::ofstream(dir_ / "instances.json") << "{not json";
  EXPECT_NE(load_error().find("not valid JSON"), std::string::npos) << load_error();
  std::filesystem::remove(dir_ / "instances.json");
  EXPECT_NE(load_error().find("cannot read"), std::string::npos) << load_error();
}

TEST_F(CocoDatasetTest, ImagesThatDisagreeWithTheirAnnotationsAreErrors) {
  write_set({annotation(1, 7, {{2, 3, 12, 3, 12, 8}})});
  const CocoDataset coco(dir_ / "instances.json", dir_ / "images");
  write_png(at::zeros({3, 21, 30}, at::kByte), dir_ / "images" / "one.png");
  EXPECT_THROW(coco.get(0), std::runtime_error);
  std::ofstream(dir_ / "images" / "one.png") << "garbage";
  try {
    coco.get(0);
    FAIL();
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("cannot read image"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace roiserve::tools
