#include "detector/model/freed_memory.h"

#include <malloc.h>

#include <cstddef>

namespace roiserve::detector {

void keep_freed_memory_for_reuse() {
  // Large enough for any feature map a served image produces; glibc accepts
  // the threshold only up to what its heaps can hold, so each is set on its own.
  constexpr size_t threshold = size_t{1} << 30;
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(threshold));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(threshold));
}

}  // namespace roiserve::detector
