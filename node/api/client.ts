import { Metadata, status, type CallOptions, type ChannelCredentials, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import {
  EntityServiceClient,
  NodeServiceClient,
  SanctionServiceClient,
  type BackupRequest,
  type BackupResponse,
  type CheckSanctionsRequest,
  type CheckSanctionsResponse,
  type GetEntityResponse,
  type GetStatusResponse,
  type IssueSanctionResponse,
  type LiftSanctionResponse,
  type RegisterEntityResponse,
  type UpdateEntityResponse,
} from '../../gen/tongxing/api/v1/api.js';
import type { EntityProfile, SanctionIssue, SanctionLift } from '../../gen/tongxing/records/v1/records.js';
import { TongxingError } from '../../federation/errors.js';
import { apiCallTimeoutMs, apiRequestBytesMax, apiResponseBytesMax, backupIdleTimeoutMs } from '../limits.js';
import { apiTlsServerName, findCredential, grpcCredentialsOf, type ClientCredential } from '../access/credential.js';
import { encodeOperator, operatorHeader } from '../access/guard.js';

// A promise-based client of one node's client API (node/api/server.ts), for
// the CLI and for tests. Every call has a deadline; every failure is an ApiError.
// Calls go over mutual TLS with a credential file's certificate: the one
// named, or the one a node on this machine published for the address
// (access/credential.ts).

/** Where `tongxing run` serves the client API unless configured otherwise, and where the CLI looks. */
export const defaultApiAddress = '127.0.0.1:7401';

/** gRPC status names, e.g. 'NOT_FOUND', as ApiError.code carries them. */
export type ApiCode = keyof typeof status;

/** A call that failed: the gRPC status the node answered (or the channel produced) and its details. */
export class ApiError extends TongxingError {
  override name = 'ApiError';
  constructor(
    /** The node's client API address, host:port. */
    readonly address: string,
    readonly code: ApiCode,
    readonly details: string,
  ) {
    super(`node at ${address}: ${code}: ${details}`);
  }
}

export interface ApiClientOptions {
  /** Deadline of each call; default apiCallTimeoutMs. */
  readonly callTimeoutMs?: number;
  /** Who calls; default findCredential(address) (TONGXING_CREDENTIAL, or what the node published). */
  readonly credential?: ClientCredential;
  /** The person at the screen, sent with every call (x-tongxing-operator) for the audit trail. */
  readonly operator?: string;
}

/** What a channel to the client API is made with: the credential's mutual TLS, and the message bounds. */
export interface ApiChannel {
  readonly credential: ClientCredential;
  readonly credentials: ChannelCredentials;
  readonly options: Record<string, string | number>;
  readonly metadata: () => Metadata;
}

/**
 * Channel options of every client API client: requests and answers as large as the node allows, and a
 * fixed TLS server name (the node's certificate is pinned, and an IP address is not a valid SNI).
 */
const channelOptions = {
  'grpc.max_receive_message_length': apiResponseBytesMax,
  'grpc.max_send_message_length': apiRequestBytesMax,
  'grpc.ssl_target_name_override': apiTlsServerName,
};

export function apiChannel(address: string, options: ApiClientOptions = {}): ApiChannel {
  const credential = options.credential ?? findCredential(address);
  return {
    credential,
    credentials: grpcCredentialsOf(credential),
    options: channelOptions,
    metadata: () => {
      const metadata = new Metadata();
      if (options.operator) metadata.set(operatorHeader, encodeOperator(options.operator));
      return metadata;
    },
  };
}

export interface ApiClient {
  readonly address: string;
  registerEntity(profile: EntityProfile): Promise<RegisterEntityResponse>;
  /** The whole new profile of an entity homed at this node. */
  updateEntity(profile: EntityProfile): Promise<UpdateEntityResponse>;
  /** Resolves with found = false when the node knows no such entity. */
  getEntity(uscc: string): Promise<GetEntityResponse>;
  issueSanction(sanction: SanctionIssue): Promise<IssueSanctionResponse>;
  liftSanction(lift: SanctionLift): Promise<LiftSanctionResponse>;
  /** A USCC (checked now), or exactly one of uscc and expertRef with atMs (0 or absent: now). */
  checkSanctions(request: string | { uscc?: string; expertRef?: string; atMs?: bigint; evidence?: boolean }): Promise<CheckSanctionsResponse>;
  getStatus(): Promise<GetStatusResponse>;
  /**
   * The node's backup stream (NodeService.Backup). No deadline: it ends when
   * the store is read; a silence of backupIdleTimeoutMs fails it (DEADLINE_EXCEEDED).
   */
  backup(request?: BackupRequest): AsyncIterable<BackupResponse>;
  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void;
}

/** A generated client's unary method, bound to its client. */
export type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall;

function toApiError(address: string, error: ServiceError): ApiError {
  const code = (status[error.code] as ApiCode | undefined) ?? 'UNKNOWN';
  return new ApiError(address, code, error.details || error.message);
}

/** One unary call with a deadline of `timeoutMs`; a failure becomes an ApiError. Used by every client of the client API. */
export function unaryCall<Request, Response>(address: string, method: UnaryMethod<Request, Response>, request: Request, timeoutMs = apiCallTimeoutMs, metadata = new Metadata()): Promise<Response> {
  return new Promise((resolve, reject) => {
    method(request, metadata, { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) reject(toApiError(address, error));
      else resolve(response);
    });
  });
}

