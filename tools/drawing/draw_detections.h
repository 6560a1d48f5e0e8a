#pragma once
// Detections drawn onto their image, for people to look at: each class in a
// colour of its own, masks blended in translucently, boxes outlined and
// labelled "class score". OpenCV and the detection records only.
#include <opencv2/core/mat.hpp>
#include <vector>

#include "tools/detection_records/detections_json.h"

namespace roiserve::tools {

// The score below which the tools leave a detection out of a drawing: the
// low-scoring ones a model keeps for evaluation would hide the rest.
inline constexpr double kDefaultDrawMinScore = 0.5;

// A new RGB image (CV_8UC3, channels in RGB order as tools/image_io reads
// them): `image` with the masks of the detections scoring at least min_score
// blended in, then their boxes outlined and labelled above the top edge (inside
// it where the image ends above). Segmentations must have the image's size.
// Throws std::invalid_argument otherwise, or for an image of another type.
cv::Mat draw_detections(const cv::Mat& image, const std::vector<DetectionRecord>& detections,
                        double min_score);

}  // namespace roiserve::tools
