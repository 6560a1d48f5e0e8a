#include "server/detect_stream.h"

namespace roiserve::server {

DetectStreamCall::DetectStreamCall(Admission& admission, grpc::CallbackServerContext& context)
    : admission_(admission),
      context_(context),
      inflight_(admission.metrics().inflight("DetectStream")),
      call_(admission.drain()),
      stream_record_(admission.metrics(), "DetectStream", context.peer()) {
  const grpc::Status status = admission_.admit(context_);
  if (!status.ok()) {
    finished_ = true;
    stream_record_.finish(status);
    Finish(status);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  read_next_locked();
}

void DetectStreamCall::read_next_locked() {
  if (reading_ || reads_done_ || cancelled_ || finished_) return;
  if (static_cast<int64_t>(pending_.size()) >= admission_.limits().max_stream_in_flight) return;
  reading_ = true;
  StartRead(&incoming_);
}

void DetectStreamCall::OnReadDone(bool ok) {
  if (!ok) {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reading_ = false;
      reads_done_ = true;
      finish = take_finish_locked();
    }
    if (finish) Finish(*finish);  // last: OnDone may run inline and delete this
    return;
  }
  Entry* entry;
  uint64_t index;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reading_ = false;
    auto owned = std::make_unique<Entry>();
    index = owned->index = next_index_++;
    owned->request.Swap(&incoming_);
    owned->record = std::make_unique<CallRecord>(admission_.metrics(), "DetectStream.message",
                                                 context_.peer());
    owned->record->set_request_id(owned->request.request_id());
    entry = owned.get();
    pending_[index] = std::move(owned);
  }
  // Unlocked: admission may answer other jobs of this stream at once (the
  // scheduler drops dead jobs when its queue is full), and they lock. Once
  // admitted, the entry may be answered, written and gone before this
  // returns: it is looked up again by index.
  std::shared_ptr<InferenceJob> job;
  const grpc::Status status = admission_.start_detect(
      entry->request, call_deadline(context_), entry->response.mutable_result(), *entry->record,
      [this, entry](const grpc::Status& done) {
        std::optional<grpc::Status> finish;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          answer_locked(*entry, done);
          write_next_locked();
          finish = take_finish_locked();
        }
        if (finish) Finish(*finish);
      },
      job);
  std::optional<grpc::Status> finish;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = pending_.find(index);
    if (found != pending_.end()) {
      if (!status.ok()) answer_locked(*found->second, status);
      found->second->job = job;
      if (cancelled_ && job) job->cancelled = true;
    }
    read_next_locked();
    write_next_locked();
    finish = take_finish_locked();
  }
  if (finish) Finish(*finish);
}

void DetectStreamCall::answer_locked(Entry& entry, const grpc::Status& status) {
  entry.record->finish(status);
  entry.response.set_request_id(entry.request.request_id());
  entry.response.set_index(entry.index);
  if (!status.ok()) {
    v1::Error* error = entry.response.mutable_error();  // clears the result
    error->set_code(status.error_code());
    error->set_code_name(status_code_name(status.error_code()));
    error->set_message(status.error_message());
  }
  entry.answered = true;
}

void DetectStreamCall::write_next_locked() {
  while (!writing_ && !pending_.empty() && pending_.begin()->second->answered) {
    if (cancelled_) {
      pending_.erase(pending_.begin());  // nobody reads it any more
      continue;
    }
    writing_ = true;
    StartWrite(&pending_.begin()->second->response);
  }
}

void DetectStreamCall::OnWriteDone(bool ok) {
  std::optional<grpc::Status> finish;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    writing_ = false;
    pending_.erase(pending_.begin());
    // Not ok: the client is gone; drop what it can no longer receive.
    if (!ok) cancel_locked();
    read_next_locked();
    write_next_locked();
    finish = take_finish_locked();
  }
  if (finish) Finish(*finish);
}

void DetectStreamCall::OnCancel() {
  std::optional<grpc::Status> finish;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_locked();
    write_next_locked();
    finish = take_finish_locked();
  }
  if (finish) Finish(*finish);
}

void DetectStreamCall::cancel_locked() {
  cancelled_ = true;
  for (auto& [index, entry] : pending_) {
    if (entry->job) entry->job->cancelled = true;
  }
}

std::optional<grpc::Status> DetectStreamCall::take_finish_locked() {
  if (finished_ || reading_ || writing_ || !pending_.empty()) return std::nullopt;
  if (!reads_done_ && !cancelled_) return std::nullopt;
  finished_ = true;
  const grpc::Status status =
      cancelled_ ? grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled")
                 : grpc::Status::OK;
  stream_record_.finish(status);
  return status;
}

void DetectStreamCall::OnDone() { delete this; }

}  // namespace roiserve::server
