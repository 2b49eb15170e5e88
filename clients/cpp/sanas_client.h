// Small helpers for C++ clients of sanas.v1.ControllerService: the error reason a status
// carries (google.rpc.ErrorInfo in the status details, read with protobuf's generic
// wire-format parser), whether a search has finished, whether a trial went to another
// trainer, whether to retry, and a LeaseKeeper that heartbeats a trial while it trains.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>

#include "sanas/v1/sanas.grpc.pb.h"

namespace sanas {

// Field numbers of google.rpc.Status.details, google.protobuf.Any and google.rpc.ErrorInfo.
inline constexpr int kStatusDetails = 3;
inline constexpr int kAnyTypeUrl = 1;
inline constexpr int kAnyValue = 2;
inline constexpr int kErrorInfoReason = 1;
inline constexpr int kErrorInfoDomain = 2;

// The sanas.v1.ErrorReason name of a controller error, or "" when it carries none.
inline std::string ErrorReason(const grpc::Status& status) {
  google::protobuf::UnknownFieldSet rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return "";
  for (int i = 0; i < rpc_status.field_count(); ++i) {
    const auto& detail = rpc_status.field(i);
    if (detail.number() != kStatusDetails ||
        detail.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    google::protobuf::UnknownFieldSet any;
    if (!any.ParseFromString(detail.length_delimited())) continue;
    std::string type_url, value;
    for (int j = 0; j < any.field_count(); ++j) {
      const auto& f = any.field(j);
      if (f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
      if (f.number() == kAnyTypeUrl) type_url = f.length_delimited();
      if (f.number() == kAnyValue) value = f.length_delimited();
    }
    const std::string suffix = "/google.rpc.ErrorInfo";
    if (type_url.size() < suffix.size() ||
        type_url.compare(type_url.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    google::protobuf::UnknownFieldSet info;
    if (!info.ParseFromString(value)) continue;
    std::string reason, domain;
    for (int j = 0; j < info.field_count(); ++j) {
      const auto& f = info.field(j);
      if (f.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
      if (f.number() == kErrorInfoReason) reason = f.length_delimited();
      if (f.number() == kErrorInfoDomain) domain = f.length_delimited();
    }
    if (domain == "sanas.v1") return reason;
  }
  return "";
}

inline bool IsSearchFinished(const grpc::Status& status) {
  const std::string reason = ErrorReason(status);
  return reason == "ERROR_REASON_BUDGET_EXHAUSTED" || reason == "ERROR_REASON_SPACE_EXHAUSTED";
}

// Whether the trial is no longer the caller's to train: its lease ran out and another
// trainer holds it now (TRIAL_NOT_HELD), or that trainer already completed it
// (TRIAL_ALREADY_COMPLETED). Stop training it and ask for a new trial.
inline bool IsTrialLost(const grpc::Status& status) {
  const std::string reason = ErrorReason(status);
  return reason == "ERROR_REASON_TRIAL_NOT_HELD" ||
         reason == "ERROR_REASON_TRIAL_ALREADY_COMPLETED";
}

inline bool IsRetryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// A google.protobuf.Duration (a study's lease_duration) in milliseconds; 0 when unset.
inline std::chrono::milliseconds DurationMs(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

// Renews a trial's lease every `interval` (a third of the study's lease, so one lost beat
// does not cost the trial) from a thread of its own, until Stop() or destruction. Stop
// once the trial is reported; it cancels a beat in flight, so none outlives the trial.
class LeaseKeeper {
 public:
  LeaseKeeper(sanas::v1::ControllerService::StubInterface* stub, const std::string& study_id,
              int64_t trial_id, const std::string& client_id, std::chrono::milliseconds interval)
      : stub_(stub), interval_(interval) {
    request_.set_study_id(study_id);
    request_.set_trial_id(trial_id);
    request_.set_client_id(client_id);
    thread_ = std::thread([this] { Run(); });
  }
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  ~LeaseKeeper() { Stop(); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      if (beat_ != nullptr) beat_->TryCancel();
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopped_; })) {
      grpc::ClientContext context;
      // A beat that takes longer than an interval gives way to the next one.
      context.set_deadline(std::chrono::system_clock::now() + interval_);
      beat_ = &context;
      lock.unlock();
      sanas::v1::HeartbeatTrialResponse response;
      const grpc::Status status = stub_->HeartbeatTrial(&context, request_, &response);
      lock.lock();
      beat_ = nullptr;
      if (status.ok() || stopped_) continue;
      // Reported (by us, or by another trainer after our lease ran out): nothing to keep.
      if (ErrorReason(status) == "ERROR_REASON_TRIAL_ALREADY_COMPLETED") return;
      // Keep beating: the controller may be restarting.
      std::cerr << "heartbeat of trial " << request_.trial_id()
                << " failed: " << status.error_message() << "\n";
    }
  }

  sanas::v1::ControllerService::StubInterface* stub_;
  sanas::v1::HeartbeatTrialRequest request_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;                   // guarded by mu_
  grpc::ClientContext* beat_ = nullptr;    // the beat in flight; guarded by mu_
  std::thread thread_;
};

}  // namespace sanas
