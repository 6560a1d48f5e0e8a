#include "detector/model/onednn/convolution.h"

#include <optional>
#include <stdexcept>
#include <string>

#include "detector/model/onednn/runtime.h"

namespace roiserve::detector::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

memory::dims to_dims(const std::vector<int64_t>& values) { return {values.begin(), values.end()}; }

// Below this, a Winograd convolution's reorders to and from its blocked
// layouts, and its transforms, cost more than they save (in the detector on
// this machine: a 64-channel 80 x 80 map, 0.24 G multiply-adds, ran faster
// direct; 256 channels at 25 x 25, 0.37 G, and 3 of the mask head's RoIs ran
// faster through Winograd).
constexpr int64_t winograd_min_multiply_adds = 300'000'000;

// Winograd kernels read their weights in a layout that depends on the input's
// shape (4 layouts over the mask head's 1..100 RoIs, each 4x the plain
// weight's size): a layer keeps at most this many; a shape that would need
// another runs the direct kernel.
constexpr size_t max_weight_layouts = 3;

// A reorder between a user layout and a kernel's, with its scratchpad layout.
struct Reorder {
  dnnl::reorder primitive;
  memory::desc scratchpad;
  memory::desc from;
  memory::desc to;

  Reorder(const memory::desc& from_layout, const memory::desc& to_layout)
      : from(from_layout), to(to_layout) {
    dnnl::reorder::primitive_desc description(cpu_engine(), from, cpu_engine(), to,
                                              make_attributes({}));
    primitive = dnnl::reorder(description);
    scratchpad = description.scratchpad_desc();
  }

  void operator()(const memory& from, const memory& to) const {
    execute(primitive, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}, scratchpad);
  }
};

// Nothing else sees `tensor`'s storage: it may be written in place.
bool exclusively_held(const at::Tensor& tensor) {
  return tensor.use_count() == 1 && tensor.storage().use_count() == 1;
}

}  // namespace

struct Convolution::Plan {
  dnnl::convolution_forward primitive;
  memory::desc scratchpad;
  memory weights;
  memory::desc user_source;       // channels-last, as the caller gives it
  memory::desc user_destination;  // channels-last, as the caller gets it
  // Where the kernel's own layouts are not channels-last:
  std::optional<Reorder> source_to_kernel;
  std::optional<Reorder> destination_to_kernel;  // the addend, into the kernel's layout
  std::optional<Reorder> destination_to_user;
};

Convolution::Convolution(const at::Tensor& weight, const at::Tensor& bias,
                         const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                         const std::vector<int64_t>& dilation)
    : bias_(bias.to(at::kFloat).contiguous()),
      bias_memory_(float_bias(bias_)),
      type_(served_data_type(weight.scalar_type())),
      weight_sizes_(weight.sizes().vec()),
      stride_(to_dims(stride)),
      padding_(to_dims(padding)),
      plans_(ReorderedWeights(weight, memory::format_tag::oihw)) {
  for (int64_t value : dilation) dilation_.push_back(value - 1);
}

