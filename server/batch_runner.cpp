#include "server/batch_runner.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "detector/model/device.h"
#include "server/clock.h"
#include "server/variant_lists.h"

namespace roiserve::server {
namespace {

// Images [start, start + count) of the shared stages, as views.
detector::SharedStages slice_shared(const detector::SharedStages& shared, int64_t start,
                                    int64_t count) {
  detector::SharedStages slice;
  slice.batch.tensor = shared.batch.tensor.narrow(0, start, count);
  const auto first = static_cast<size_t>(start);
  const auto last = static_cast<size_t>(start + count);
  slice.batch.image_sizes.assign(shared.batch.image_sizes.begin() + first,
                                 shared.batch.image_sizes.begin() + last);
  slice.batch.original_sizes.assign(shared.batch.original_sizes.begin() + first,
                                    shared.batch.original_sizes.begin() + last);
  for (const at::Tensor& level : shared.features)
    slice.features.push_back(level.narrow(0, start, count));
  slice.proposals.assign(shared.proposals.begin() + first, shared.proposals.begin() + last);
  return slice;
}

}  // namespace

grpc::Status model_failure_status(const std::exception& error, c10::Device device) {
  if (detector::is_out_of_memory(error)) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED,
            "the model ran out of memory on " + device.str() +
                " for this request: " + detector::error_message(error)};
  }
  return {grpc::StatusCode::INTERNAL, "the model failed: " + detector::error_message(error)};
}

std::string tensor_fingerprint(const at::Tensor& tensor) {
  const at::Tensor bytes = tensor.to(at::kCPU).contiguous();
  const auto* data = static_cast<const uint8_t*>(bytes.data_ptr());
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < bytes.nbytes(); ++i) hash = (hash ^ data[i]) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

BatchRunner::BatchRunner(detector::Detector detector, uint64_t max_image_pixels, RunnerHooks hooks)
    : detector_(std::move(detector)),
      max_image_pixels_(max_image_pixels),
      hooks_(std::move(hooks)) {
  if (!hooks_.device_responds) {
    hooks_.device_responds = [device = detector_->device()] {
      return detector::device_responds(device);
    };
  }
}

grpc::Status BatchRunner::lost_status() const {
  return {grpc::StatusCode::UNAVAILABLE, lost_message_};
}

grpc::Status BatchRunner::failure(const std::exception& error) {
  const c10::Device device = detector_->device();
  if (device_lost_) return lost_status();
  // Out of memory leaves the device working; any other failure may be the
  // device's own (an asynchronous CUDA error surfaces in whichever call
  // comes next), which a probe tells apart from a request's.
  if (!detector::is_out_of_memory(error) && !hooks_.device_responds()) {
    lost_message_ = "the device " + device.str() + " of this model is lost (" +
                    detector::error_message(error) + "); the server needs a restart";
    device_lost_ = true;
    if (hooks_.on_device_lost) hooks_.on_device_lost(lost_message_);
    return lost_status();
  }
  return model_failure_status(error, device);
}

std::vector<BatchRunner::Prepared> BatchRunner::decode(JobBatch& batch) {
  const Clock::time_point started = Clock::now();
  std::vector<Prepared> prepared(batch.size());
  std::vector<grpc::Status> failures(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    prepared[i].outcome.shared_timings.add("queue_wait",
                                           milliseconds_between(batch[i]->enqueued, started));
  }
  at::parallel_for(0, static_cast<int64_t>(batch.size()), 1, [&](int64_t begin, int64_t end) {
    for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
      const Clock::time_point start = Clock::now();
      const ImageInput& input = batch[i]->image;
      try {
        prepared[i].image = input.is_raw ? decode_raw_pixels(input.raw, max_image_pixels_)
                                         : decode_encoded_image(input.encoded, max_image_pixels_);
      } catch (const std::invalid_argument& error) {
        failures[i] = {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
      } catch (const std::exception& error) {
        // An exception out of the parallel loop would end the worker.
        failures[i] = {grpc::StatusCode::INTERNAL,
                       std::string("decoding the image failed: ") + error.what()};
      }
      prepared[i].outcome.shared_timings.add("decode", milliseconds_between(start, Clock::now()));
    }
  });
  std::vector<Prepared> decoded;
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < batch.size(); ++i) {
    prepared[i].job = batch[i];
    if (!failures[i].ok()) {
      prepared[i].outcome.status = failures[i];
      batch[i]->on_done(std::move(prepared[i].outcome));
    } else if (!batch[i]->liveness(now).ok()) {
      batch[i]->on_done(batch[i]->abandoned(now, "preprocess"));
    } else {
      decoded.push_back(std::move(prepared[i]));
    }
  }
  return decoded;
}

