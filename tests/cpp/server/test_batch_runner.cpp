// The batch runner with the shipped model (models/shapes-v1): a request whose
// model run throws fails alone while the rest of its batch is served, a
// request found dead after decoding never reaches the model, an
// out-of-memory is RESOURCE_EXHAUSTED, a device that stops answering fails
// its batch and every later one UNAVAILABLE and is reported once, and jobs of
// one batch run with their own options.
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_dataset.h"
#include "detector/data/shapes_labelled.h"
#include "server/batch_runner.h"

namespace roiserve::server {
namespace {

constexpr uint64_t kMaxImagePixels = 1u << 24;

BatchRunner shipped_model_runner(RunnerHooks hooks = {}) {
  return BatchRunner(
      detector::load_bundle(std::filesystem::path(ROISERVE_SOURCE_DIR) / "models" / "shapes-v1"),
      kMaxImagePixels, std::move(hooks));
}

// A shapes-v1 validation image as raw RGB bytes (HWC).
struct RawImage {
  explicit RawImage(int64_t index) {
    const at::Tensor chw =
        detector::generate_shapes_sample(detector::kShapesValidationSeed, index).image;
    const at::Tensor hwc = chw.permute({1, 2, 0}).contiguous();
    bytes.assign(static_cast<const char*>(hwc.data_ptr()), hwc.nbytes());
    height = static_cast<uint64_t>(chw.size(1));
    width = static_cast<uint64_t>(chw.size(2));
  }
  std::string bytes;
  uint64_t height;
  uint64_t width;
};

// A job of one variant on an image, keeping its outcome.
struct RecordedJob {
  RecordedJob(const RawImage& image, std::string box_head) {
    job->image.is_raw = true;
    job->image.raw = {image.height, image.width, 3, false, false, image.bytes};
    job->image.width = image.width;
    job->image.height = image.height;
    detector::HeadRequest variant;
    variant.box_head = std::move(box_head);
    job->variants = {variant};
    job->on_done = [this](JobOutcome&& result) { outcome = std::move(result); };
  }
  RecordedJob(const RecordedJob&) = delete;

