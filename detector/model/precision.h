#pragma once
// The arithmetic a detector serves in: the one place that reads a precision
// name ("fp32", "bf16": every --precision flag, `precision` config key and
// model.yaml's default) and decides what a device can run natively.
//
// bf16 needs a CPU with native bfloat16 arithmetic (AVX512_BF16 or AMX-BF16;
// without it oneDNN emulates bfloat16 more slowly than it computes float32),
// so elsewhere a bf16 request runs fp32 and says so (effective_precision).
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace roiserve::detector {

enum class Precision { fp32, bf16 };

// "fp32" or "bf16". Throws std::invalid_argument for any other name, naming it
// and the accepted ones.
Precision parse_precision(const std::string& name);
std::string precision_name(Precision precision);
// The dtype the convolutions and fully connected layers compute in.
c10::ScalarType compute_dtype(Precision precision);

// The precision a model asked to run in `requested` on `device` runs in, and
// why it differs when it does.
struct PrecisionChoice {
  Precision requested;
  Precision effective;
  std::string fallback_reason;  // empty when effective == requested
};
PrecisionChoice effective_precision(Precision requested, c10::Device device);

// Whether this CPU computes bfloat16 natively: it has AVX512_BF16 or AMX-BF16,
// and ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA), oneDNN's cap on the
// instructions it uses, does not rule them out.
bool cpu_has_native_bf16();

}  // namespace roiserve::detector
