import { status } from '@grpc/grpc-js';
import {
  AlreadyExistsError,
  assert,
  AssertionError,
  AuthenticationError,
  CertificateError,
  ChainError,
  EncodingError,
  FatalError,
  LimitError,
  MembershipError,
  NotFoundError,
  PermissionError,
  PreconditionError,
  SignatureError,
  TongxingError,
  UnavailableError,
  UnreachableError,
  ValidationError,
} from '../federation/errors.js';
import type { ApiError } from './api/client.js';
import { exitNegative, exitUsage } from './cli/command.js';

// The one table from an error's kind to what every edge answers: the gRPC
// status of the client API and the peer API (PeerService,
// EvaluationPeerService), the HTTP status of the HTTP/JSON API, and the exit
// code of the CLI when its call fails with that status. An error answers by
// the nearest class in its prototype chain that has a row, so a node-only
// subclass (NotHomeNodeError is a PreconditionError) answers as its kind.
// docs/ARCHITECTURE.md ("Errors") shows the table (errorTableMarkdown).

export interface ErrorStatus {
  readonly grpc: status;
  /** The body's `code` is the gRPC status name, the same a gRPC client sees. */
  readonly http: number;
  /** Refusals are negative answers (1); bad input, or no answer at all, is 2. */
  readonly exit: number;
}

type ErrorClass = abstract new (...args: never[]) => Error;

const invalid: ErrorStatus = { grpc: status.INVALID_ARGUMENT, http: 400, exit: exitUsage };
const precondition: ErrorStatus = { grpc: status.FAILED_PRECONDITION, http: 409, exit: exitNegative };
const unavailable: ErrorStatus = { grpc: status.UNAVAILABLE, http: 503, exit: exitUsage };
/** A bug or a broken environment, and any error without a row: the details carry the error's name. */
const internal: ErrorStatus = { grpc: status.INTERNAL, http: 500, exit: exitUsage };

export const errorTable: ReadonlyMap<ErrorClass, ErrorStatus> = new Map<ErrorClass, ErrorStatus>([
  [ValidationError, invalid],
  [EncodingError, invalid],
  // Data in a request that does not verify is the sender's fault: the client API answered INTERNAL, as for a bug here.
  [SignatureError, invalid],
  [CertificateError, invalid],
  [ChainError, invalid],
  [LimitError, { grpc: status.RESOURCE_EXHAUSTED, http: 429, exit: exitUsage }],
  [AlreadyExistsError, { grpc: status.ALREADY_EXISTS, http: 409, exit: exitNegative }],
  [NotFoundError, { grpc: status.NOT_FOUND, http: 404, exit: exitNegative }],
  [PreconditionError, precondition],
  // The alliance's state refuses it (this node not yet admitted, not an admin) until governance changes it; a caller refused for who it is is a PermissionError (the peer API answered PERMISSION_DENIED).
  [MembershipError, precondition],
  [AuthenticationError, { grpc: status.UNAUTHENTICATED, http: 401, exit: exitUsage }],
  [PermissionError, { grpc: status.PERMISSION_DENIED, http: 403, exit: exitNegative }],
  [UnavailableError, unavailable],
  // A node that could not reach another tells its caller what a node that cannot serve does: not now, retry.
  [UnreachableError, unavailable],
  // The store failed: the node is stopping; a caller retries elsewhere or later.
  [FatalError, unavailable],
  [TongxingError, internal],
  [AssertionError, internal],
]);

function rowOf(error: unknown): ErrorStatus {
  for (let prototype = error instanceof Error ? Object.getPrototypeOf(error) : null; prototype !== null; prototype = Object.getPrototypeOf(prototype)) {
    const row = errorTable.get(prototype.constructor);
    if (row) return row;
  }
  return internal;
}

/**
 * The status every gRPC server answers for `error`. Details are the
 * message ("field: reason" for a ValidationError); for INTERNAL they
 * start with the error's name, since the caller cannot tell it otherwise.
 */
export function statusOf(error: unknown): { code: status; details: string } {
  const row = rowOf(error);
  const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
  return { code: row.grpc, details: row === internal ? `${name}: ${message}` : message };
}

/** The HTTP status the HTTP/JSON API answers for `error` (refusals at the HTTP layer itself carry their own). */
export function httpStatusOf(error: unknown): number {
  return rowOf(error).http;
}

/** The exit code for each gRPC status a row answers; the table must not give one status two exit codes. */
const exitByGrpc = new Map<status, number>();
for (const row of errorTable.values()) {
  const known = exitByGrpc.get(row.grpc);
  assert(known === undefined || known === row.exit, `error table: ${status[row.grpc]} has exit codes ${known} and ${row.exit}`);
  exitByGrpc.set(row.grpc, row.exit);
}

/**
 * The CLI's exit code for a call that failed with `error`, by the status the
 * node answered. A node that cannot be reached is UNAVAILABLE from the channel
 * (the unreachable row); a status no row gives (DEADLINE_EXCEEDED, CANCELLED,
 * UNIMPLEMENTED) is no answer either: exitUsage.
 */
export function exitCodeOf(error: ApiError): number {
  return exitByGrpc.get(status[error.code]) ?? exitUsage;
}

/** The table as docs/ARCHITECTURE.md shows it (regenerate with `npx tsx scripts/errors-doc.ts`). */
export function errorTableMarkdown(): string {
  const line = (error: string, row: ErrorStatus) => `| ${error} | \`${status[row.grpc]}\` | ${row.http} | ${row.exit} |\n`;
  return (
    '| error | gRPC | HTTP | CLI exit |\n| --- | --- | --- | --- |\n' +
    [...errorTable].map(([error, row]) => line(`\`${error.name}\``, row)).join('') +
    line('any other error', internal)
  );
}
