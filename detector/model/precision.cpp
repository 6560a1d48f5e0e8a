#include "detector/model/precision.h"

#include <cpuid.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace roiserve::detector {
namespace {

bool cpuid_has_bf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool amx_bf16 = (edx >> 22) & 1u;
  if (eax < 1) return amx_bf16;
  unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
  __get_cpuid_count(7, 1, &eax1, &ebx1, &ecx1, &edx1);
  const bool avx512_bf16 = (eax1 >> 5) & 1u;
  return avx512_bf16 || amx_bf16;
}

// oneDNN's ISA names below avx512_core_bf16 (its cpu_isa_t order); any other
// value (avx512_core_bf16 and up, ALL, DEFAULT) leaves bfloat16 instructions on.
bool isa_cap_excludes_bf16() {
  const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (cap == nullptr) cap = std::getenv("DNNL_MAX_CPU_ISA");
  if (cap == nullptr) return false;
  std::string name(cap);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const char* below : {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
                            "AVX512_CORE_VNNI"}) {
    if (name == below) return true;
  }
  return false;
}

}  // namespace

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  throw std::invalid_argument("'" + name + "' is not a precision: expected fp32 or bf16");
}

std::string precision_name(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

c10::ScalarType compute_dtype(Precision precision) {
  return precision == Precision::bf16 ? c10::kBFloat16 : c10::kFloat;
}

bool cpu_has_native_bf16() { return cpuid_has_bf16() && !isa_cap_excludes_bf16(); }

PrecisionChoice effective_precision(Precision requested, c10::Device device) {
  if (requested == Precision::bf16 && device.is_cpu() && !cpu_has_native_bf16()) {
    return {requested, Precision::fp32,
            "this CPU has no native bf16 (AVX512_BF16 or AMX-BF16, not capped by "
            "ONEDNN_MAX_CPU_ISA): running fp32"};
  }
  return {requested, requested, {}};
}

}  // namespace roiserve::detector
