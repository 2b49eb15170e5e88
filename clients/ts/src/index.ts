// A typed client of sanas.v1.ControllerService for Node, on @grpc/grpc-js. The service is
// loaded at run time from the .proto shipped in this package (proto/); the types in
// src/generated come from proto-loader-gen-types (`make stubs`).
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import * as protobuf from "protobufjs";
import type { ProtoGrpcType } from "./generated/sanas";
import type { ControllerServiceClient } from "./generated/sanas/v1/ControllerService";
import type { Duration__Output } from "./generated/google/protobuf/Duration";
import type { HeartbeatTrialRequest } from "./generated/sanas/v1/HeartbeatTrialRequest";

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

export function connect(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): ControllerServiceClient {
  const definition = protoLoader.loadSync(PROTO, LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  return new loaded.sanas.v1.ControllerService(address, credentials);
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
// (TRIAL_ALREADY_COMPLETED). Stop training it and ask for a new trial.
export function isTrialLost(err: grpc.ServiceError): boolean {
  const reason = errorReason(err);
  return (
    reason === "ERROR_REASON_TRIAL_NOT_HELD" || reason === "ERROR_REASON_TRIAL_ALREADY_COMPLETED"
  );
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
        // Reported (by us, or by another trainer after our lease ran out): nothing to keep.
        if (stopped || errorReason(err) === "ERROR_REASON_TRIAL_ALREADY_COMPLETED") return;
        console.error(`heartbeat of trial ${request.trialId} failed: ${err.details}`);
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
