#pragma once
// The device a detector runs on: the one place that turns a device name
// ("cpu", "cuda", "cuda:N": every --device flag and `device` config key) into
// a c10::Device and checks that this build and this machine can run it, plus
// the device-side helpers of inference (stage synchronisation, out-of-memory
// and lost-device classification).
//
// Written against the device-generic c10/ATen API only (no CUDA headers), so
// it compiles and links against a CPU-only LibTorch (Debian's 1.13) and a CUDA
// one (2.x) alike; a CPU-only build refuses CUDA devices at resolve_device().
#include <c10/core/Device.h>

#include <exception>
#include <string>

namespace roiserve::detector {

// "cpu", "cuda" (the first GPU, cuda:0) or "cuda:N". Throws
// std::invalid_argument for any other name, naming it and the accepted forms.
// Checks the spelling only; see check_device_available.
c10::Device parse_device(const std::string& name);

// Throws std::invalid_argument saying why the detector cannot run on `device`
// here: this LibTorch has no CUDA (a CPU-only build), the machine shows no CUDA
// device (or fewer than N + 1), or roiserve's RoI operators were built without
// CUDA kernels. The CPU is always available.
void check_device_available(c10::Device device);

// parse_device, then check_device_available: what every --device flag and
// `device` config key goes through.
c10::Device resolve_device(const std::string& name);

// Blocks until the work this thread has queued on `device` (its current
// stream) has run; returns at once on the CPU. Rethrows an asynchronous device
// error (as c10::Error).
void synchronize(c10::Device device);

// Whether `device` still computes: a one-element computation, copied back.
// False once the device is lost (a sticky CUDA error such as an illegal memory
// access, or a GPU fallen off the bus). Always true on the CPU; never throws.
bool device_responds(c10::Device device) noexcept;

// Whether `error` reports memory the device could not allocate:
// c10::OutOfMemoryError (LibTorch's CUDA caching allocator, 1.13 and later), a
// c10::Error saying "out of memory" or "ALLOC_FAILED" (the CUDA runtime,
// cuBLAS, cuDNN), or std::bad_alloc.
bool is_out_of_memory(const std::exception& error) noexcept;

// What a client or a log line should read of `error`: for LibTorch's
// c10::Error the message without the C++ stack trace its what() carries.
std::string error_message(const std::exception& error);

}  // namespace roiserve::detector
