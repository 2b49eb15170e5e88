// Small helpers for C++ clients of sanas.v1.ControllerService: the error reason a status
// carries (google.rpc.ErrorInfo in the status details, read with protobuf's generic
// wire-format parser), whether a search has finished, whether a trial went to another
// trainer or is gone with its study, whether to retry and a Retry loop, AIP-155 request
// ids, a channel that reconnects quickly, the binding of calls to their trial, and a
// LeaseKeeper that heartbeats a trial while it trains.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
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

// Whether the call was refused because the study no longer has the trial it is bound to
// (STALE_TRIAL): the study was deleted and created again since the trial was issued, or
// its checkpoint folder was restored from a backup and the trial has other tokens now.
// Nothing was recorded: drop the trial's result and ask for a new trial.
inline bool IsTrialStale(const grpc::Status& status) {
  return ErrorReason(status) == "ERROR_REASON_STALE_TRIAL";
}

// Whether the trial is no longer the caller's to train: its lease ran out and another
// trainer holds it now (TRIAL_NOT_HELD), or that trainer already completed it
// (TRIAL_ALREADY_COMPLETED), or the study no longer has it at all (STALE_TRIAL, see
// IsTrialStale). Stop training it and ask for a new trial.
inline bool IsTrialLost(const grpc::Status& status) {
  const std::string reason = ErrorReason(status);
  return reason == "ERROR_REASON_TRIAL_NOT_HELD" ||
         reason == "ERROR_REASON_TRIAL_ALREADY_COMPLETED" ||
         reason == "ERROR_REASON_STALE_TRIAL";
}

inline bool IsRetryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// How long Retry keeps retrying: 600 s, as the Python client's retry_timeout, so a trainer
// in any language rides through the same controller restart.
inline constexpr std::chrono::seconds kDefaultRetryTimeout{600};

// Runs `call(context)` (a fresh grpc::ClientContext with a 30 s deadline each attempt)
// until it succeeds, fails with a status that is not retryable, or the next wait would end
// after `timeout`; waits back off from 100 ms to 5 s, each logged as a warning on stderr.
// A call that changes the study must carry a request_id chosen once, before Retry
// (NewRequestId), so a retry after a lost response gets the first answer (AIP-155).
template <typename Call>
grpc::Status Retry(Call call, const std::string& what,
                   std::chrono::milliseconds timeout = kDefaultRetryTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = call(&context);
    if (status.ok() || !IsRetryable(status) ||
        std::chrono::steady_clock::now() + delay > deadline) {
      return status;
    }
    std::cerr << "warning: " << what << ": controller unavailable (code "
              << status.error_code() << ": " << status.error_message() << "); retrying in "
              << delay.count() / 1000.0 << " s, for up to " << timeout.count() / 1000.0
              << " s in all\n";
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

// A fresh AIP-155 request id: 128 random bits in hex (as the Python client's
// uuid4().hex). Choose one per logical SuggestTrial / CompleteTrial call and reuse it on
// every retry, so a retry after a lost response never issues a second trial.
inline std::string NewRequestId() {
  static thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  static const char kHex[] = "0123456789abcdef";
  std::string id;
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = engine();
    for (int i = 0; i < 16; ++i, bits >>= 4) id.push_back(kHex[bits & 0xf]);
  }
  return id;
}

// A channel that reconnects within about a second once a restarted controller listens
// again (gRPC's default backoff grows to two minutes), as the Python client does.
inline std::shared_ptr<grpc::Channel> Connect(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials =
        grpc::InsecureChannelCredentials()) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(address, credentials, args);
}

// Binds a request about `trial` (CompleteTrial, ReportTrialProgress, HeartbeatTrial,
// SkipTrial) to the trial as the controller issued it: its study_uid and fingerprint.
// A study created again, or restored from a backup, since then refuses the call with
// STALE_TRIAL instead of recording a result against another network.
template <typename Request>
void Bind(const sanas::v1::Trial& trial, Request* request) {
  request->set_study_id(trial.study_id());
  request->set_trial_id(trial.trial_id());
  request->set_study_uid(trial.study_uid());
  request->set_trial_fingerprint(trial.fingerprint());
}

// A google.protobuf.Duration (a study's lease_duration) in milliseconds; 0 when unset.
inline std::chrono::milliseconds DurationMs(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

// Renews a trial's lease every `interval` (a third of the study's lease, so one lost beat
// does not cost the trial) from a thread of its own, until Stop() or destruction. Stop
// once the trial is reported; it cancels a beat in flight, so none outlives the trial.
// Every beat is bound to the trial (Bind); one refused as stale ends the renewals.
class LeaseKeeper {
 public:
  LeaseKeeper(sanas::v1::ControllerService::StubInterface* stub, const sanas::v1::Trial& trial,
              const std::string& client_id, std::chrono::milliseconds interval)
      : stub_(stub), interval_(interval) {
    Bind(trial, &request_);
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
      // Reported (by us, or by another trainer after our lease ran out), or gone with its
      // study: nothing to keep.
      if (ErrorReason(status) == "ERROR_REASON_TRIAL_ALREADY_COMPLETED") return;
      if (IsTrialStale(status)) return;
      // Keep beating: the controller may be restarting.
      std::cerr << "warning: heartbeat of trial " << request_.trial_id()
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