  std::shared_ptr<InferenceJob> job = std::make_shared<InferenceJob>();
  std::optional<JobOutcome> outcome;
};

at::Tensor boxes_of(const RecordedJob& recorded) {
  return recorded.outcome->variants.at(0).detections.boxes;
}

TEST(BatchRunner, ARequestWhoseModelRunThrowsFailsAloneAndTheRestOfItsBatchIsServed) {
  BatchRunner runner = shipped_model_runner();
  const RawImage image(0);
  // The RPC layer refuses an unknown head; behind it, the model throws.
  RecordedJob first(image, "roi_align"), broken(image, "no_such_head"), last(image, "roi_pool");
  JobBatch batch{first.job, broken.job, last.job};
  runner.run(batch);

  ASSERT_TRUE(broken.outcome.has_value());
  EXPECT_EQ(broken.outcome->status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(broken.outcome->status.error_message().find("the model failed: "), std::string::npos);
  EXPECT_NE(broken.outcome->status.error_message().find("no box head 'no_such_head'"),
            std::string::npos)
      << broken.outcome->status.error_message();
  for (RecordedJob* served : {&first, &last}) {
    ASSERT_TRUE(served->outcome.has_value());
    ASSERT_TRUE(served->outcome->status.ok()) << served->outcome->status.error_message();
    EXPECT_GT(boxes_of(*served).size(0), 0);
  }
  // Each ran again alone, and got what it gets in a batch of its own.
  RecordedJob first_alone(image, "roi_align");
  JobBatch alone{first_alone.job};
  runner.run(alone);
  ASSERT_TRUE(first_alone.outcome->status.ok());
  EXPECT_TRUE(at::equal(boxes_of(first), boxes_of(first_alone)));
}

std::vector<float> scores_of(const RecordedJob& recorded) {
  const at::Tensor scores = recorded.outcome->variants.at(0).detections.scores.contiguous();
  return {scores.data_ptr<float>(), scores.data_ptr<float>() + scores.numel()};
}

// Two jobs in one batch whose score thresholds print alike to six decimals
// (the batch's old grouping key), one just below a detection's score and one
// at it: each runs with its own, so only the first keeps that detection.
TEST(BatchRunner, JobsWhoseThresholdsDifferBeyondSixDecimalsRunWithTheirOwn) {
  BatchRunner runner = shipped_model_runner();
  const RawImage image(0);
  // The reference runs as the jobs below will: in a batch of two, its head on
  // its own image (a batch's convolutions and a head's matrix products may
  // round differently for another number of images).
  RecordedJob reference(image, "roi_align"), other(image, "roi_align");
  reference.job->variants[0].score_threshold = 0.0;
  other.job->variants[0].score_threshold = 0.5;
  JobBatch pair{reference.job, other.job};
  runner.run(pair);
  ASSERT_TRUE(reference.outcome->status.ok());
  // The detector compares float32 scores with the threshold in float32: the
  // float just below a score keeps it, the score itself does not.
  std::optional<float> score, below;
  for (const float candidate : scores_of(reference)) {
    const float next_below = std::nextafter(candidate, 0.0f);
    if (std::to_string(double{next_below}) == std::to_string(double{candidate})) {
      score = candidate;
      below = next_below;
      break;
    }
  }
  ASSERT_TRUE(score.has_value()) << "no detection score to put the thresholds around";

  const std::vector<float> reference_scores = scores_of(reference);
  const auto with_score = [&](const std::vector<float>& scores) {
    return std::count(scores.begin(), scores.end(), *score);
  };
  for (const bool keeping_job_first : {true, false}) {
    RecordedJob keeps(image, "roi_align"), drops(image, "roi_align");
    keeps.job->variants[0].score_threshold = double{*below};
    drops.job->variants[0].score_threshold = double{*score};
    JobBatch batch = keeping_job_first ? JobBatch{keeps.job, drops.job} : JobBatch{drops.job, keeps.job};
    runner.run(batch);
    for (RecordedJob* job : {&keeps, &drops}) {
      ASSERT_TRUE(job->outcome->status.ok()) << job->outcome->status.error_message();
      EXPECT_EQ(job->outcome->batch_size, 2);
    }
    const std::vector<float> kept = scores_of(keeps), dropped = scores_of(drops);
    EXPECT_EQ(with_score(kept), with_score(reference_scores)) << "threshold " << *below;
    EXPECT_EQ(with_score(dropped), 0) << "threshold " << *score;
    EXPECT_EQ(kept.size(), dropped.size() + with_score(reference_scores));
  }
}

TEST(BatchRunner, RequestsFoundDeadAfterDecodingNeverReachTheModel) {
  BatchRunner runner = shipped_model_runner();
  const RawImage image(1);
  RecordedJob expired(image, "roi_align"), cancelled(image, "roi_align"), alive(image, "roi_align");
  expired.job->deadline = Clock::now() - std::chrono::milliseconds(1);
  cancelled.job->cancelled = true;
  JobBatch batch{expired.job, cancelled.job, alive.job};
  runner.run(batch);

  EXPECT_EQ(expired.outcome->status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(cancelled.outcome->status.error_code(), grpc::StatusCode::CANCELLED);
  for (RecordedJob* dead : {&expired, &cancelled}) {
    EXPECT_EQ(dead->outcome->skipped_stage, "preprocess");
    EXPECT_TRUE(dead->outcome->variants.empty());
  }
  ASSERT_TRUE(alive.outcome->status.ok());
  EXPECT_EQ(alive.outcome->skipped_stage, "");
  // The backbone ran for the live image alone.
  EXPECT_EQ(alive.outcome->batch_size, 1);
}

TEST(BatchRunner, OutOfMemoryIsResourceExhaustedAndAnyOtherFailureInternal) {
  const c10::Device gpu(c10::kCUDA, 0);
  try {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 8.00 GiB");
  } catch (const std::exception& error) {
    const grpc::Status status = model_failure_status(error, gpu);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(status.error_message().find("the model ran out of memory on cuda:0 for this request: "
                                          "CUDA out of memory"),
              std::string::npos)
        << status.error_message();
  }
  try {
    TORCH_CHECK(false, "CUDA error: out of memory");
  } catch (const std::exception& error) {
    EXPECT_EQ(model_failure_status(error, gpu).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  const grpc::Status other = model_failure_status(std::invalid_argument("no box head 'x'"), gpu);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(other.error_message(), "the model failed: no box head 'x'");
}

TEST(BatchRunner, AFailureOnAWorkingDeviceIsTheRequestsOwn) {
  int probes = 0;
  RunnerHooks hooks;
  hooks.device_responds = [&probes] {
    ++probes;
    return true;
  };
  hooks.on_device_lost = [](const std::string& message) { FAIL() << "lost: " << message; };
  BatchRunner runner = shipped_model_runner(hooks);
  const RawImage image(0);
  RecordedJob broken(image, "no_such_head"), served(image, "roi_align");
  JobBatch batch{broken.job, served.job};
  runner.run(batch);
  EXPECT_GE(probes, 1) << "the device was asked whether it still computes";
  EXPECT_EQ(broken.outcome->status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_TRUE(served.outcome->status.ok()) << served.outcome->status.error_message();
  EXPECT_FALSE(runner.device_lost());
}

TEST(BatchRunner, ALostDeviceFailsItsBatchAndEveryLaterOneUnavailableAndIsReportedOnce) {
  std::vector<std::string> reports;
  RunnerHooks hooks;
  hooks.device_responds = [] { return false; };
  hooks.on_device_lost = [&reports](const std::string& message) { reports.push_back(message); };
  BatchRunner runner = shipped_model_runner(hooks);
  const RawImage image(0);
  // A failing run reveals the lost device (on a GPU: an asynchronous error
  // surfacing in whichever request came next); the whole batch fails with it.
  RecordedJob first(image, "roi_align"), broken(image, "no_such_head"), last(image, "roi_pool");
  JobBatch batch{first.job, broken.job, last.job};
  runner.run(batch);
  EXPECT_TRUE(runner.device_lost());
  for (RecordedJob* job : {&first, &broken, &last}) {
    ASSERT_TRUE(job->outcome.has_value());
    EXPECT_EQ(job->outcome->status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(job->outcome->status.error_message().find("the device cpu of this model is lost"),
              std::string::npos)
        << job->outcome->status.error_message();
  }
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("no box head 'no_such_head'"), std::string::npos) << reports[0];

  // Later batches are answered at once, without the model.
  RecordedJob later(image, "roi_align");
  JobBatch next{later.job};
  runner.run(next);
  ASSERT_TRUE(later.outcome.has_value());
  EXPECT_EQ(later.outcome->status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(later.outcome->variants.empty());
  EXPECT_EQ(reports.size(), 1u);
}

}  // namespace
}  // namespace roiserve::server
