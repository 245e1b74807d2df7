// Typed errors, mapped in one place (`fromServiceError`) from a gRPC status and its details: the
// standard rich status (`grpc-status-details-bin`: google.rpc.Status with google.rpc.BadRequest and
// google.rpc.RetryInfo), else the legacy `bitrag-field` / `bitrag-retry-after-ms` trailers.

import * as path from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protobuf from "protobufjs";

export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
export const FIELD_KEY = "bitrag-field";
export const RETRY_AFTER_KEY = "bitrag-retry-after-ms";
export const PROTO_DIR = path.resolve(__dirname, "..", "..", "proto");

/** One google.rpc.BadRequest field violation. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** A bitrag call failed. `code` is the gRPC status, `field` the request field at fault ("" if
 * none), `retryAfterMs` the server's suggested wait before a retry (or null). */
export class BitragError extends Error {
  readonly code: grpc.status;
  readonly codeName: string;
  readonly field: string;
  readonly retryAfterMs: number | null;
  readonly violations: FieldViolation[];
  /** The call's trailing metadata (the raw rich status is under `grpc-status-details-bin`). */
  readonly metadata: grpc.Metadata | null;

  constructor(message: string, opts: { code: grpc.status; field?: string; retryAfterMs?: number | null;
                                       violations?: FieldViolation[]; metadata?: grpc.Metadata | null }) {
    super(message);
    this.name = new.target.name;
    this.code = opts.code;
    this.codeName = grpc.status[opts.code] ?? String(opts.code);
    this.field = opts.field ?? "";
    this.retryAfterMs = opts.retryAfterMs ?? null;
    this.violations = opts.violations ?? [];
    this.metadata = opts.metadata ?? null;
  }
}

export class InvalidArgumentError extends BitragError {}
export class NotFoundError extends BitragError {}
export class AlreadyExistsError extends BitragError {}
export class ResourceExhaustedError extends BitragError {}
export class FailedPreconditionError extends BitragError {}
export class UnavailableError extends BitragError {}
export class DeadlineExceededError extends BitragError {}
export class InternalError extends BitragError {}
export class UnauthenticatedError extends BitragError {}
export class PermissionDeniedError extends BitragError {}

const BY_CODE: Partial<Record<grpc.status, typeof BitragError>> = {
  [grpc.status.INVALID_ARGUMENT]: InvalidArgumentError,
  [grpc.status.NOT_FOUND]: NotFoundError,
  [grpc.status.ALREADY_EXISTS]: AlreadyExistsError,
  [grpc.status.RESOURCE_EXHAUSTED]: ResourceExhaustedError,
  [grpc.status.FAILED_PRECONDITION]: FailedPreconditionError,
  [grpc.status.UNAVAILABLE]: UnavailableError,
  [grpc.status.DEADLINE_EXCEEDED]: DeadlineExceededError,
  [grpc.status.INTERNAL]: InternalError,
  [grpc.status.UNAUTHENTICATED]: UnauthenticatedError,
  [grpc.status.PERMISSION_DENIED]: PermissionDeniedError,
};

let root: protobuf.Root | null = null;

function rpcTypes(): protobuf.Root {
  if (root === null) {
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) =>
      target.startsWith("google/protobuf/") ? target : path.join(PROTO_DIR, target);
    root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
  }
  return root;
}

/** The decoded google.rpc.Status of a call: code, message and its known details. */
export interface RichStatus {
  code: number;
  message: string;
  violations: FieldViolation[];
  retryDelayMs: number | null;
  typeUrls: string[];
}

export function decodeRichStatus(raw: Buffer): RichStatus {
  const types = rpcTypes();
  const status = types.lookupType("google.rpc.Status").toObject(
    types.lookupType("google.rpc.Status").decode(raw), { longs: Number, defaults: true },
  ) as { code: number; message: string; details: { type_url: string; value: Uint8Array }[] };
  const out: RichStatus = { code: status.code, message: status.message, violations: [], retryDelayMs: null, typeUrls: [] };
  for (const any of status.details) {
    out.typeUrls.push(any.type_url);
    const name = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
    if (name === "google.rpc.BadRequest") {
      const t = types.lookupType(name);
      const bad = t.toObject(t.decode(any.value), { defaults: true }) as { field_violations: FieldViolation[] };
      out.violations.push(...bad.field_violations.map((v) => ({ field: v.field, description: v.description })));
    } else if (name === "google.rpc.RetryInfo") {
      const t = types.lookupType(name);
      const info = t.toObject(t.decode(any.value), { longs: Number, defaults: true }) as
        { retry_delay?: { seconds: number; nanos: number } };
      const d = info.retry_delay ?? { seconds: 0, nanos: 0 };
      out.retryDelayMs = d.seconds * 1000 + Math.round(d.nanos / 1e6);
    }
  }
  return out;
}

function first(md: grpc.Metadata | undefined, key: string): string | Buffer | undefined {
  return md?.get(key)[0];
}

/** A grpc-js ServiceError (or any error) -> the matching BitragError subclass. */
export function fromServiceError(err: unknown): BitragError {
  if (err instanceof BitragError) return err;
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code !== "number") {
    return new BitragError(String((err as Error)?.message ?? err), { code: grpc.status.UNKNOWN });
  }
  const code = e.code as grpc.status;
  let field = "";
  let retryAfterMs: number | null = null;
  let violations: FieldViolation[] = [];
  const raw = first(e.metadata, STATUS_DETAILS_KEY);
  let rich: RichStatus | null = null;
  if (Buffer.isBuffer(raw)) {
    try {
      rich = decodeRichStatus(raw);
    } catch {
      rich = null; // undecodable details: fall back to the legacy trailers
    }
    if (rich && rich.code !== code) rich = null; // rewritten by a proxy: not about this status
  }
  if (rich) {
    violations = rich.violations;
    field = violations[0]?.field ?? "";
    retryAfterMs = rich.retryDelayMs;
  }
  const legacyField = first(e.metadata, FIELD_KEY);
  if (!field && legacyField !== undefined) field = legacyField.toString();
  const legacyRetry = first(e.metadata, RETRY_AFTER_KEY);
  if (retryAfterMs === null && legacyRetry !== undefined) {
    const ms = Number(legacyRetry.toString());
    if (Number.isFinite(ms)) retryAfterMs = ms;
  }
  const Cls = BY_CODE[code] ?? BitragError;
  return new Cls(e.details || grpc.status[code] || String(code), {
    code, field, retryAfterMs, violations, metadata: e.metadata ?? null,
  });
}
