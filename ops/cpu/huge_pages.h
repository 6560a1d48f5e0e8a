#pragma once
// Large outputs backed by transparent huge pages. A fresh 50 MB output is
// 12,800 page faults of 4 KB, each zeroing its page in the kernel, before a
// kernel has written a byte: on a small VM that costs more than the pooling
// itself. Advising the kernel to back the block with 2 MB pages (where THP is
// set to "madvise", as on Debian) turns them into 25 faults.
#include <ATen/ATen.h>

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace roiserve::ops::cpu {

// Advises huge pages for the whole 2 MB pages inside a fresh output's buffer,
// before anything touches it. Only blocks of 32 MiB and more, and only when
// their first whole 2 MB page is not resident yet: glibc maps blocks that big
// afresh (its mmap threshold rises no higher on its own), but a program that
// raises the threshold, as the serving programs do (detector/model/
// freed_memory.h), gets reused heap that is already faulted in, where the
// advice would gain nothing. Advice only: errors are ignored.
inline void advise_huge_pages(const at::Tensor& fresh) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{1} << 21;
  constexpr uintptr_t kMinimumBytes = uintptr_t{32} << 20;
  const auto bytes = static_cast<uintptr_t>(fresh.numel()) * fresh.element_size();
  if (bytes < kMinimumBytes) {
    return;
  }
  const auto begin = reinterpret_cast<uintptr_t>(fresh.data_ptr());
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  unsigned char resident = 0;
  if (last > first && mincore(reinterpret_cast<void*>(first), 1, &resident) == 0 &&
      (resident & 1) == 0) {
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#else
  (void)fresh;
#endif
}

}  // namespace roiserve::ops::cpu
