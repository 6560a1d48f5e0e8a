#include "detector/model/onednn/runtime.h"

#include "detector/model/onednn/plan_cache.h"

#include <stdexcept>

namespace roiserve::detector::onednn {

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::string version() {
  const dnnl_version_t* version = dnnl_version();
  return std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
         std::to_string(version->patch);
}

std::optional<dnnl::memory::data_type> data_type_of(c10::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return dnnl::memory::data_type::f32;
    case at::kBFloat16:
      return dnnl::memory::data_type::bf16;
    default:
      return std::nullopt;
  }
}

dnnl::memory::data_type served_data_type(c10::ScalarType type) {
  const auto served = data_type_of(type);
  if (!served) throw std::invalid_argument("oneDNN layers compute in float32 or bfloat16");
  return *served;
}

dnnl::memory view(const dnnl::memory::desc& layout, const at::Tensor& tensor) {
  return dnnl::memory(layout, cpu_engine(), tensor.data_ptr());
}

dnnl::memory float_bias(const at::Tensor& bias) {
  return view(dnnl::memory::desc({bias.size(0)}, dnnl::memory::data_type::f32,
                                 dnnl::memory::format_tag::a),
              bias);
}

std::pair<dnnl::memory, at::Tensor> allocate(const dnnl::memory::desc& layout) {
  at::Tensor bytes = at::empty({static_cast<int64_t>(layout.get_size())}, at::kByte);
  return {view(layout, bytes), std::move(bytes)};
}

void execute(const dnnl::primitive& primitive, std::unordered_map<int, dnnl::memory> arguments,
             const dnnl::memory::desc& scratchpad) {
  // A stream is not to be shared between threads; the server runs several
  // workers, each with its own.
  thread_local dnnl::stream stream(cpu_engine());
  at::Tensor scratchpad_bytes;
  if (scratchpad.get_size() > 0) {
    auto [memory, bytes] = allocate(scratchpad);
    arguments.emplace(DNNL_ARG_SCRATCHPAD, memory);
    scratchpad_bytes = std::move(bytes);
  }
  primitive.execute(stream, arguments);
  stream.wait();
}

dnnl::primitive_attr make_attributes(const dnnl::post_ops& post_ops) {
  dnnl::primitive_attr attributes;
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attributes.set_post_ops(post_ops);
  return attributes;
}

dnnl::memory reordered(const dnnl::memory& source, const dnnl::memory::desc& layout) {
  dnnl::memory target(layout, cpu_engine());
  dnnl::reorder::primitive_desc description(cpu_engine(), source.get_desc(), cpu_engine(), layout,
                                            make_attributes({}));
  execute(dnnl::reorder(description), {{DNNL_ARG_FROM, source}, {DNNL_ARG_TO, target}},
          description.scratchpad_desc());
  return target;
}

ReorderedWeights::ReorderedWeights(at::Tensor plain, dnnl::memory::format_tag plain_layout)
    : plain_(plain.contiguous()),
      plain_layout_(dnnl::memory::dims(plain_.sizes().begin(), plain_.sizes().end()),
                    served_data_type(plain_.scalar_type()), plain_layout) {}

dnnl::memory ReorderedWeights::in(const dnnl::memory::desc& layout) {
  for (const dnnl::memory& weights : reordered_) {
    if (weights.get_desc() == layout) return weights;
  }
  return reordered_.emplace_back(reordered(view(plain_layout_, plain_), layout));
}

bool ReorderedWeights::holds(const dnnl::memory::desc& layout) const {
  for (const dnnl::memory& weights : reordered_) {
    if (weights.get_desc() == layout) return true;
  }
  return false;
}

}  // namespace roiserve::detector::onednn
