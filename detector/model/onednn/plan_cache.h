#pragma once
// What a layer's oneDNN primitives are built from, kept per layer: plans (a
// primitive for one input shape), built once per shape under a lock and then
// only read, and the layer's weight reordered into each layout a plan's kernel
// reads, once per layout. A server that meets many image sizes keeps the most
// recent plans rather than every shape it ever saw.
#include <ATen/ATen.h>

#include <dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace roiserve::detector::onednn {

class ReorderedWeights {
 public:
  // plain: the weight as the layer holds it, contiguous, in `plain_layout`.
  ReorderedWeights(at::Tensor plain, dnnl::memory::format_tag plain_layout);

  const at::Tensor& plain() const { return plain_; }
  // Not thread-safe: called while building a plan, under its cache's lock.
  dnnl::memory in(const dnnl::memory::desc& layout);
  bool holds(const dnnl::memory::desc& layout) const;
  size_t layout_count() const { return reordered_.size(); }

 private:
  at::Tensor plain_;
  dnnl::memory::desc plain_layout_;
  std::vector<dnnl::memory> reordered_;
};

template <typename Key, typename Plan>
class PlanCache {
 public:
  // The plan for `key`, made by `make(weights)` the first time it is asked for.
  template <typename Make>
  std::shared_ptr<const Plan> get(const Key& key, Make&& make) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (const auto found = plans_.find(key); found != plans_.end()) return found->second;
    if (plans_.size() >= max_plans) plans_.clear();
    return plans_.emplace(key, make(weights_)).first->second;
  }

  explicit PlanCache(ReorderedWeights weights) : weights_(std::move(weights)) {}
  const at::Tensor& plain_weight() const { return weights_.plain(); }

 private:
  static constexpr size_t max_plans = 64;
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<const Plan>> plans_;
  ReorderedWeights weights_;
};

}  // namespace roiserve::detector::onednn
