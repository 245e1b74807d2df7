// @bitrag/client: a typed Node.js client for the bitrag gRPC API (proto/bitrag/v1/bitrag.proto).
export { BitragClient, DEFAULT_TARGET } from "./client";
export type { ClientOptions, TlsOptions } from "./client";
export {
  AlreadyExistsError, BitragError, DeadlineExceededError, FailedPreconditionError, InternalError,
  InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError, UnauthenticatedError,
  UnavailableError, decodeRichStatus, fromServiceError,
} from "./errors";
export type { FieldViolation, RichStatus } from "./errors";
export { objectToStruct, structToObject, vectorBytes } from "./convert";
export type * from "./types";
