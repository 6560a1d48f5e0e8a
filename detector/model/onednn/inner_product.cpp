#include "detector/model/onednn/inner_product.h"

#include "detector/model/onednn/runtime.h"

namespace roiserve::detector::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

}  // namespace

struct InnerProduct::Plan {
  dnnl::inner_product_forward primitive;
  memory::desc scratchpad;
  memory weights;
  memory::desc source;
  memory::desc destination;
};

InnerProduct::InnerProduct(const at::Tensor& weight, const at::Tensor& bias)
    : bias_(bias.to(at::kFloat).contiguous()),
      bias_memory_(float_bias(bias_)),
      type_(served_data_type(weight.scalar_type())),
      out_features_(weight.size(0)),
      in_features_(weight.size(1)),
      plans_(ReorderedWeights(weight, memory::format_tag::oi)) {}

std::shared_ptr<const InnerProduct::Plan> InnerProduct::make_plan(
    int64_t rows, bool relu, c10::ScalarType output_type, ReorderedWeights& weights) const {
  const memory::desc source({rows, in_features_}, type_, Tag::nc);
  const memory::desc destination({rows, out_features_}, served_data_type(output_type), Tag::nc);
  dnnl::post_ops post_ops;
  if (relu) post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  const dnnl::inner_product_forward::primitive_desc description(
      dnnl::inner_product_forward::desc(
          dnnl::prop_kind::forward_inference, source,
          memory::desc({out_features_, in_features_}, type_, Tag::any),
          bias_memory_.get_desc(), destination),
      make_attributes(post_ops), cpu_engine());
  auto plan = std::make_shared<Plan>();
  plan->primitive = dnnl::inner_product_forward(description);
  plan->scratchpad = description.scratchpad_desc();
  plan->weights = weights.in(description.weights_desc());
  plan->source = source;
  plan->destination = destination;
  return plan;
}

at::Tensor InnerProduct::operator()(const at::Tensor& input_as_given, bool relu,
                                    c10::ScalarType output_type) const {
  if (served_data_type(input_as_given.scalar_type()) != type_) {
    throw std::invalid_argument("an inner product's input must be in its weight's dtype");
  }
  const at::Tensor input = input_as_given.contiguous();
  at::Tensor output = at::empty({input.size(0), out_features_}, input.options().dtype(output_type));
  if (input.size(0) == 0) return output;
  const std::shared_ptr<const Plan> plan =
      plans_.get(PlanKey{input.size(0), relu, output_type}, [&](ReorderedWeights& weights) {
        return make_plan(input.size(0), relu, output_type, weights);
      });
  execute(plan->primitive,
          {{DNNL_ARG_SRC, view(plan->source, input)},
           {DNNL_ARG_WEIGHTS, plan->weights},
           {DNNL_ARG_BIAS, bias_memory_},
           {DNNL_ARG_DST, view(plan->destination, output)}},
          plan->scratchpad);
  return output;
}

}  // namespace roiserve::detector::onednn
