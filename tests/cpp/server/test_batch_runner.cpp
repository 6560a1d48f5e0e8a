// The batch runner with the shipped model (models/shapes-v1): a request whose
// model run throws fails alone while the rest of its batch is served, and a
// request found dead after decoding never reaches the model.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include "detector/bundle/model_bundle.h"
#include "detector/data/shapes_dataset.h"
#include "detector/data/shapes_labelled.h"
#include "server/batch_runner.h"

namespace roiserve::server {
namespace {

constexpr uint64_t kMaxImagePixels = 1u << 24;

BatchRunner shipped_model_runner() {
  return BatchRunner(
      detector::load_bundle(std::filesystem::path(ROISERVE_SOURCE_DIR) / "models" / "shapes-v1"),
      c10::Device(c10::kCPU), kMaxImagePixels);
}

// A shapes-v1 validation image as raw RGB bytes (HWC).
struct RawImage {
  explicit RawImage(int64_t index) {
    const at::Tensor chw = detector::generate_shapes_sample(detector::kShapesValidationSeed, index).image;
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
  EXPECT_NE(broken.outcome->status.error_message().find("no box head 'no_such_head'"), std::string::npos)
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

}  // namespace
}  // namespace roiserve::server
