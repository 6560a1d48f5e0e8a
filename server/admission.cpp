#include "server/admission.h"

#include "server/clock.h"
#include "server/exception_status.h"
#include "server/request_options.h"
#include "server/response_builder.h"

namespace roiserve::server {
namespace {

// "encode" and "total" of a response built just now.
detector::StageTimings closing_timings(Clock::time_point encode_start, Clock::time_point received) {
  const Clock::time_point now = Clock::now();
  detector::StageTimings timings;
  timings.add("encode", milliseconds_between(encode_start, now));
  timings.add("total", milliseconds_between(received, now));
  return timings;
}

}  // namespace

Admission::Admission(ModelRepository& models, const TokenAuthenticator& auth,
                     const LimitsConfig& limits, ServerMetrics& metrics, DrainGate& drain)
    : models_(models), auth_(auth), limits_(limits), metrics_(metrics), drain_(drain) {}

grpc::Status Admission::admit(const grpc::ServerContextBase& context) const {
  const grpc::Status status = drain_.admit();
  return status.ok() ? auth_.authorize(context, Role::kUser) : status;
}

grpc::Status Admission::admit(const std::string* authorization, const char* carrier) const {
  const grpc::Status status = drain_.admit();
  return status.ok() ? auth_.authorize(authorization, Role::kUser, carrier) : status;
}

grpc::Status Admission::start_job(const std::string& model_name, const v1::Image& image,
                                  Deadline deadline, google::protobuf::Message* response,
                                  CallRecord& record, const JobPreparer& prepare,
                                  const DoneCallback& done, std::shared_ptr<InferenceJob>& job) {
  return guarded("while admitting the request", [&] {
    return queue_job(model_name, image, deadline, response, record, prepare, done, job);
  });
}

grpc::Status Admission::queue_job(const std::string& model_name, const v1::Image& image,
                                  Deadline deadline, google::protobuf::Message* response,
                                  CallRecord& record, const JobPreparer& prepare,
                                  const DoneCallback& done, std::shared_ptr<InferenceJob>& job) {
  grpc::Status status = drain_.admit();  // messages of streams opened before the drain
  if (!status.ok()) return status;
  std::shared_ptr<ServedModel> model;
  status = models_.find(model_name, model);
  ImageInput input;
  // A model reloaded between find() and submit() refuses the job: it goes
  // to the model that replaced it, so that a reload fails no request.
  for (int attempt = 0; status.ok(); ++attempt) {
    record.set_model(model->name());
    PreparedJob prepared = prepare(*model);
    if (attempt == 0) input = image_input(image, limits_.max_image_pixels);
    job = std::make_shared<InferenceJob>();
    job->image = input;
    job->batch_key = input.width << 32 | input.height;
    job->variants = std::move(prepared.variants);
    job->received = record.received();
    job->deadline = deadline;
    job->on_done = [this, model_name = model->name(), response, answer = std::move(prepared.answer),
                    done](JobOutcome&& outcome) {
      if (!outcome.skipped_stage.empty()) metrics_.count_abandoned(model_name, outcome.skipped_stage);
      grpc::Status status = outcome.status;
      if (status.ok()) {
        status = guarded("while building the response", [&] {
          answer(outcome);
          return grpc::Status::OK;
        });
        if (!status.ok()) response->Clear();
      }
      done(status);
    };
    // The model outlives its jobs: its scheduler answers every job before it stops.
    status = model->scheduler().submit(job);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt > 0) break;
    std::shared_ptr<ServedModel> replacement;
    if (!models_.find(model_name, replacement).ok() || replacement == model) break;
    model = std::move(replacement);
  }
  if (!status.ok()) job.reset();
  return status;
}

grpc::Status Admission::start_detect(const v1::DetectRequest& request, Deadline deadline,
                                     v1::DetectResponse* response, CallRecord& record,
                                     DoneCallback done, std::shared_ptr<InferenceJob>& job) {
  const Clock::time_point received = record.received();
  auto prepare = [&](const ServedModel& model) {
    const ResolvedOptions options = resolve_detect_options(request.options(), model.detector(), limits_);
    auto answer = [this, &model, &request, response, options, received](const JobOutcome& outcome) {
      const Clock::time_point encode_start = Clock::now();
      response->set_request_id(request.request_id());
      response->set_model(model.name());
      fill_detect_response(outcome, options.variants[0], model.config(), options.mask_format,
                           response);
      const detector::StageTimings closing = closing_timings(encode_start, received);
      add_latencies(closing, response->mutable_latency());
      metrics_.observe_stages(model.name(), outcome.shared_timings);
      metrics_.observe_stages(model.name(), outcome.variants[0].timings);
      metrics_.observe_stages(model.name(), closing);
    };
    return PreparedJob{options.variants, answer};
  };
  return start_job(request.options().model(), request.image(), deadline, response, record, prepare,
                   done, job);
}

grpc::Status Admission::start_compare(const v1::CompareRequest& request, Deadline deadline,
                                      v1::CompareResponse* response, CallRecord& record,
                                      DoneCallback done, std::shared_ptr<InferenceJob>& job) {
  const Clock::time_point received = record.received();
  auto prepare = [&](const ServedModel& model) {
    const ResolvedOptions options = resolve_compare_options(request, model.detector(), limits_);
    const AgreementOptions agreement = resolve_agreement_options(request);
    auto answer = [this, &model, &request, response, options, agreement,
                   received](const JobOutcome& outcome) {
      response->set_request_id(request.request_id());
      response->set_model(model.name());
      fill_compare_response(outcome, options, agreement, model.config(), response);
      // Each variant has its own "encode" (fill_compare_response).
      detector::StageTimings total;
      total.add("total", milliseconds_since(received));
      add_latencies(total, response->mutable_shared_latency());
      metrics_.observe_stages(model.name(), outcome.shared_timings);
      for (const VariantOutcome& variant : outcome.variants) {
        metrics_.observe_stages(model.name(), variant.timings);
      }
      metrics_.observe_stages(model.name(), total);
    };
    return PreparedJob{options.variants, answer};
  };
  return start_job(request.options().model(), request.image(), deadline, response, record, prepare,
                   done, job);
}

}  // namespace roiserve::server
