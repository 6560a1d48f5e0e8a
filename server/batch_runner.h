#pragma once
// Runs a batch of jobs on one detector: decodes every image, runs the
// backbone and RPN once for the whole batch, then each job's head variants
// on its slice of the shared features and proposals, and answers each job.
// Jobs asking for the same variants run their heads together.
//
// A job whose deadline passes or whose call is cancelled is dropped at the
// next stage boundary (after decoding, after the shared stages, between
// head variants) and answered at once.
//
// Failures stay with their request: an image that does not decode fails its
// own job; when a batch's model run throws, each job of it is run again
// alone, so that only the request that caused it fails (INTERNAL, or
// RESOURCE_EXHAUSTED when the device ran out of memory for it).
//
// The model runs on the detector's device (a GPU with --device cuda): images
// go there, detections come back to the CPU. When a run fails for another
// reason than memory, the runner asks whether the device still computes; if
// not, the device is lost (a sticky CUDA error, a GPU gone): this batch and
// every later one are answered UNAVAILABLE at once, and on_device_lost is
// called, once, so that the server turns NOT_SERVING.
#include <atomic>
#include <functional>
#include <string>

#include "detector/model/detector.h"
#include "server/batch_scheduler.h"

namespace roiserve::server {

struct RunnerHooks {
  // Whether the model's device still computes (default:
  // detector::device_responds on the detector's device).
  std::function<bool()> device_responds;
  // Called once, on the worker, when the device is found lost; the message
  // says which device and the error that revealed it.
  std::function<void(const std::string& message)> on_device_lost;
};

class BatchRunner {
 public:
  BatchRunner(detector::Detector detector, uint64_t max_image_pixels, RunnerHooks hooks = {});

  void run(JobBatch& batch);
  bool device_lost() const { return device_lost_; }

 private:
  struct Prepared {
    std::shared_ptr<InferenceJob> job;
    at::Tensor image;
    JobOutcome outcome;
  };

  // Decodes the images; jobs whose image fails are answered and removed.
  std::vector<Prepared> decode(JobBatch& batch);
  // The model stages for jobs of decoded images; throws what the model throws.
  void infer(std::vector<Prepared>& jobs);
  // The status of jobs whose model run threw `error`; finds a lost device.
  grpc::Status failure(const std::exception& error);
  grpc::Status lost_status() const;

  detector::Detector detector_;
  uint64_t max_image_pixels_;
  RunnerHooks hooks_;
  std::atomic<bool> device_lost_{false};
  std::string lost_message_;  // set before device_lost_
};

// The status of a request whose model run threw `error` on `device`:
// RESOURCE_EXHAUSTED when the device ran out of memory
// (detector::is_out_of_memory), INTERNAL otherwise.
grpc::Status model_failure_status(const std::exception& error, c10::Device device);

// Hex FNV-1a 64 of a tensor's bytes (contiguous, on the CPU): equal
// fingerprints mean equal values, bit for bit.
std::string tensor_fingerprint(const at::Tensor& tensor);

}  // namespace roiserve::server
