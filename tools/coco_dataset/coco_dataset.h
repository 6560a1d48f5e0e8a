#pragma once
// COCO-format data sets: an instances JSON ("images", "categories",
// "annotations" with polygon or RLE segmentations) and a folder of images, read
// as a LabelledDataset; and any LabelledDataset written out in that format.
#include <filesystem>
#include <memory>
#include <vector>

#include "detector/data/dataset.h"

namespace roiserve::tools {

class CocoDataset : public detector::LabelledDataset {
 public:
  // Reads and checks the whole annotation file; images are decoded on get().
  // Throws std::invalid_argument naming the file and what is wrong in it.
  CocoDataset(const std::filesystem::path& annotations, const std::filesystem::path& image_dir);

  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  // The categories' names ordered by category id; label k is the k-th.
  const std::vector<std::string>& class_names() const override { return class_names_; }
  bool has_masks() const override { return has_masks_; }
  // Throws std::runtime_error when the image file is unreadable or its size
  // is not the one the annotations declare.
  detector::LabelledImage get(int64_t index) const override;
  std::vector<detector::Instance> instances(int64_t index) const override;

  // The COCO category id of label k is category_ids()[k - 1].
  const std::vector<int64_t>& category_ids() const { return category_ids_; }

 private:
  struct Image {
    int64_t id;
    std::filesystem::path file;
    int64_t height;
    int64_t width;
    std::vector<detector::Instance> instances;
  };
  std::vector<Image> images_;
  std::vector<std::string> class_names_;
  std::vector<int64_t> category_ids_;
  bool has_masks_ = true;
};

// Writes dataset as output_dir/instances.json and output_dir/images/*.png
// (category ids = labels, segmentations as compressed RLEs).
void write_coco_dataset(const detector::LabelledDataset& dataset,
                        const std::filesystem::path& output_dir);

}  // namespace roiserve::tools
