// Example sanas trainer in TypeScript: creates (or joins) a study over a custom token
// space, runs SuggestTrial / CompleteTrial with a synthetic reward until the budget is
// spent, and prints the best result. While a trial "trains" (--train-seconds, to simulate
// a real training step) it heartbeats the trial three times per lease, and after each of
// --epochs epochs it reports the trial's progress, stopping early when the study's rule
// says so. A trial whose lease ran out and went to another trainer (TRIAL_NOT_HELD) is
// left to it. With --median-stop-start E a study it creates stops trials by the median
// rule from epoch E.
// Every call about a trial carries the trial's studyUid and fingerprint, so a study
// created again or restored from a backup meanwhile refuses it (STALE_TRIAL) and the
// trainer drops that trial for a new one. Calls are retried through a controller outage
// for up to --retry-timeout (600 s, as the Python client), with a warning per wait;
// SuggestTrial and CompleteTrial carry a requestId kept across their retries (AIP-155),
// so a lost response never issues a second trial.
// usage: node dist/trainer.js [--addr host:port] [--study ID] [--steps N]
//          [--lease-seconds S] [--train-seconds S] [--client-id NAME] [--epochs N]
//          [--median-stop-start EPOCH] [--retry-timeout S]
import * as grpc from "@grpc/grpc-js";
import {
  bindingOf,
  connect,
  DEFAULT_RETRY_TIMEOUT_MS,
  durationMs,
  errorReason,
  isSearchFinished,
  isTrialLost,
  isTrialStale,
  keepAlive,
  newRequestId,
  retry,
  unary,
} from "./index";
import type { CompleteTrialResponse__Output } from "./generated/sanas/v1/CompleteTrialResponse";
import type { CreateStudyResponse__Output } from "./generated/sanas/v1/CreateStudyResponse";
import type { GetStudyResponse__Output } from "./generated/sanas/v1/GetStudyResponse";
import type { ReportTrialProgressResponse__Output } from "./generated/sanas/v1/ReportTrialProgressResponse";
import type { SuggestTrialResponse__Output } from "./generated/sanas/v1/SuggestTrialResponse";
import type { Trial__Output } from "./generated/sanas/v1/Trial";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// Synthetic score with its optimum at every token = 4.
function reward(tokens: number[]): number {
  return -tokens.reduce((s, t) => s + (t - 4) * (t - 4), 0);
}

// Synthetic value after epoch k of `epochs`: rising to the reward at the end.
function curve(tokens: number[], k: number, epochs: number): number {
  return reward(tokens) - (epochs - k);
}

function durationOf(seconds: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(seconds), nanos: Math.round((seconds % 1) * 1e9) };
}