/** Runs `use` with a client and closes it whatever happens. */
export async function using<Client extends { close(): void }, T>(client: Client, use: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** A client over one lazily connected channel: nothing is dialled until the first call. */
export function connectApi(address: string, options: ApiClientOptions = {}): ApiClient {
  const timeoutMs = options.callTimeoutMs ?? apiCallTimeoutMs;
  const channel = apiChannel(address, options);
  const entity = new EntityServiceClient(address, channel.credentials, channel.options);
  const shared = { channelOverride: entity.getChannel() };
  const sanction = new SanctionServiceClient(address, channel.credentials, shared);
  const node = new NodeServiceClient(address, channel.credentials, shared);

  const call = <Request, Response>(method: UnaryMethod<Request, Response>, request: Request): Promise<Response> => unaryCall(address, method, request, timeoutMs, channel.metadata());

  return {
    address,
    registerEntity: (profile) => call(entity.registerEntity.bind(entity), { profile }),
    updateEntity: (profile) => call(entity.updateEntity.bind(entity), { profile }),
    getEntity: (uscc) => call(entity.getEntity.bind(entity), { uscc }),
    issueSanction: (issue) => call(sanction.issueSanction.bind(sanction), { sanction: issue }),
    liftSanction: (lift) => call(sanction.liftSanction.bind(sanction), { lift }),
    checkSanctions: (subject) => {
      const request = typeof subject === 'string' ? { uscc: subject } : subject;
      const full: CheckSanctionsRequest = { uscc: request.uscc ?? '', expertRef: request.expertRef ?? '', atMs: request.atMs ?? 0n, evidence: request.evidence ?? false };
      return call(sanction.checkSanctions.bind(sanction), full);
    },
    getStatus: () => call(node.getStatus.bind(node), {}),
    backup: (request) => backupCall(address, node, request ?? { atMs: 0n, signature: Buffer.alloc(0) }, channel.metadata()),
    close: () => entity.close(),
  };
}

/** A server stream as an async iterable; a break or throw by the consumer cancels the call. */
async function* backupCall(address: string, node: NodeServiceClient, request: BackupRequest, metadata: Metadata): AsyncGenerator<BackupResponse> {
  const stream = node.backup(request, metadata);
  let idle: NodeJS.Timeout | undefined;
  let timedOut = false;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      timedOut = true;
      stream.cancel();
    }, backupIdleTimeoutMs);
  };
  try {
    arm();
    for await (const message of stream as AsyncIterable<BackupResponse>) {
      arm();
      yield message;
    }
  } catch (error) {
    if (timedOut) throw new ApiError(address, 'DEADLINE_EXCEEDED', `no backup data for backupIdleTimeoutMs (${backupIdleTimeoutMs} ms)`);
    if ((error as Partial<ServiceError>).code !== undefined) throw toApiError(address, error as ServiceError);
    throw error;
  } finally {
    clearTimeout(idle);
    stream.cancel();
  }
}

/** Connects, runs `use`, and closes the channel whatever happens. */
export function withApi<T>(address: string, use: (api: ApiClient) => Promise<T>, options?: ApiClientOptions): Promise<T> {
  return using(connectApi(address, options), use);
}
