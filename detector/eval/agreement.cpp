#include "detector/eval/agreement.h"

#include <ATen/ATen.h>

#include <vector>

#include "ops/ops.h"

namespace roiserve::eval {
namespace {

DetectionSet confident(const DetectionSet& set, double min_score) {
  const at::Tensor keep = at::nonzero(set.scores.to(at::kCPU) >= min_score).squeeze(1);
  auto take = [&keep](const at::Tensor& t) { return t.to(at::kCPU).index_select(0, keep); };
  return {take(set.boxes).to(at::kFloat), take(set.scores).to(at::kDouble),
          take(set.labels).to(at::kLong)};
}

}  // namespace

Agreement& Agreement::operator+=(const Agreement& other) {
  matched += other.matched;
  only_a += other.only_a;
  only_b += other.only_b;
  iou_sum += other.iou_sum;
  score_delta_sum += other.score_delta_sum;
  return *this;
}

Agreement compare_detections(const DetectionSet& a_all, const DetectionSet& b_all,
                             double iou_threshold, double min_score) {
  const DetectionSet a = confident(a_all, min_score);
  const DetectionSet b = confident(b_all, min_score);
  const int64_t count_a = a.boxes.size(0);
  const int64_t count_b = b.boxes.size(0);
  Agreement agreement;
  if (count_a == 0 || count_b == 0) {
    agreement.only_a = count_a;
    agreement.only_b = count_b;
    return agreement;
  }
  const at::Tensor iou = ops::box_iou(a.boxes, b.boxes).to(at::kDouble).contiguous();
  const auto overlap = iou.accessor<double, 2>();
  const auto score_a = a.scores.accessor<double, 1>();
  const auto score_b = b.scores.accessor<double, 1>();
  const auto label_a = a.labels.accessor<int64_t, 1>();
  const auto label_b = b.labels.accessor<int64_t, 1>();
  const at::Tensor order = std::get<1>(a.scores.sort(/*stable=*/true, 0, /*descending=*/true));
  const auto rank = order.accessor<int64_t, 1>();
  std::vector<bool> taken(static_cast<size_t>(count_b), false);
  for (int64_t r = 0; r < count_a; ++r) {
    const int64_t i = rank[r];
    int64_t best = -1;
    double best_iou = 0;
    for (int64_t j = 0; j < count_b; ++j) {
      if (taken[static_cast<size_t>(j)] || label_b[j] != label_a[i]) continue;
      if (overlap[i][j] >= iou_threshold && overlap[i][j] > best_iou) {
        best_iou = overlap[i][j];
        best = j;
      }
    }
    if (best < 0) {
      ++agreement.only_a;
      continue;
    }
    taken[static_cast<size_t>(best)] = true;
    ++agreement.matched;
    agreement.iou_sum += best_iou;
    agreement.score_delta_sum += score_b[best] - score_a[i];
  }
  agreement.only_b = count_b - agreement.matched;
  return agreement;
}

}  // namespace roiserve::eval