void BatchRunner::infer(std::vector<Prepared>& jobs) {
  // Jobs with equal variants next to each other, so each group's slice of
  // the batch is contiguous.
  std::stable_sort(jobs.begin(), jobs.end(), [](const Prepared& a, const Prepared& b) {
    return variants_before(a.job->variants, b.job->variants);
  });
  // Decoded on the CPU; run_shared moves them to the model's device and
  // run_head brings the detections back.
  std::vector<at::Tensor> images;
  for (const Prepared& prepared : jobs) images.push_back(prepared.image);
  const detector::SharedStages shared = detector_->run_shared(images);

  for (size_t start = 0; start < jobs.size();) {
    size_t end = start + 1;
    while (end < jobs.size() && same_variants(jobs[end].job->variants, jobs[start].job->variants)) {
      ++end;
    }
    const detector::SharedStages group =
        slice_shared(shared, static_cast<int64_t>(start), static_cast<int64_t>(end - start));
    std::vector<std::string> fingerprints;
    for (const at::Tensor& proposals : group.proposals)
      fingerprints.push_back(tensor_fingerprint(proposals));
    for (const detector::HeadRequest& variant : jobs[start].job->variants) {
      // Nobody waits for a dead job's heads (run() answers it).
      const Clock::time_point now = Clock::now();
      bool any_alive = false;
      for (size_t j = start; j < end; ++j) any_alive |= jobs[j].job->liveness(now).ok();
      if (!any_alive) break;
      detector::StageTimings timings;
      std::vector<detector::ImageDetections> detections =
          detector_->run_head(group, variant, timings);
      for (size_t j = start; j < end; ++j) {
        VariantOutcome outcome;
        outcome.detections = std::move(detections[j - start]);
        outcome.timings = timings;
        outcome.num_proposals = group.proposals[j - start].size(0);
        outcome.proposals_fingerprint = fingerprints[j - start];
        jobs[j].outcome.variants.push_back(std::move(outcome));
      }
    }
    start = end;
  }
  for (Prepared& prepared : jobs) {
    for (const auto& [stage, milliseconds] : shared.timings.entries()) {
      prepared.outcome.shared_timings.add(stage, milliseconds);
    }
    prepared.outcome.batch_size = static_cast<int64_t>(jobs.size());
  }
}

void BatchRunner::run(JobBatch& batch) {
  if (device_lost_) {
    for (const auto& job : batch) {
      JobOutcome outcome;
      outcome.status = lost_status();
      job->on_done(std::move(outcome));
    }
    return;
  }
  std::vector<Prepared> jobs = decode(batch);
  if (jobs.empty()) return;
  try {
    infer(jobs);
  } catch (const std::exception& batch_error) {
    const grpc::Status status = failure(batch_error);
    if (jobs.size() == 1 || device_lost_) {
      for (Prepared& prepared : jobs) {
        prepared.outcome = {};
        prepared.outcome.status = status;
      }
    } else {
      // Find the request that broke the batch (or needs more memory than
      // the device has left beside the others): each runs again on its own.
      for (Prepared& prepared : jobs) {
        if (device_lost_) {
          prepared.outcome = {};
          prepared.outcome.status = lost_status();
          continue;
        }
        std::vector<Prepared> alone;
        alone.push_back({prepared.job, prepared.image, {}});
        alone[0].outcome.shared_timings = prepared.outcome.shared_timings;
        try {
          infer(alone);
          prepared.outcome = std::move(alone[0].outcome);
        } catch (const std::exception& error) {
          prepared.outcome = {};
          prepared.outcome.status = failure(error);
        }
      }
    }
  }
  const Clock::time_point now = Clock::now();
  for (Prepared& prepared : jobs) {
    if (prepared.outcome.status.ok() && !prepared.job->liveness(now).ok()) {
      const bool heads_ran = prepared.outcome.variants.size() == prepared.job->variants.size();
      prepared.outcome = prepared.job->abandoned(now, heads_ran ? "encode" : "box_pool");
    }
    prepared.job->on_done(std::move(prepared.outcome));
  }
}

}  // namespace roiserve::server
