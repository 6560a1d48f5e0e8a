#pragma once
// The schemas of the roiserve operator library. Each op's file defines its own;
// kernels register themselves per dispatch key (cpu/, cuda/, autograd/).
namespace torch {
class Library;
}  // namespace torch

namespace roiserve::ops {

// Defines the ops that have device kernels in m's namespace: roi_align,
// roi_pool, ps_roi_pool, ps_roi_align and spp_roi_pool, each with its backward,
// and nms. A namespace that runs other kernels for these ops (roiserve_cuda_host)
// gets the very schemas of the roiserve namespace from here.
void define_kernel_op_schemas(torch::Library& m);

}  // namespace roiserve::ops
