#include "tools/eval/comparison_report.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/detection_records/segmentation_json.h"
#include "tools/eval/pr_plot.h"

namespace roiserve::tools {
namespace {

using nlohmann::json;

constexpr size_t kIou50 = 0, kIou75 = 5;  // indices into COCO's IoU thresholds
constexpr size_t kAreaAll = 0, kMaxDets100 = 2;
constexpr const char* kSharedStages[] = {"preprocess", "backbone", "rpn"};
constexpr const char* kBoxStages[] = {"box_pool", "box_head", "postprocess"};
constexpr const char* kMaskStages[] = {"mask_pool", "mask_head", "paste"};

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string number(double value, const char* format = "%.3f") {
  if (value < 0) return "–";  // pycocotools' -1: nothing to measure
  char text[32];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

std::string milliseconds(const StageSamples& samples) {
  return number(samples.mean(), "%.2f") + " (" + number(samples.median(), "%.2f") + ")";
}

double stage_mean(const StageLatencies& latency, const char* stage) {
  const auto found = latency.find(stage);
  return found == latency.end() ? 0.0 : found->second.mean();
}

template <size_t N>
double stages_mean(const StageLatencies& latency, const char* const (&stages)[N]) {
  double sum = 0;
  for (const char* stage : stages) sum += stage_mean(latency, stage);
  return sum;
}

std::string variant_name(const MaskResult& mask) { return mask.head + "+mask:" + mask.pooler; }

json stats_json(const eval::CocoEvalResult& result) {
  json stats = json::object();
  for (size_t i = 0; i < eval::kStatNames.size(); ++i) {
    stats[std::string(eval::kStatNames[i])] = result.stats[i];
  }
  return stats;
}

json per_class_json(const eval::CocoEvalResult& result, const std::vector<std::string>& names) {
  json per_class = json::object();
  for (size_t k = 0; k < result.category_ids.size(); ++k) {
    per_class[names[static_cast<size_t>(result.category_ids[k] - 1)]] = result.category_ap[k];
  }
  return per_class;
}

json latency_json(const StageLatencies& latency) {
  json stages = json::object();
  for (const auto& [stage, samples] : latency) {
    stages[stage] = {{"mean", samples.mean()}, {"median", samples.median()}};
  }
  return stages;
}

// Mean over categories (those with ground truth) of the interpolated precision.
PrCurve pr_curve(const eval::CocoEvalResult& result, size_t iou, std::string label, bool dashed) {
  const auto& recall_thresholds = eval::coco_params().recall_thresholds;
  PrCurve curve{std::move(label), recall_thresholds, {}, dashed};
  for (size_t r = 0; r < recall_thresholds.size(); ++r) {
    double sum = 0;
    int counted = 0;
    for (size_t k = 0; k < result.category_ids.size(); ++k) {
      const double p = result.precision_at(iou, r, k, kAreaAll, kMaxDets100);
      if (p > -1) {
        sum += p;
        ++counted;
      }
    }
    curve.precision.push_back(counted ? sum / counted : -1);
  }
  return curve;
}

void add_pr_curves(std::vector<PrCurve>& curves, const eval::CocoEvalResult& result,
                   const std::string& name) {
  curves.push_back(pr_curve(result, kIou50, name + " @.50", false));
  curves.push_back(pr_curve(result, kIou75, name + " @.75", true));
}

std::vector<Table> report_tables(const HeadComparison& c) {
  std::vector<Table> tables;
  Table boxes{{"head", "AP", "AP50", "AP75", "APs", "APm", "APl", "AR100", "class-agnostic AP",
               "box stages ms"},
              {}};
  for (const BoxHeadResult& head : c.box_heads) {
    const auto& s = head.bbox.stats;
    boxes.rows.push_back({head.head, number(s[0]), number(s[1]), number(s[2]), number(s[3]),
                          number(s[4]), number(s[5]), number(s[8]),
                          number(head.bbox_class_agnostic.stats[0]),
                          number(stages_mean(head.latency, kBoxStages), "%.2f")});
  }
  tables.push_back(std::move(boxes));

  Table masks{{"head", "mask pooler", "AP", "AP50", "AP75", "APs", "APm", "APl", "mask stages ms"},
              {}};
  for (const MaskResult& mask : c.masks) {
    const auto& s = mask.segm.stats;
    masks.rows.push_back({mask.head, mask.pooler, number(s[0]), number(s[1]), number(s[2]),
                          number(s[3]), number(s[4]), number(s[5]),
                          number(stages_mean(mask.latency, kMaskStages), "%.2f")});
  }
  tables.push_back(std::move(masks));

  Table per_class{{"head"}, {}};
  for (const std::string& name : c.class_names) per_class.header.push_back(name);
  for (const BoxHeadResult& head : c.box_heads) {
    std::vector<std::string> row{head.head};
    for (size_t k = 0; k < c.class_names.size(); ++k) row.push_back(number(head.bbox.category_ap[k]));
    per_class.rows.push_back(std::move(row));
  }
  tables.push_back(std::move(per_class));

  // Latency: one column per variant (a head, with each mask pooler when masks ran).
  Table latency{{"stage"}, {}};
  struct Column {
    const BoxHeadResult* head;
    const MaskResult* mask;
  };
  std::vector<Column> columns;
  size_t mask_index = 0;
  for (const BoxHeadResult& head : c.box_heads) {
    if (c.masks.empty()) columns.push_back({&head, nullptr});
    for (size_t p = 0; p < c.options.mask_poolers.size(); ++p) {
      columns.push_back({&head, &c.masks[mask_index++]});
    }
  }
  for (const Column& column : columns) {
    latency.header.push_back(column.mask ? variant_name(*column.mask) : column.head->head);
  }
  // Each stage row reads the latencies of one group: shared, the box head's or the mask pooler's.
  auto stage_rows = [&](const auto& stages, auto latencies_of) {
    for (const char* stage : stages) {
      std::vector<std::string> row{stage};
      for (const Column& column : columns) {
        const StageLatencies& latencies = latencies_of(column);
        const auto found = latencies.find(stage);
        row.push_back(found == latencies.end() ? "–" : milliseconds(found->second));
      }
      latency.rows.push_back(std::move(row));
    }
  };
  stage_rows(kSharedStages, [&c](const Column&) -> const StageLatencies& { return c.shared_latency; });
  stage_rows(kBoxStages, [](const Column& column) -> const StageLatencies& {
    return column.head->latency;
  });
  if (!c.masks.empty()) {
    stage_rows(kMaskStages, [](const Column& column) -> const StageLatencies& {
      return column.mask->latency;
    });
  }
  std::vector<std::string> total{"total (mean)"};
  for (const Column& column : columns) {
    double sum = stages_mean(c.shared_latency, kSharedStages) +
                 stages_mean(column.head->latency, kBoxStages);
    if (column.mask) sum += stages_mean(column.mask->latency, kMaskStages);
    total.push_back(number(sum, "%.2f"));
  }
  latency.rows.push_back(std::move(total));
  tables.push_back(std::move(latency));

  Table agreement{{"A", "B", "matched", "mean IoU", "mean score B − A", "only A", "only B"}, {}};
  for (const HeadAgreement& pair : c.agreements) {
    const eval::Agreement& a = pair.agreement;
    agreement.rows.push_back({pair.head_a, pair.head_b, std::to_string(a.matched),
                              number(a.mean_iou()), number(a.mean_score_delta(), "%+.3f"),
                              std::to_string(a.only_a), std::to_string(a.only_b)});
  }
  tables.push_back(std::move(agreement));
  return tables;
}

const char* const kTableTitles[] = {"Boxes", "Masks", "Box AP per class",
                                    "Latency per stage, ms: mean (median)",
                                    "Agreement between heads"};

std::string escape_html(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string summary_line(const HeadComparison& c) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "%ld images. Backbone and proposals computed once per image and shared by every "
                "head. Agreement: pairs of the same class at IoU >= %.2f among detections scoring "
                ">= %.2f.",
                static_cast<long>(c.images), c.options.agreement_iou, c.options.agreement_min_score);
  return line;
}

void write_markdown(const HeadComparison& c, const std::vector<Table>& tables,
                    const std::filesystem::path& path) {
  std::ofstream out(path);
  out << "# Head comparison: " << c.model << " on " << c.data << "\n\n" << summary_line(c) << "\n";
  for (size_t t = 0; t < tables.size(); ++t) {
    if (tables[t].rows.empty()) continue;
    out << "\n## " << kTableTitles[t] << "\n\n|";
    for (const auto& cell : tables[t].header) out << " " << cell << " |";
    out << "\n|";
    for (size_t i = 0; i < tables[t].header.size(); ++i) out << (i ? "---:|" : "---|");
    out << "\n";
    for (const auto& row : tables[t].rows) {
      out << "|";
      for (const auto& cell : row) out << " " << cell << " |";
      out << "\n";
    }
  }
  out << "\n## Precision / recall (mean over classes; solid IoU .50, dashed .75)\n\n"
      << "![boxes](pr_bbox.png)\n";
  if (!c.masks.empty()) out << "![masks](pr_segm.png)\n";
}

void write_html(const HeadComparison& c, const std::vector<Table>& tables,
                const std::filesystem::path& path) {
  std::ofstream out(path);
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Head comparison: "
      << escape_html(c.model) << "</title>\n<style>body{font-family:sans-serif;margin:2em}"
      << "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;"
      << "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
      << "</style></head><body>\n<h1>Head comparison: " << escape_html(c.model) << " on "
      << escape_html(c.data) << "</h1>\n<p>" << escape_html(summary_line(c)) << "</p>\n";
  for (size_t t = 0; t < tables.size(); ++t) {
    if (tables[t].rows.empty()) continue;
    out << "<h2>" << escape_html(kTableTitles[t]) << "</h2>\n<table><tr>";
    for (const auto& cell : tables[t].header) out << "<th>" << escape_html(cell) << "</th>";
    out << "</tr>\n";
    for (const auto& row : tables[t].rows) {
      out << "<tr>";
      for (const auto& cell : row) out << "<td>" << escape_html(cell) << "</td>";
      out << "</tr>\n";
    }
    out << "</table>\n";
  }
  out << "<h2>Precision / recall</h2>\n<p>Mean over classes; solid IoU .50, dashed .75.</p>\n"
      << "<img src=\"pr_bbox.png\" alt=\"box precision/recall\">\n";
  if (!c.masks.empty()) out << "<img src=\"pr_segm.png\" alt=\"mask precision/recall\">\n";
  out << "</body></html>\n";
}

json report_json(const HeadComparison& c) {
  json report = {{"model", c.model},
                 {"data", c.data},
                 {"images", c.images},
                 {"classes", c.class_names},
                 {"agreement_iou", c.options.agreement_iou},
                 {"agreement_min_score", c.options.agreement_min_score},
                 {"shared_latency_ms", latency_json(c.shared_latency)}};
  json heads = json::array();
  for (const BoxHeadResult& head : c.box_heads) {
    heads.push_back({{"head", head.head},
                     {"bbox", stats_json(head.bbox)},
                     {"bbox_per_class_ap", per_class_json(head.bbox, c.class_names)},
                     {"bbox_class_agnostic", stats_json(head.bbox_class_agnostic)},
                     {"latency_ms", latency_json(head.latency)}});
  }
  report["box_heads"] = heads;
  json masks = json::array();
  for (const MaskResult& mask : c.masks) {
    masks.push_back({{"head", mask.head},
                     {"mask_pooler", mask.pooler},
                     {"segm", stats_json(mask.segm)},
                     {"segm_per_class_ap", per_class_json(mask.segm, c.class_names)},
                     {"latency_ms", latency_json(mask.latency)}});
  }
  report["masks"] = masks;
  json agreements = json::array();
  for (const HeadAgreement& pair : c.agreements) {
    const eval::Agreement& a = pair.agreement;
    agreements.push_back({{"a", pair.head_a},
                          {"b", pair.head_b},
                          {"matched", a.matched},
                          {"mean_iou", a.mean_iou()},
                          {"mean_score_delta", a.mean_score_delta()},
                          {"only_a", a.only_a},
                          {"only_b", a.only_b}});
  }
  report["agreement"] = agreements;
  return report;
}

void write_results_file(const std::vector<eval::Detection>& detections, bool masks,
                        const std::vector<int64_t>& coco_category_ids,
                        const std::filesystem::path& path) {
  json results = json::array();
  for (const eval::Detection& detection : detections) {
    json entry = {{"image_id", detection.image_id},
                  {"category_id", coco_category_ids.at(static_cast<size_t>(detection.category_id - 1))},
                  {"score", detection.score}};
    if (masks) {
      entry["segmentation"] = rle_to_json(detection.segmentation);
    } else {
      entry["bbox"] = detection.bbox;
    }
    results.push_back(std::move(entry));
  }
  std::ofstream(path) << results.dump() << "\n";
}

void check_written(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

}  // namespace

void write_comparison_report(const HeadComparison& comparison,
                             const std::filesystem::path& output_dir, bool write_results,
                             const std::vector<int64_t>& coco_category_ids) {
  std::filesystem::create_directories(output_dir);
  const std::vector<Table> tables = report_tables(comparison);
  write_markdown(comparison, tables, output_dir / "report.md");
  write_html(comparison, tables, output_dir / "report.html");
  std::ofstream(output_dir / "report.json") << report_json(comparison).dump(2) << "\n";
  for (const char* file : {"report.md", "report.html", "report.json"}) {
    check_written(output_dir / file);
  }

  std::vector<PrCurve> box_curves;
  for (const BoxHeadResult& head : comparison.box_heads) add_pr_curves(box_curves, head.bbox, head.head);
  write_pr_plot(box_curves, "boxes: " + comparison.model, output_dir / "pr_bbox.png");
  if (!comparison.masks.empty()) {
    std::vector<PrCurve> mask_curves;
    for (const MaskResult& mask : comparison.masks) {
      add_pr_curves(mask_curves, mask.segm, variant_name(mask));
    }
    write_pr_plot(mask_curves, "masks: " + comparison.model, output_dir / "pr_segm.png");
  }

  if (!write_results) return;
  const std::filesystem::path results_dir = output_dir / "results";
  std::filesystem::create_directories(results_dir);
  for (const BoxHeadResult& head : comparison.box_heads) {
    write_results_file(head.detections, false, coco_category_ids,
                       results_dir / (head.head + "_bbox.json"));
  }
  for (const MaskResult& mask : comparison.masks) {
    write_results_file(mask.detections, true, coco_category_ids,
                       results_dir / (mask.head + "_" + mask.pooler + "_segm.json"));
  }
}

}  // namespace roiserve::tools