std::shared_ptr<const Convolution::Plan> Convolution::make_plan(const at::Tensor& input, bool add,
                                                                bool relu,
                                                                ReorderedWeights& weights) const {
  const memory::dims source_dims{input.size(0), input.size(1), input.size(2), input.size(3)};
  memory::dims destination_dims{input.size(0), weight_sizes_[0]};
  for (size_t axis = 0; axis < 2; ++axis) {
    const int64_t kernel = weight_sizes_[axis + 2];
    const int64_t extent = source_dims[axis + 2] + 2 * padding_[axis];
    destination_dims.push_back((extent - (dilation_[axis] + 1) * (kernel - 1) - 1) / stride_[axis] +
                               1);
  }
  const memory::desc bias = bias_memory_.get_desc();
  dnnl::post_ops post_ops;
  if (add) post_ops.append_sum(1.f);
  if (relu) post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  const dnnl::primitive_attr attributes = make_attributes(post_ops);

  auto describe = [&](dnnl::algorithm algorithm, Tag activations, const memory::desc& weights_layout)
      -> std::optional<dnnl::convolution_forward::primitive_desc> {
    try {
      const dnnl::convolution_forward::desc description(
          dnnl::prop_kind::forward_inference, algorithm, memory::desc(source_dims, type_, activations),
          weights_layout, bias, memory::desc(destination_dims, type_, activations), stride_, dilation_,
          padding_, padding_);
      return dnnl::convolution_forward::primitive_desc(description, attributes, cpu_engine());
    } catch (const dnnl::error&) {
      return std::nullopt;  // no kernel for this combination on this CPU
    }
  };
  const memory::desc weights_any(to_dims(weight_sizes_), type_, Tag::any);
  // Winograd where oneDNN has it (float32 3 x 3 stride 1 on AVX-512; its
  // layouts are blocked), where the convolution is large enough to pay for
  // the reorders around it, and where its weight layout is one the layer
  // already holds or there is room for another; else the direct kernel on
  // channels-last as it is. (A weight layout is only ever one oneDNN chose for
  // the shape at hand: its Winograd kernels trust a layout they are handed,
  // and one chosen for another shape crashed them.)
  const int64_t multiply_adds = destination_dims[0] * destination_dims[1] * destination_dims[2] *
                                destination_dims[3] * weight_sizes_[1] * weight_sizes_[2] *
                                weight_sizes_[3];
  std::optional<dnnl::convolution_forward::primitive_desc> description;
  if (multiply_adds >= winograd_min_multiply_adds) {
    description = describe(dnnl::algorithm::convolution_winograd, Tag::any, weights_any);
    if (description && !weights.holds(description->weights_desc()) &&
        weights.layout_count() >= max_weight_layouts) {
      description.reset();
    }
  }
  if (!description) description = describe(dnnl::algorithm::convolution_direct, Tag::nhwc, weights_any);
  if (!description) description = describe(dnnl::algorithm::convolution_direct, Tag::any, weights_any);
  if (!description) throw std::runtime_error("oneDNN has no convolution for this layer");

  auto plan = std::make_shared<Plan>();
  plan->primitive = dnnl::convolution_forward(*description);
  plan->scratchpad = description->scratchpad_desc();
  plan->weights = weights.in(description->weights_desc());
  plan->user_source = memory::desc(source_dims, type_, Tag::nhwc);
  plan->user_destination = memory::desc(destination_dims, type_, Tag::nhwc);
  if (description->src_desc() != plan->user_source) {
    plan->source_to_kernel.emplace(plan->user_source, description->src_desc());
  }
  if (description->dst_desc() != plan->user_destination) {
    if (add) plan->destination_to_kernel.emplace(plan->user_destination, description->dst_desc());
    plan->destination_to_user.emplace(description->dst_desc(), plan->user_destination);
  }
  return plan;
}

at::Tensor Convolution::operator()(const at::Tensor& input_as_given, at::Tensor addend,
                                   bool relu) const {
  if (served_data_type(input_as_given.scalar_type()) != type_) {
    throw std::invalid_argument("a convolution's input must be in its weight's dtype");
  }
  if (input_as_given.dim() != 4 || input_as_given.size(1) != weight_sizes_[1]) {
    throw std::invalid_argument("a convolution's input must be [N, " +
                                std::to_string(weight_sizes_[1]) + ", H, W]");
  }
  const at::Tensor input = input_as_given.contiguous(at::MemoryFormat::ChannelsLast);
  const bool add = addend.defined();
  const std::shared_ptr<const Plan> plan =
      plans_.get(PlanKey{input.size(0), input.size(2), input.size(3), add, relu},
                 [&](ReorderedWeights& weights) { return make_plan(input, add, relu, weights); });
  const memory::dims& output_dims = plan->user_destination.dims();
  const at::IntArrayRef output_sizes(output_dims.data(), output_dims.size());
  at::Tensor output;
  if (!add) {
    output = at::empty(output_sizes, input.options().memory_format(at::MemoryFormat::ChannelsLast));
  } else {
    if (addend.sizes() != output_sizes || addend.scalar_type() != input.scalar_type()) {
      throw std::invalid_argument("a fused addend must have the convolution's output shape and dtype");
    }
    output = exclusively_held(addend) && addend.is_contiguous(at::MemoryFormat::ChannelsLast)
                 ? std::move(addend)
                 : addend.clone(at::MemoryFormat::ChannelsLast);
  }

  memory source = view(plan->user_source, input);
  at::Tensor source_bytes;
  if (plan->source_to_kernel) {
    auto [kernel_source, bytes] = allocate(plan->source_to_kernel->to);
    (*plan->source_to_kernel)(source, kernel_source);
    source = kernel_source;
    source_bytes = std::move(bytes);
  }
  const memory user_destination = view(plan->user_destination, output);
  memory destination = user_destination;
  at::Tensor destination_bytes;
  if (plan->destination_to_user) {
    auto [kernel_destination, bytes] = allocate(plan->destination_to_user->from);
    if (plan->destination_to_kernel) (*plan->destination_to_kernel)(user_destination, kernel_destination);
    destination = kernel_destination;
    destination_bytes = std::move(bytes);
  }
  execute(plan->primitive,
          {{DNNL_ARG_SRC, source},
           {DNNL_ARG_WEIGHTS, plan->weights},
           {DNNL_ARG_BIAS, bias_memory_},
           {DNNL_ARG_DST, destination}},
          plan->scratchpad);
  if (plan->destination_to_user) (*plan->destination_to_user)(destination, user_destination);
  return output;
}

}  // namespace roiserve::detector::onednn