async function main(): Promise<number> {
  const address = arg("addr", "127.0.0.1:8881");
  const studyId = arg("study", "ts-example");
  const steps = arg("steps", "50");
  const leaseSeconds = Number(arg("lease-seconds", "0")); // 0: the controller's default
  const trainMs = Number(arg("train-seconds", "0")) * 1000;
  const clientId = arg("client-id", "ts-trainer");
  const epochs = Number(arg("epochs", "5")); // --train-seconds split evenly
  const medianStart = Number(arg("median-stop-start", "-1")); // -1: no early stopping
  const retryMs = Number(arg("retry-timeout", String(DEFAULT_RETRY_TIMEOUT_MS / 1000))) * 1000;
  const withRetry = <T>(what: string, call: () => Promise<T>): Promise<T> =>
    retry(call, what, retryMs);
  if (!(Number.isInteger(epochs) && epochs >= 1)) {
    console.error(`--epochs ${epochs}: must be at least 1`);
    return 1;
  }
  const client = connect(address);
  const deadline = () => ({ deadline: Date.now() + 30_000 });
  let leaseMs = 0;
  try {
    const created = await withRetry("CreateStudy", () =>
      unary<CreateStudyResponse__Output>((cb) =>
        client.CreateStudy(
          {
            studyId,
            config: {
              searchSpaces: [{ key: "custom", rangeTable: [9, 9, 9, 9, 9, 9] }],
              searchSteps: steps,
              seed: "1",
              ...(leaseSeconds > 0 ? { leaseDuration: durationOf(leaseSeconds) } : {}),
              ...(medianStart >= 0
                ? { earlyStopping: { median: { startStep: String(medianStart), minTrials: 2 } } }
                : {}),
            },
          },
          deadline(),
          cb,
        ),
      ),
    );
    // The study's lease, which may be another trainer's choice: heartbeats follow it.
    leaseMs = durationMs(created.study?.config?.leaseDuration);
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code === grpc.status.ALREADY_EXISTS) {
      console.error(`study ${studyId} exists with another config: ${e.details}`);
      return 1;
    }
    throw err;
  }
  if (leaseMs <= 0) {
    console.error(`study ${studyId}: the controller reported no lease_duration`);
    return 1;
  }

  let completed = 0;
  let stopped = 0;
  let saved = 0;
  let trial: Trial__Output | null = null;
  const suggest = async (): Promise<Trial__Output | null> => {
    // One id for the call and all its retries: a retry after a lost answer gets the trial
    // the first attempt issued, not a second one.
    const request = { studyId, clientId, requestId: newRequestId() };
    const suggested = await withRetry("SuggestTrial", () =>
      unary<SuggestTrialResponse__Output>((cb) => client.SuggestTrial(request, deadline(), cb)),
    );
    return suggested.trial;
  };
  // "Trains" a trial for `epochs` epochs, reporting its value after each; returns its last
  // value and the epoch it ended at, and the trial as the controller returned it when the
  // study's stopping rule said to stop (with its stop_reason).
  const train = async (current: Trial__Output) => {
    let value = reward(current.tokens);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      await new Promise((r) => setTimeout(r, trainMs / epochs));
      value = curve(current.tokens, epoch, epochs);
      const reported = value;
      // A retry repeats the same step and value, which the controller answers as the
      // first time (ReportTrialProgress is idempotent).
      const progress = await withRetry("ReportTrialProgress", () =>
        unary<ReportTrialProgressResponse__Output>((cb) =>
          client.ReportTrialProgress(
            {
              studyId,
              trialId: current.trialId,
              step: String(epoch),
              value: reported,
              maxStep: String(epochs),
              clientId,
              ...bindingOf(current),
            },
            deadline(),
            cb,
          ),
        ),
      );
      if (progress.shouldStop) return { value, epoch, stopped: progress.trial };
    }
    return { value, epoch: epochs, stopped: null };
  };
  try {
    trial = await suggest();
    while (trial) {
      const current: Trial__Output = trial;
      const stop = keepAlive(
        client,
        { studyId, trialId: current.trialId, clientId, ...bindingOf(current) },
        leaseMs / 3,
      );
      try {
        const { value, epoch, stopped: stoppedTrial } = await train(current);
        if (stoppedTrial) {
          console.log(
            `trial ${current.trialId} stopped after epoch ${epoch} of ${epochs}: ` +
              stoppedTrial.stopReason,
          );
          stopped++;
          saved += epochs - epoch;
        }
        // A stopped trial is finished already; completing it anyway with its last value
        // (as a PaddleSlim script's reward() after `break` does) is accepted, changes
        // nothing, and asks for the next trial in the same call.
        // Bound to the trial, and one request id across retries: a retry after a lost answer
        // gets the first answer, with the same next trial.
        const request = {
          studyId,
          trialId: current.trialId,
          reward: value,
          suggestNext: true,
          clientId,
          requestId: newRequestId(),
          ...bindingOf(current),
        };
        const done = await withRetry("CompleteTrial", () =>
          unary<CompleteTrialResponse__Output>((cb) =>
            client.CompleteTrial(request, deadline(), cb),
          ),
        ).finally(stop); // after the report: the lease is kept while CompleteTrial is retried
        completed++;
        trial = done.nextTrial; // null once the budget is spent
      } catch (err) {
        await stop();
        const e = err as grpc.ServiceError;
        if (!isTrialLost(e)) throw err;
        if (isTrialStale(e)) {
          // The study was created again, or restored from a backup, since the trial was
          // issued: its result was not recorded anywhere. Drop it and train a new one.
          console.error(
            `trial ${current.trialId}: dropped, the study no longer has it ` +
              `(${errorReason(e)}): ${e.details}`,
          );
        } else {
          // Our lease ran out (the trainer was paused, or cut off from the controller) and
          // another trainer has the trial now: leave it to them and train a new one.
          console.error(`trial ${current.trialId}: left to another trainer (${errorReason(e)})`);
        }
        trial = await suggest();
      }
    }
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (!isSearchFinished(e)) {
      console.error(`search failed (${errorReason(e) || grpc.status[e.code]}): ${e.details}`);
      return 1;
    }
  }
  const { study } = await withRetry("GetStudy", () =>
    unary<GetStudyResponse__Output>((cb) => client.GetStudy({ studyId }, deadline(), cb)),
  );
  console.log(
    `completed ${completed} trials; study ${study?.state}: best reward ${study?.bestReward}, ` +
      `best tokens [${study?.bestTokens.join(" ")}]`,
  );
  console.log(`stopped early: ${stopped} trials, ${saved} epochs saved`);
  client.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
