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
// alone, so that only the request that caused it fails.
#include <c10/core/Device.h>

#include "detector/model/detector.h"
#include "server/batch_scheduler.h"

namespace roiserve::server {

class BatchRunner {
 public:
  BatchRunner(detector::Detector detector, c10::Device device, uint64_t max_image_pixels);

  void run(JobBatch& batch);

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

  detector::Detector detector_;
  c10::Device device_;
  uint64_t max_image_pixels_;
};

// Hex FNV-1a 64 of a tensor's bytes (contiguous, on the CPU): equal
// fingerprints mean equal values, bit for bit.
std::string tensor_fingerprint(const at::Tensor& tensor);

}  // namespace roiserve::server
