// Example sanas trainer in C++: creates (or joins) a study over a custom token space, runs
// SuggestTrial / CompleteTrial with a synthetic reward until the budget is spent, and
// prints the best result. While a trial "trains" (--train-seconds, to simulate a real
// training step) it heartbeats the trial three times per lease, and after each of --epochs
// epochs it reports the trial's progress, stopping early when the study's rule says so. A
// trial whose lease ran out and went to another trainer (TRIAL_NOT_HELD) is left to it.
// With --median-stop-start E a study it creates stops trials by the median rule from epoch E.
// Every call about a trial carries the trial's study_uid and fingerprint, so a study created
// again or restored from a backup meanwhile refuses it (STALE_TRIAL) and the trainer drops
// that trial for a new one. Calls are retried through a controller outage for up to
// --retry-timeout (600 s, as the Python client), with a warning per wait; SuggestTrial and
// CompleteTrial carry a request_id kept across their retries (AIP-155), so a lost response
// never issues a second trial.
// usage: sanas_trainer [--addr host:port] [--study ID] [--steps N]
//          [--lease-seconds S] [--train-seconds S] [--client-id NAME] [--epochs N]
//          [--median-stop-start EPOCH] [--retry-timeout S]
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "sanas/v1/sanas.grpc.pb.h"
#include "sanas_client.h"

