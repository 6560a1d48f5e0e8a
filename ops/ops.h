#pragma once
// The roiserve operator library: include this for the whole C++ API. Every
// function goes through the PyTorch dispatcher (any device with a kernel,
// autograd included); Python reaches the same ops as torch.ops.roiserve.*.
#include "ops/box_ops.h"
#include "ops/nms.h"
#include "ops/ps_roi_align.h"
#include "ops/ps_roi_pool.h"
#include "ops/roi_align.h"
#include "ops/roi_pool.h"
#include "ops/spp_roi_pool.h"
