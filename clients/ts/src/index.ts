// A typed client of sanas.v1.ControllerService for Node, on @grpc/grpc-js. The service is
// loaded at run time from the .proto shipped in this package (proto/); the types in
// src/generated come from proto-loader-gen-types (`make stubs`).
import { randomUUID } from "crypto";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import * as protobuf from "protobufjs";
import type { ProtoGrpcType } from "./generated/sanas";
import type { ControllerServiceClient } from "./generated/sanas/v1/ControllerService";
import type { Duration__Output } from "./generated/google/protobuf/Duration";
import type { HeartbeatTrialRequest } from "./generated/sanas/v1/HeartbeatTrialRequest";
import type { Trial__Output } from "./generated/sanas/v1/Trial";

export type { ControllerServiceClient };
export * from "./generated/sanas/v1/Trial";
export * from "./generated/sanas/v1/Study";
export * from "./generated/sanas/v1/StudyConfig";

const PROTO = path.join(__dirname, "..", "proto", "sanas", "v1", "sanas.proto");

// Same loader options as the type generation: 64-bit integers as strings, enums as names.
export const LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(__dirname, "..", "proto")],
};

// Reconnect within about a second once a restarted controller listens again (gRPC's
// default backoff grows to two minutes), as the Python client does.
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.min_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
};

export function connect(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = CHANNEL_OPTIONS,
): ControllerServiceClient {
  const definition = protoLoader.loadSync(PROTO, LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return new loaded.sanas.v1.ControllerService(address, credentials, options);
}

// Promise form of a unary call: `await unary(cb => client.GetStudy(req, cb))`.
export function unary<T>(
  invoke: (callback: (err: grpc.ServiceError | null, value?: T) => void) => unknown,
): Promise<T> {
  return new Promise((resolve, reject) => {
    invoke((err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

// google.rpc.Status and ErrorInfo, the AIP-193 error model the controller sends in the
// standard `grpc-status-details-bin` trailer.
const rpcTypes = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: { Any: { fields: { type_url: { type: "string", id: 1 }, value: { type: "bytes", id: 2 } } } },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: "int32", id: 1 },
                message: { type: "string", id: 2 },
                details: { rule: "repeated", type: "google.protobuf.Any", id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: "string", id: 1 },
                domain: { type: "string", id: 2 },
              },
            },
          },
        },
      },
    },
  },
});
const StatusType = rpcTypes.lookupType("google.rpc.Status");
const ErrorInfoType = rpcTypes.lookupType("google.rpc.ErrorInfo");

// The sanas.v1.ErrorReason name of a controller error ("" when it carries none).
export function errorReason(err: grpc.ServiceError): string {
  const raw = err.metadata?.get("grpc-status-details-bin")?.[0];
  if (!(raw instanceof Buffer)) return "";
  const status = StatusType.decode(raw) as unknown as { details: { type_url: string; value: Uint8Array }[] };
  for (const detail of status.details) {
    if (detail.type_url.endsWith("/google.rpc.ErrorInfo")) {
      const info = ErrorInfoType.decode(detail.value) as unknown as { reason: string; domain: string };
      if (info.domain === "sanas.v1") return info.reason;
    }
  }
  return "";
}

export function isSearchFinished(err: grpc.ServiceError): boolean {
  const reason = errorReason(err);
  return reason === "ERROR_REASON_BUDGET_EXHAUSTED" || reason === "ERROR_REASON_SPACE_EXHAUSTED";
}

// Whether the trial is no longer the caller's to train: its lease ran out and another
// trainer holds it now (TRIAL_NOT_HELD), or that trainer already completed it
// (TRIAL_ALREADY_COMPLETED), or the study no longer has it at all (STALE_TRIAL, see
// isTrialStale). Stop training it and ask for a new trial.
export function isTrialLost(err: grpc.ServiceError): boolean {
  const reason = errorReason(err);
  return (
    reason === "ERROR_REASON_TRIAL_NOT_HELD" ||
    reason === "ERROR_REASON_TRIAL_ALREADY_COMPLETED" ||
    reason === "ERROR_REASON_STALE_TRIAL"
  );
}

