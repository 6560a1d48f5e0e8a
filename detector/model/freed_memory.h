#pragma once
// Serving keeps the memory it frees for its next request. glibc hands every
// block above its mmap threshold (which never rises past 32 MB) back to the
// kernel when it is freed, so each forward pass maps its large feature maps
// afresh and page-faults them in, the kernel zeroing every 4 KB page: at
// 800 x 800 the backbone's 41 MB maps cost about as much system time as their
// convolutions take (4.5 s of system time against 0.6 s over the detector
// benchmark's 12 forwards on this VM). Allocations of any size then come from
// the heap, and freed ones stay there: the process keeps its peak, as ONNX
// Runtime's arena does. Called by the serving programs at start-up, before
// threads allocate.
namespace roiserve::detector {

void keep_freed_memory_for_reuse();

}  // namespace roiserve::detector
