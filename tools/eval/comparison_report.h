#pragma once
// The A/B report of roiserve-eval, written into one directory:
//   report.md, report.html  the same tables for people (boxes, masks, AP per
//                           class, latency per stage, agreement) and the plots
//   report.json             every number, for programs
//   pr_bbox.png, pr_segm.png  precision/recall curves at IoU .50 and .75
//   results/<variant>_{bbox,segm}.json  with write_results: the detections in
//                           COCO's results format, for pycocotools' loadRes
#include <cstdint>
#include <filesystem>
#include <vector>

#include "tools/eval/head_comparison.h"

namespace roiserve::tools {

// coco_category_ids[k - 1]: the category id that data label k has in COCO
// results files.
void write_comparison_report(const HeadComparison& comparison,
                             const std::filesystem::path& output_dir, bool write_results,
                             const std::vector<int64_t>& coco_category_ids);

}  // namespace roiserve::tools