// Whether the call was refused because the study no longer has the trial it is bound to
// (STALE_TRIAL): the study was deleted and created again since the trial was issued, or
// its checkpoint folder was restored from a backup and the trial has other tokens now.
// Nothing was recorded: drop the trial's result and ask for a new trial.
export function isTrialStale(err: grpc.ServiceError): boolean {
  return errorReason(err) === "ERROR_REASON_STALE_TRIAL";
}

// The fields that bind a call about `trial` to the trial as the controller issued it
// (from SuggestTrial or CompleteTrial's nextTrial): spread them into every
// CompleteTrial, ReportTrialProgress, HeartbeatTrial and SkipTrial request about it, so
// a study created again (or restored from a backup) since refuses it with STALE_TRIAL
// instead of recording a result against another network.
export function bindingOf(trial: Trial__Output): { studyUid: string; trialFingerprint: string } {
  return { studyUid: trial.studyUid, trialFingerprint: trial.fingerprint };
}

// A fresh AIP-155 request id. Choose one per logical SuggestTrial / CompleteTrial call and
// reuse it on every retry, so a retry after a lost response gets the first answer instead
// of issuing a second trial.
export function newRequestId(): string {
  return randomUUID();
}

// How long retry() keeps retrying: 600 s, as the Python client's retry_timeout, so a
// trainer in any language rides through the same controller restart.
export const DEFAULT_RETRY_TIMEOUT_MS = 600_000;

// Runs `call` until it succeeds, fails with an error that is not retryable (see
// isRetryable), or the next wait would end after `timeoutMs`; waits back off from 100 ms
// to 5 s, each logged as a warning.
export async function retry<T>(
  call: () => Promise<T>,
  what: string,
  timeoutMs: number = DEFAULT_RETRY_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (!isRetryable(e) || Date.now() + delay > deadline) throw err;
      console.warn(
        `warning: ${what}: controller unavailable (${grpc.status[e.code]}: ${e.details}); ` +
          `retrying in ${delay / 1000} s, for up to ${timeoutMs / 1000} s in all`,
      );
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

export function isRetryable(err: grpc.ServiceError): boolean {
  return err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED;
}

// A google.protobuf.Duration (a study's lease_duration) in milliseconds; 0 when unset.
export function durationMs(duration: Duration__Output | null | undefined): number {
  return duration ? Number(duration.seconds) * 1000 + duration.nanos / 1e6 : 0;
}

// Renews a trial's lease every `intervalMs` while the trainer trains (a third of the
// study's lease, so one lost beat does not cost the trial). Await the returned stop()
// once the trial is reported: it cancels a beat in flight, so none outlives the trial.
// The request should carry the trial's binding (bindingOf); a beat refused as stale ends
// the renewals.
export function keepAlive(
  client: ControllerServiceClient,
  request: HeartbeatTrialRequest,
  intervalMs: number,
): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let call: grpc.ClientUnaryCall | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const schedule = (): void => {
    if (!stopped) timer = setTimeout(beat, intervalMs);
  };
  const beat = (): void => {
    const options = { deadline: Date.now() + intervalMs }; // a slow beat gives way to the next
    inFlight = unary((cb) => (call = client.HeartbeatTrial(request, options, cb))).then(
      () => schedule(),
      (err: grpc.ServiceError) => {
        // Reported (by us, or by another trainer after our lease ran out), or gone with
        // its study: nothing to keep.
        if (stopped || errorReason(err) === "ERROR_REASON_TRIAL_ALREADY_COMPLETED") return;
        if (isTrialStale(err)) return;
        console.warn(`warning: heartbeat of trial ${request.trialId} failed: ${err.details}`);
        schedule(); // keep beating: the controller may be restarting
      },
    );
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    call?.cancel();
    await inFlight;
  };
}
