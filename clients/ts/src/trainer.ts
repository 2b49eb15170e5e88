// Example sanas trainer in TypeScript: creates (or joins) a study over a custom token
// space, runs SuggestTrial / CompleteTrial with a synthetic reward until the budget is
// spent, and prints the best result. While a trial "trains" (--train-seconds, to simulate
// a real training step) it heartbeats the trial three times per lease, and after each of
// --epochs epochs it reports the trial's progress, stopping early when the study's rule
// says so. A trial whose lease ran out and went to another trainer (TRIAL_NOT_HELD) is
// left to it. With --median-stop-start E a study it creates stops trials by the median
// rule from epoch E.
// usage: node dist/trainer.js [--addr host:port] [--study ID] [--steps N]
//          [--lease-seconds S] [--train-seconds S] [--client-id NAME] [--epochs N]
//          [--median-stop-start EPOCH]
import * as grpc from "@grpc/grpc-js";
import {
  connect,
  durationMs,
  errorReason,
  isRetryable,
  isSearchFinished,
  isTrialLost,
  keepAlive,
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

async function withRetry<T>(call: () => Promise<T>): Promise<T> {
  let delay = 100;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isRetryable(err as grpc.ServiceError) || attempt === 8) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
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
  if (!(Number.isInteger(epochs) && epochs >= 1)) {
    console.error(`--epochs ${epochs}: must be at least 1`);
    return 1;
  }
  const client = connect(address);
  const deadline = () => ({ deadline: Date.now() + 30_000 });
  let leaseMs = 0;
  try {
    const created = await withRetry(() =>
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
  const suggest = async (): Promise<Trial__Output | null> =>
    (
      await withRetry(() =>
        unary<SuggestTrialResponse__Output>((cb) =>
          client.SuggestTrial({ studyId, clientId }, deadline(), cb),
        ),
      )
    ).trial;
  // "Trains" a trial for `epochs` epochs, reporting its value after each; returns its last
  // value and the epoch it ended at, and the trial as the controller returned it when the
  // study's stopping rule said to stop (with its stop_reason).
  const train = async (current: Trial__Output) => {
    let value = reward(current.tokens);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      await new Promise((r) => setTimeout(r, trainMs / epochs));
      value = curve(current.tokens, epoch, epochs);
      const reported = value;
      const progress = await withRetry(() =>
        unary<ReportTrialProgressResponse__Output>((cb) =>
          client.ReportTrialProgress(
            {
              studyId,
              trialId: current.trialId,
              step: String(epoch),
              value: reported,
              maxStep: String(epochs),
              clientId,
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
      const stop = keepAlive(client, { studyId, trialId: current.trialId, clientId }, leaseMs / 3);
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
        const done = await withRetry(() =>
          unary<CompleteTrialResponse__Output>((cb) =>
            client.CompleteTrial(
              { studyId, trialId: current.trialId, reward: value, suggestNext: true, clientId },
              deadline(),
              cb,
            ),
          ),
        ).finally(stop); // after the report: the lease is kept while CompleteTrial is retried
        completed++;
        trial = done.nextTrial; // null once the budget is spent
      } catch (err) {
        await stop();
        const e = err as grpc.ServiceError;
        if (!isTrialLost(e)) throw err;
        // Our lease ran out (the trainer was paused, or cut off from the controller) and
        // another trainer has the trial now: leave it to them and train a new one.
        console.error(`trial ${current.trialId}: left to another trainer (${errorReason(e)})`);
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
  const { study } = await withRetry(() =>
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