namespace {

std::string Arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

// Synthetic score with its optimum at every token = 4.
double Reward(const google::protobuf::RepeatedField<int32_t>& tokens) {
  double s = 0;
  for (int32_t t : tokens) s -= static_cast<double>((t - 4) * (t - 4));
  return s;
}

// Synthetic value after epoch k of `epochs`: rising to the reward at the end.
double Curve(const google::protobuf::RepeatedField<int32_t>& tokens, long long k,
             long long epochs) {
  return Reward(tokens) - static_cast<double>(epochs - k);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string address = Arg(argc, argv, "addr", "127.0.0.1:8881");
  const std::string study_id = Arg(argc, argv, "study", "cpp-example");
  const long long steps = std::atoll(Arg(argc, argv, "steps", "50").c_str());
  // 0: the controller's default lease.
  const double lease_seconds = std::atof(Arg(argc, argv, "lease-seconds", "0").c_str());
  const double train_seconds = std::atof(Arg(argc, argv, "train-seconds", "0").c_str());
  const std::string client_id = Arg(argc, argv, "client-id", "cpp-trainer");
  // --train-seconds split evenly into epochs, with a progress report after each.
  const long long epochs = std::atoll(Arg(argc, argv, "epochs", "5").c_str());
  // -1: no early stopping; otherwise a new study's median rule starts at this epoch.
  const long long median_start = std::atoll(Arg(argc, argv, "median-stop-start", "-1").c_str());
  // Seconds a call is retried while the controller is unavailable.
  const double retry_seconds = std::atof(
      Arg(argc, argv, "retry-timeout", std::to_string(sanas::kDefaultRetryTimeout.count())).c_str());
  if (epochs < 1) {
    std::cerr << "--epochs " << epochs << ": must be at least 1\n";
    return 1;
  }
  const auto retry_timeout =
      std::chrono::milliseconds(static_cast<long long>(retry_seconds * 1000));
  auto WithRetry = [&](auto call, const std::string& what) {
    return sanas::Retry(call, what, retry_timeout);
  };
  auto channel = sanas::Connect(address);
  auto stub = sanas::v1::ControllerService::NewStub(channel);

  sanas::v1::CreateStudyRequest create;
  create.set_study_id(study_id);
  auto* config = create.mutable_config();
  auto* space = config->add_search_spaces();
  space->set_key("custom");
  for (int i = 0; i < 6; ++i) space->add_range_table(9);
  config->set_search_steps(steps);
  config->set_seed(1);
  if (median_start >= 0) {
    auto* median = config->mutable_early_stopping()->mutable_median();
    median->set_start_step(median_start);
    median->set_min_trials(2);
  }
  if (lease_seconds > 0) {
    const auto nanos = static_cast<int64_t>(lease_seconds * 1e9);
    config->mutable_lease_duration()->set_seconds(nanos / 1000000000);
    config->mutable_lease_duration()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  sanas::v1::CreateStudyResponse created;
  grpc::Status status = WithRetry(
      [&](grpc::ClientContext* ctx) { return stub->CreateStudy(ctx, create, &created); },
      "CreateStudy");
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    std::cerr << "study " << study_id << " exists with another config: "
              << status.error_message() << "\n";
    return 1;
  }
  if (!status.ok()) {
    std::cerr << "create study: " << status.error_message() << "\n";
    return 1;
  }
  // The study's lease, which may be another trainer's choice: heartbeats follow it.
  const std::chrono::milliseconds lease =
      sanas::DurationMs(created.study().config().lease_duration());
  if (lease.count() <= 0) {
    std::cerr << "study " << study_id << ": the controller reported no lease_duration\n";
    return 1;
  }

  sanas::v1::SuggestTrialRequest suggest;
  suggest.set_study_id(study_id);
  suggest.set_client_id(client_id);
  sanas::v1::Trial trial;
  // Asks for a trial into `trial`; false (with `status` set) when none came.
  auto suggest_trial = [&]() {
    // One id for the call and all its retries: a retry after a lost answer gets the trial
    // the first attempt issued, not a second one.
    suggest.set_request_id(sanas::NewRequestId());
    sanas::v1::SuggestTrialResponse suggested;
    status = WithRetry(
        [&](grpc::ClientContext* ctx) { return stub->SuggestTrial(ctx, suggest, &suggested); },
        "SuggestTrial");
    trial = suggested.trial();
    return status.ok();
  };
  bool have_trial = suggest_trial();
  int completed = 0, stopped = 0;
  long long saved = 0;
  while (have_trial) {
    sanas::LeaseKeeper lease_keeper(stub.get(), trial, client_id, lease / 3);
    double value = Reward(trial.tokens());
    for (long long epoch = 1; epoch <= epochs; ++epoch) {
      std::this_thread::sleep_for(std::chrono::duration<double>(train_seconds / epochs));
      value = Curve(trial.tokens(), epoch, epochs);
      sanas::v1::ReportTrialProgressRequest report;
      sanas::Bind(trial, &report);
      report.set_step(epoch);
      report.set_value(value);
      report.set_max_step(epochs);
      report.set_client_id(client_id);
      sanas::v1::ReportTrialProgressResponse progress;
      // A retry repeats the same step and value, which the controller answers as the
      // first time (ReportTrialProgress is idempotent).
      status = WithRetry(
          [&](grpc::ClientContext* ctx) {
            return stub->ReportTrialProgress(ctx, report, &progress);
          },
          "ReportTrialProgress");
      if (!status.ok()) break;
      if (progress.should_stop()) {  // stop training it: break out of the epochs
        std::cout << "trial " << trial.trial_id() << " stopped after epoch " << epoch << " of "
                  << epochs << ": " << progress.trial().stop_reason() << "\n";
        ++stopped;
        saved += epochs - epoch;
        break;
      }
    }
    sanas::v1::CompleteTrialResponse done;
    if (status.ok()) {
      // A stopped trial is finished already; completing it anyway with its last value (as a
      // PaddleSlim script's reward() after `break` does) is accepted, changes nothing, and
      // asks for the next trial in the same call.
      // Bound to the trial, and one request id across retries: a retry after a lost answer
      // gets the first answer, with the same next trial.
      sanas::v1::CompleteTrialRequest complete;
      sanas::Bind(trial, &complete);
      complete.set_reward(value);
      complete.set_suggest_next(true);
      complete.set_client_id(client_id);
      complete.set_request_id(sanas::NewRequestId());
      status = WithRetry(
          [&](grpc::ClientContext* ctx) { return stub->CompleteTrial(ctx, complete, &done); },
          "CompleteTrial");
    }
    lease_keeper.Stop();  // after the report: the lease is kept while CompleteTrial is retried
    if (status.ok()) {
      ++completed;
      have_trial = done.has_next_trial();  // false once the budget is spent
      trial = done.next_trial();
    } else if (sanas::IsTrialStale(status)) {
      // The study was created again, or restored from a backup, since the trial was issued:
      // its result was not recorded anywhere. Drop it and train a new one.
      std::cerr << "trial " << trial.trial_id() << ": dropped, the study no longer has it ("
                << sanas::ErrorReason(status) << "): " << status.error_message() << "\n";
      have_trial = suggest_trial();
    } else if (sanas::IsTrialLost(status)) {
      // Our lease ran out (the trainer was paused, or cut off from the controller) and
      // another trainer has the trial now: leave it to them and train a new one.
      std::cerr << "trial " << trial.trial_id() << ": left to another trainer ("
                << sanas::ErrorReason(status) << ")\n";
      have_trial = suggest_trial();
    } else {
      break;
    }
  }
  if (!status.ok() && !sanas::IsSearchFinished(status)) {
    std::cerr << "search failed (" << sanas::ErrorReason(status) << "): "
              << status.error_message() << "\n";
    return 1;
  }

  sanas::v1::GetStudyRequest get;
  get.set_study_id(study_id);
  sanas::v1::GetStudyResponse got;
  status = WithRetry([&](grpc::ClientContext* ctx) { return stub->GetStudy(ctx, get, &got); },
                     "GetStudy");
  if (!status.ok()) {
    std::cerr << "get study: " << status.error_message() << "\n";
    return 1;
  }
  std::cout << "completed " << completed << " trials; study "
            << sanas::v1::StudyState_Name(got.study().state()) << ": best reward "
            << got.study().best_reward() << ", best tokens [";
  for (int i = 0; i < got.study().best_tokens_size(); ++i) {
    std::cout << (i ? " " : "") << got.study().best_tokens(i);
  }
  std::cout << "]\n";
  std::cout << "stopped early: " << stopped << " trials, " << saved << " epochs saved\n";
  return 0;
}
