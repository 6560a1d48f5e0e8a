#pragma once
// DetectStream: many Detect requests on one bidirectional stream. Requests
// are admitted as they are read, at most limits.max_stream_in_flight at a
// time (reading pauses beyond that, which pushes back on the client through
// HTTP/2 flow control); responses go out in request order, each either a
// result or the error of that request alone.
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "roiserve/v1/detection.grpc.pb.h"
#include "server/admission.h"

namespace roiserve::server {

class DetectStreamCall final
    : public grpc::ServerBidiReactor<v1::DetectRequest, v1::DetectStreamResponse> {
 public:
  DetectStreamCall(Admission& admission, grpc::CallbackServerContext& context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  struct Entry {
    uint64_t index = 0;
    v1::DetectRequest request;
    v1::DetectStreamResponse response;
    std::shared_ptr<InferenceJob> job;
    std::unique_ptr<CallRecord> record;
    bool answered = false;
  };

  // All *_locked members run with mutex_ held. Finish() is called after the
  // lock is released, as the last thing a reaction does: gRPC may run
  // OnDone, which deletes this, inline from it.
  void answer_locked(Entry& entry, const grpc::Status& status);
  void read_next_locked();
  void write_next_locked();
  void cancel_locked();
  // The stream's status once everything is read, answered and written (or
  // cancelled), once; nullopt before.
  std::optional<grpc::Status> take_finish_locked();

  Admission& admission_;
  grpc::CallbackServerContext& context_;
  InflightScope inflight_;
  DrainGate::Call call_;
  CallRecord stream_record_;
  std::mutex mutex_;
  v1::DetectRequest incoming_;
  // Admitted and not yet written, by index.
  std::map<uint64_t, std::unique_ptr<Entry>> pending_;
  uint64_t next_index_ = 0;
  bool reading_ = false;
  bool reads_done_ = false;
  bool writing_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
};

}  // namespace roiserve::server
