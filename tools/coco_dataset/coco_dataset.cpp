#include "tools/coco_dataset/coco_dataset.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "tools/detection_records/segmentation_json.h"
#include "tools/detector_io/image_tensor.h"

namespace roiserve::tools {
namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read " + path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& error) {
    throw std::invalid_argument(std::string("not valid JSON: ") + error.what());
  }
}

const json& array_field(const json& object, const char* key) {
  if (!object.contains(key) || !object.at(key).is_array()) {
    throw std::invalid_argument(std::string("\"") + key + "\" must be a list");
  }
  return object.at(key);
}

std::string annotation_name(const json& annotation) {
  return "annotation " + (annotation.contains("id") ? annotation.at("id").dump() : "without id");
}

}  // namespace

CocoDataset::CocoDataset(const std::filesystem::path& annotations,
                         const std::filesystem::path& image_dir) {
  try {
    if (!std::filesystem::is_directory(image_dir)) {
      throw std::invalid_argument("image folder " + image_dir.string() + " does not exist");
    }
    const json root = read_json(annotations);
    if (!root.is_object()) throw std::invalid_argument("the file must hold a JSON object");

    std::map<int64_t, std::string> categories;
    for (const json& category : array_field(root, "categories")) {
      const auto id = category.at("id").get<int64_t>();
      if (!categories.emplace(id, category.at("name").get<std::string>()).second) {
        throw std::invalid_argument("category id " + std::to_string(id) + " appears twice");
      }
    }
    if (categories.empty()) throw std::invalid_argument("\"categories\" is empty");
    std::map<int64_t, int64_t> label_of;
    for (const auto& [id, name] : categories) {
      if (std::count(class_names_.begin(), class_names_.end(), name)) {
        throw std::invalid_argument("two categories are named '" + name + "'");
      }
      class_names_.push_back(name);
      category_ids_.push_back(id);
      label_of[id] = static_cast<int64_t>(class_names_.size());
    }

    std::map<int64_t, size_t> image_of;
    for (const json& image : array_field(root, "images")) {
      Image entry{image.at("id").get<int64_t>(), image_dir / image.at("file_name").get<std::string>(),
                  image.at("height").get<int64_t>(), image.at("width").get<int64_t>(), {}};
      if (entry.height < 1 || entry.width < 1) {
        throw std::invalid_argument("image " + std::to_string(entry.id) + " has no pixels");
      }
      if (!image_of.emplace(entry.id, images_.size()).second) {
        throw std::invalid_argument("image id " + std::to_string(entry.id) + " appears twice");
      }
      images_.push_back(std::move(entry));
    }

    std::set<int64_t> annotation_ids;
    for (const json& annotation : array_field(root, "annotations")) {
      try {
        detector::Instance instance;
        instance.id = annotation.at("id").get<int64_t>();
        if (instance.id == 0 || !annotation_ids.insert(instance.id).second) {
          throw std::invalid_argument("ids must be unique and nonzero");
        }
        const auto image = image_of.find(annotation.at("image_id").get<int64_t>());
        if (image == image_of.end()) throw std::invalid_argument("its image_id names no image");
        const auto label = label_of.find(annotation.at("category_id").get<int64_t>());
        if (label == label_of.end()) throw std::invalid_argument("its category_id names no category");
        instance.label = label->second;
        const auto bbox = annotation.at("bbox").get<std::vector<double>>();
        if (bbox.size() != 4 || bbox[2] < 0 || bbox[3] < 0) {
          throw std::invalid_argument("\"bbox\" must be [x, y, width, height] with width, height >= 0");
        }
        instance.box = {bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]};
        instance.is_crowd = annotation.value("iscrowd", 0) != 0;
        Image& owner = images_[image->second];
        if (annotation.contains("segmentation")) {
          instance.mask =
              segmentation_from_json(annotation.at("segmentation"), owner.height, owner.width);
        } else {
          has_masks_ = false;
        }
        instance.area = annotation.contains("area") ? annotation.at("area").get<double>()
                                                    : (instance.mask.height > 0
                                                           ? static_cast<double>(eval::area(instance.mask))
                                                           : bbox[2] * bbox[3]);
        owner.instances.push_back(std::move(instance));
      } catch (const std::exception& error) {
        throw std::invalid_argument(annotation_name(annotation) + ": " + error.what());
      }
    }
    if (!has_masks_) {
      for (Image& image : images_) {
        for (detector::Instance& instance : image.instances) instance.mask = {};
      }
    }
  } catch (const json::exception& error) {
    throw std::invalid_argument(annotations.string() + ": " + error.what());
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(annotations.string() + ": " + error.what());
  }
}

std::vector<detector::Instance> CocoDataset::instances(int64_t index) const {
  return images_.at(static_cast<size_t>(index)).instances;
}

detector::LabelledImage CocoDataset::get(int64_t index) const {
  const Image& entry = images_.at(static_cast<size_t>(index));
  detector::LabelledImage image{entry.id, entry.file.filename().string(), read_image(entry.file),
                                entry.instances};
  if (image.image.size(1) != entry.height || image.image.size(2) != entry.width) {
    throw std::runtime_error("image '" + entry.file.string() + "' is " +
                             std::to_string(image.image.size(2)) + " x " +
                             std::to_string(image.image.size(1)) + " pixels, the annotations say " +
                             std::to_string(entry.width) + " x " + std::to_string(entry.height));
  }
  return image;
}

void write_coco_dataset(const detector::LabelledDataset& dataset,
                        const std::filesystem::path& output_dir) {
  const std::filesystem::path image_dir = output_dir / "images";
  std::filesystem::create_directories(image_dir);
  json categories = json::array();
  for (size_t k = 0; k < dataset.class_names().size(); ++k) {
    categories.push_back({{"id", k + 1}, {"name", dataset.class_names()[k]}});
  }
  json images = json::array();
  json annotations = json::array();
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const detector::LabelledImage image = dataset.get(i);
    char file[32];
    std::snprintf(file, sizeof(file), "%06ld.png", static_cast<long>(image.id));
    write_png(image.image, image_dir / file);
    images.push_back({{"id", image.id},
                      {"file_name", file},
                      {"height", image.image.size(1)},
                      {"width", image.image.size(2)}});
    for (const detector::Instance& instance : image.instances) {
      json annotation = {{"id", instance.id},
                         {"image_id", image.id},
                         {"category_id", instance.label},
                         {"bbox",
                          {instance.box[0], instance.box[1], instance.box[2] - instance.box[0],
                           instance.box[3] - instance.box[1]}},
                         {"area", instance.area},
                         {"iscrowd", instance.is_crowd ? 1 : 0}};
      if (instance.mask.height > 0) annotation["segmentation"] = rle_to_json(instance.mask);
      annotations.push_back(std::move(annotation));
    }
  }
  std::ofstream out(output_dir / "instances.json");
  out << json{{"images", images}, {"annotations", annotations}, {"categories", categories}}.dump()
      << "\n";
  if (!out) throw std::runtime_error("cannot write " + (output_dir / "instances.json").string());
}

}  // namespace roiserve::tools
