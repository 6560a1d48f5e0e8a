#pragma once
// One admitted request on its way through a model: its image, the head
// variants to run on it (one for Detect, several for Compare), its deadline
// and cancellation, and the callback that answers it. The RPC layer creates
// jobs; the batch scheduler and runner fill in the outcome.
#include <grpcpp/support/status.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "detector/model/detector.h"
#include "detector/model/stage_timings.h"
#include "server/clock.h"
#include "server/image_decoding.h"

namespace roiserve::server {

// The request's image, still encoded (or raw): decoding happens on the
// model's worker. The bytes belong to the request message, which outlives
// the job.
struct ImageInput {
  bool is_raw = false;
  std::string_view encoded;
  RawPixels raw;
  uint64_t width = 0;  // as declared by the header or the raw size
  uint64_t height = 0;
};

struct VariantOutcome {
  detector::ImageDetections detections;
  detector::StageTimings timings;  // box_pool .. paste
  int64_t num_proposals = 0;
  std::string proposals_fingerprint;
};

struct JobOutcome {
  grpc::Status status;
  // Set when status is OK: one per variant, in the job's order.
  std::vector<VariantOutcome> variants;
  // queue_wait, decode, then the batch's preprocess, backbone and rpn.
  detector::StageTimings shared_timings;
  int64_t batch_size = 0;
  // Set when the job's deadline passed or it was cancelled before its work
  // ended: the first stage that did not run for it ("encode" when all ran).
  std::string skipped_stage;
};

struct InferenceJob {
  ImageInput image;
  // Jobs share a batch only with jobs of the same key, the image's declared
  // size: a batch of equal sizes needs no padding, which on a CPU would cost
  // more than batching saves (Triton batches equal shapes alone, too).
  uint64_t batch_key = 0;
  std::vector<detector::HeadRequest> variants;
  Clock::time_point received = Clock::now();
  Clock::time_point enqueued;
  std::optional<Clock::time_point> deadline;
  // Set by the RPC layer when the client cancels or disconnects.
  std::atomic<bool> cancelled{false};
  // Called exactly once, on a worker thread (or by the scheduler's caller
  // when it shuts down), with the job's outcome.
  std::function<void(JobOutcome&&)> on_done;

  // OK while the job is worth running; CANCELLED or DEADLINE_EXCEEDED after.
  grpc::Status liveness(Clock::time_point now) const;
  // The outcome of a job found dead (liveness() not OK) before `skipped_stage`.
  JobOutcome abandoned(Clock::time_point now, std::string skipped_stage) const;
};

}  // namespace roiserve::server
