#include "server/detection_service.h"

#include <stdexcept>

#include "server/detect_stream.h"
#include "server/model_info.h"
#include "server/request_options.h"
#include "server/response_builder.h"

namespace roiserve::server {
namespace {

double milliseconds_since(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// A unary call: answers once through complete(), which also counts and logs
// it; a client's cancellation marks its job so that it is dropped unrun.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(ServerMetrics& metrics, DrainGate& drain, const std::string& method,
            grpc::CallbackServerContext& context)
      : record(metrics, method, context.peer()), inflight_(metrics.inflight(method)), call_(drain) {}

  CallRecord record;
  std::shared_ptr<InferenceJob> job;

  void complete(const grpc::Status& status) {
    record.finish(status);
    Finish(status);
  }
  void OnCancel() override {
    if (job) job->cancelled = true;
  }
  void OnDone() override { delete this; }

 private:
  InflightScope inflight_;
  DrainGate::Call call_;
};

// Runs `work`, turning std::invalid_argument into INVALID_ARGUMENT.
template <typename Work>
grpc::Status checked(Work work) {
  try {
    work();
    return grpc::Status::OK;
  } catch (const std::invalid_argument& error) {
    return {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
  }
}

// "encode" and "total" of a response built just now.
detector::StageTimings closing_timings(Clock::time_point encode_start, Clock::time_point received) {
  const Clock::time_point now = Clock::now();
  detector::StageTimings timings;
  timings.add("encode", milliseconds_since(encode_start, now));
  timings.add("total", milliseconds_since(received, now));
  return timings;
}

}  // namespace

grpc::Status DetectionService::admit(const grpc::ServerContextBase& context) const {
  const grpc::Status status = drain_.admit();
  return status.ok() ? auth_.authorize(context, Role::kUser) : status;
}

DetectionService::DetectionService(ModelRepository& models, const TokenAuthenticator& auth,
                                   const LimitsConfig& limits, ServerMetrics& metrics,
                                   DrainGate& drain)
    : models_(models), auth_(auth), limits_(limits), metrics_(metrics), drain_(drain) {}

grpc::Status DetectionService::start_job(const grpc::ServerContextBase& context,
                                         const std::string& model_name, const v1::Image& image,
                                         google::protobuf::Message* response, CallRecord& record,
                                         const std::function<PreparedJob(const ServedModel&)>& prepare,
                                         const std::function<void(const grpc::Status&)>& done,
                                         std::shared_ptr<InferenceJob>& job) {
  grpc::Status status = drain_.admit();  // messages of streams opened before the drain
  if (!status.ok()) return status;
  std::shared_ptr<ServedModel> model;
  status = models_.find(model_name, model);
  ImageInput input;
  // A model reloaded between find() and submit() refuses the job: it goes
  // to the model that replaced it, so that a reload fails no request.
  for (int attempt = 0; status.ok(); ++attempt) {
    record.set_model(model->name());
    PreparedJob prepared;
    status = checked([&] {
      prepared = prepare(*model);
      if (attempt == 0) input = image_input(image, limits_.max_image_pixels);
    });
    if (!status.ok()) return status;
    job = std::make_shared<InferenceJob>();
    job->image = input;
    job->batch_key = input.width << 32 | input.height;
    job->variants = std::move(prepared.variants);
    job->received = record.received();
    job->deadline = call_deadline(context);
    job->on_done = [this, model_name = model->name(), response, answer = std::move(prepared.answer),
                    done](JobOutcome&& outcome) {
      if (!outcome.skipped_stage.empty()) metrics_.count_abandoned(model_name, outcome.skipped_stage);
      grpc::Status status = outcome.status;
      if (status.ok()) {
        try {
          answer(outcome);
        } catch (const std::exception& error) {
          response->Clear();
          status = {grpc::StatusCode::INTERNAL,
                    std::string("building the response failed: ") + error.what()};
        }
      }
      done(status);
    };
    // The model outlives its jobs: its scheduler answers every job before it stops.
    status = model->scheduler().submit(job);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt > 0) return status;
    std::shared_ptr<ServedModel> replacement;
    if (!models_.find(model_name, replacement).ok() || replacement == model) return status;
    model = std::move(replacement);
  }
  return status;
}

