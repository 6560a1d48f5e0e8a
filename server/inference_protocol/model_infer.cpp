#include "server/inference_protocol/model_infer.h"

#include "server/exception_status.h"

namespace roiserve::server::inference_protocol {

grpc::Status ModelInferRun::start(Admission& admission, const inference::ModelInferRequest& request,
                                  Deadline deadline, inference::ModelInferResponse* response,
                                  CallRecord& record, DoneCallback done,
                                  std::shared_ptr<ModelInferRun>& run) {
  run = std::make_shared<ModelInferRun>();
  run->request_ = &request;
  run->response_ = response;
  run->done_ = std::move(done);
  record.set_model(request.model_name());
  record.set_request_id(request.id());
  grpc::Status status = guarded("reading the request's tensors", [&] {
    run->plan_ = plan_detections(request);
    return grpc::Status::OK;
  });
  if (!status.ok()) return status;
  const size_t count = run->plan_.images.size();
  run->answers_.resize(count);
  run->statuses_.resize(count);
  run->jobs_.resize(count);
  // Until every image is queued, one count stands for the ones not yet started.
  run->remaining_ = count + 1;
  std::lock_guard<std::mutex> lock(run->jobs_mutex_);
  for (size_t i = 0; i < count; ++i) {
    status = admission.start_detect(
        run->plan_.images[i], deadline, &run->answers_[i], record,
        [run, i](const grpc::Status& image_status) { run->image_done(i, image_status); },
        run->jobs_[i]);
    if (!status.ok()) {
      if (count > 1) status = {status.error_code(), "image " + std::to_string(i) + ": " + status.error_message()};
      run->abandoned_ = true;
      for (size_t j = 0; j < i; ++j) run->jobs_[j]->cancelled = true;
      return status;
    }
  }
  run->image_done(count, grpc::Status::OK);  // the count of the images not yet started
  return grpc::Status::OK;
}

void ModelInferRun::cancel() {
  std::lock_guard<std::mutex> lock(jobs_mutex_);
  for (const auto& job : jobs_) {
    if (job) job->cancelled = true;
  }
}

void ModelInferRun::image_done(size_t index, const grpc::Status& status) {
  if (index < statuses_.size()) statuses_[index] = status;
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1 || abandoned_) return;
  grpc::Status result;
  for (size_t i = 0; i < statuses_.size() && result.ok(); ++i) {
    if (!statuses_[i].ok()) {
      result = statuses_.size() == 1
                   ? statuses_[i]
                   : grpc::Status(statuses_[i].error_code(),
                                  "image " + std::to_string(i) + ": " + statuses_[i].error_message());
    }
  }
  if (result.ok()) {
    result = guarded("building the response", [&] {
      fill_infer_response(*request_, plan_, answers_, response_);
      return grpc::Status::OK;
    });
  }
  if (!result.ok()) response_->Clear();
  // Last: `done` may end the call, and with it the request and response.
  done_(result);
}

}  // namespace roiserve::server::inference_protocol