grpc::Status DetectionService::start_detect(const grpc::ServerContextBase& context,
                                            const v1::DetectRequest& request,
                                            v1::DetectResponse* response, CallRecord& record,
                                            std::function<void(const grpc::Status&)> done,
                                            std::shared_ptr<InferenceJob>& job) {
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
  return start_job(context, request.options().model(), request.image(), response, record, prepare,
                   done, job);
}

grpc::Status DetectionService::start_compare(const grpc::ServerContextBase& context,
                                             const v1::CompareRequest& request,
                                             v1::CompareResponse* response, CallRecord& record,
                                             std::function<void(const grpc::Status&)> done,
                                             std::shared_ptr<InferenceJob>& job) {
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
      total.add("total", milliseconds_since(received, Clock::now()));
      add_latencies(total, response->mutable_shared_latency());
      metrics_.observe_stages(model.name(), outcome.shared_timings);
      for (const VariantOutcome& variant : outcome.variants) {
        metrics_.observe_stages(model.name(), variant.timings);
      }
      metrics_.observe_stages(model.name(), total);
    };
    return PreparedJob{options.variants, answer};
  };
  return start_job(context, request.options().model(), request.image(), response, record, prepare,
                   done, job);
}

template <typename Request, typename Response, typename Start>
grpc::ServerUnaryReactor* DetectionService::unary_inference(const char* method,
                                                            grpc::CallbackServerContext* context,
                                                            const Request* request,
                                                            Response* response, Start start) {
  auto* call = new UnaryCall(metrics_, drain_, method, *context);
  call->record.set_request_id(request->request_id());
  grpc::Status status = admit(*context);
  if (status.ok()) {
    status = (this->*start)(*context, *request, response, call->record,
                            [call](const grpc::Status& done) { call->complete(done); }, call->job);
  }
  if (!status.ok()) call->complete(status);
  return call;
}

grpc::ServerUnaryReactor* DetectionService::Detect(grpc::CallbackServerContext* context,
                                                   const v1::DetectRequest* request,
                                                   v1::DetectResponse* response) {
  return unary_inference("Detect", context, request, response, &DetectionService::start_detect);
}

grpc::ServerUnaryReactor* DetectionService::Compare(grpc::CallbackServerContext* context,
                                                    const v1::CompareRequest* request,
                                                    v1::CompareResponse* response) {
  return unary_inference("Compare", context, request, response, &DetectionService::start_compare);
}

grpc::ServerBidiReactor<v1::DetectRequest, v1::DetectStreamResponse>*
DetectionService::DetectStream(grpc::CallbackServerContext* context) {
  return new DetectStreamCall(*this, *context);
}

grpc::ServerUnaryReactor* DetectionService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest*,
                                                       v1::ListModelsResponse* response) {
  auto* call = new UnaryCall(metrics_, drain_, "ListModels", *context);
  grpc::Status status = admit(*context);
  if (status.ok()) {
    std::shared_ptr<ServedModel> default_model;
    status = models_.find("", default_model);
    if (status.ok()) {
      for (const auto& model : models_.models()) {
        v1::ModelSummary* summary = response->add_models();
        summary->set_name(model->name());
        summary->set_description(model->config().description);
        summary->set_is_default(model == default_model);
        summary->set_ready(true);
      }
    }
  }
  call->complete(status);
  return call;
}

grpc::ServerUnaryReactor* DetectionService::GetModelInfo(grpc::CallbackServerContext* context,
                                                         const v1::GetModelInfoRequest* request,
                                                         v1::ModelInfo* response) {
  auto* call = new UnaryCall(metrics_, drain_, "GetModelInfo", *context);
  grpc::Status status = admit(*context);
  if (status.ok()) {
    std::shared_ptr<ServedModel> model;
    status = models_.find(request->name(), model);
    if (status.ok()) {
      call->record.set_model(model->name());
      fill_model_info(*model, limits_, response);
    }
  }
  call->complete(status);
  return call;
}

}  // namespace roiserve::server
