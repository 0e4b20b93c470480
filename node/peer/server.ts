// The peer service over gRPC: authenticates each call (credential.ts) and
// hands it to the replication core. Protocol decisions stay in
// federation/replica.ts; this file only moves bytes, bounds resources and
// answers errors with the status node/error-table.ts gives them.

import {
  Server,
  type ServiceDefinition,
  type Metadata,
  type sendUnaryData,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import {
  PeerServiceService,
  type ExchangeHeadsRequest,
  type ExchangeHeadsResponse,
  type PeerServiceServer,
  type PullEntriesRequest,
  type PullEntriesResponse,
} from '../../gen/tongxing/federation/v1/peer.js';
import { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { assert } from '../../federation/errors.js';
import { grpcMessageBytesMax } from '../../federation/limits.js';
import { peerServerStopGraceMs } from '../limits.js';
import type { Membership } from '../../federation/membership.js';
import { PullsServed } from '../../federation/pulls.js';
import type { Clock, Replica } from '../../federation/replica.js';
import { drained, shutdownServer } from '../grpc-server.js';
import { addStandardServices } from '../grpc-standard.js';
import { statusOf } from '../error-table.js';
import { CredentialVerifier, peerServerCredentials } from './credential.js';
import type { PeerTls } from './tls.js';

export interface PeerServerInit {
  /** host:port; port 0 picks a free port (see PeerServer.port). */
  readonly listen: string;
  /**
   * Largest response message; pull chunks are split to fit. Default and
   * upper bound grpcMessageBytesMax (lower it only to exercise splitting).
   */
  readonly messageBytesMax?: number;
}

/** What the service calls on the core: a Replica, or a stand-in in tests. */
export type PeerHandler = Pick<Replica, 'nodeId' | 'handleExchangeHeads' | 'servePull'>;

export interface PeerServerComponents {
  readonly replica: PeerHandler;
  readonly members: Membership;
  readonly allianceId: Buffer;
  readonly clock: Clock;
  /** TLS pinned to the members' certificates; plain gRPC without (tests of the protocol alone). */
  readonly tls?: PeerTls;
  /** More peer services on the same port, authenticated by the same verifier (its nonces and rate limit are shared). */
  readonly addServices?: (server: Server, verifier: CredentialVerifier) => ServiceDefinition[];
}

export interface PeerServer {
  readonly port: number;
  /** Ends in-flight calls (after peerServerStopGraceMs, by cancelling them) and releases the port. Idempotent. */
  stop(): Promise<void>;
}

export async function startPeerServer(init: PeerServerInit, components: PeerServerComponents): Promise<PeerServer> {
  const messageBytesMax = init.messageBytesMax ?? grpcMessageBytesMax;
  assert(messageBytesMax >= 1024 && messageBytesMax <= grpcMessageBytesMax, `messageBytesMax ${messageBytesMax} must be in 1 KiB..grpcMessageBytesMax`);
  const { replica } = components;
  const verifier = new CredentialVerifier({ allianceId: components.allianceId, nodeId: replica.nodeId, tls: components.tls !== undefined }, components);
  /** The caller, proven by its credential and, over TLS, by its client certificate. */
  const callerOf = (call: { metadata: Metadata; getAuthContext(): { sslPeerCertificate?: { raw: Buffer } } | null }, method: string): string =>
    verifier.verifyMetadata(call.metadata, method, call.getAuthContext()?.sslPeerCertificate?.raw);
  const pullsServed = new PullsServed();
  /** Handlers still running, so stop() returns only once none touches the replica. They never reject: every error becomes a status. */
  const handlers = new Set<Promise<void>>();
  const track = (handler: Promise<void>): void => {
    handlers.add(handler);
    const remove = (): void => void handlers.delete(handler);
    handler.then(remove, remove);
  };

  const exchangeHeads = async (call: ServerUnaryCall<ExchangeHeadsRequest, ExchangeHeadsResponse>, callback: sendUnaryData<ExchangeHeadsResponse>): Promise<void> => {
    let response: ExchangeHeadsResponse;
    try {
      const caller = callerOf(call, PeerServiceService.exchangeHeads.path);
      response = await replica.handleExchangeHeads(caller, call.request);
    } catch (error) {
      callback(toServiceError(error));
      return;
    }
    callback(null, response);
  };

  const pullEntries = async (call: ServerWritableStream<PullEntriesRequest, PullEntriesResponse>): Promise<void> => {
    try {
      const caller = callerOf(call, PeerServiceService.pullEntries.path);
      pullsServed.admit(caller);
      try {
        // Leaving the loop early (cancelled) closes the generator.
        for await (const chunk of replica.servePull(caller, call.request)) {
          for (const message of splitChunk(chunk, messageBytesMax)) {
            if (call.cancelled || call.destroyed) return;
            if (!call.write(message)) await drained(call);
          }
        }
      } finally {
        pullsServed.release(caller);
      }
      if (!call.cancelled && !call.destroyed) call.end();
    } catch (error) {
      if (!call.cancelled && !call.destroyed) call.emit('error', toServiceError(error));
    }
  };

  const service: PeerServiceServer = {
    exchangeHeads: (call, callback) => track(exchangeHeads(call, callback)),
    pullEntries: (call) => track(pullEntries(call)),
  };
  const server = new Server({
    'grpc.max_receive_message_length': grpcMessageBytesMax,
    'grpc.max_send_message_length': grpcMessageBytesMax,
  });
  server.addService(PeerServiceService, service);
  const more = components.addServices?.(server, verifier) ?? [];
  const standard = addStandardServices(server, { services: [PeerServiceService, ...more] }); // grpc.health.v1, NOT_SERVING once stop() is called
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(init.listen, peerServerCredentials(components.tls), (error, bound) => (error ? reject(error) : resolve(bound)));
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      standard.stopping();
      await shutdownServer(server, peerServerStopGraceMs);
      // Cancelled handlers notice at their next write; wait so none outlives stop().
      await Promise.allSettled([...handlers]);
    })();
    return stopping;
  };
  return { port, stop };
}

/** Length-delimited field overhead in protobuf: the tag byte and the length varint. */
function fieldBytes(length: number): number {
  return 1 + (length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : length < 0x10000000 ? 4 : 5) + length;
}

/**
 * Splits one chunk into messages of at most `messageBytesMax` encoded bytes.
 * Every message but the last has no head; the receiver concatenates entries
 * until a message carries the head that ends the chunk (client.ts). Entries
 * are shared, not copied. Each entry must fit in a message with the head
 * (entryBytesMax is far below grpcMessageBytesMax), else AssertionError.
 */
export function splitChunk(chunk: PullEntriesResponse, messageBytesMax: number): PullEntriesResponse[] {
  const headBytes = chunk.head === undefined ? 0 : fieldBytes(SignedHead.encode(chunk.head).finish().length);
  let total = headBytes;
  for (const entry of chunk.entries) total += fieldBytes(entry.length);
  if (total <= messageBytesMax) return [chunk];

  const messages: PullEntriesResponse[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < chunk.entries.length; i++) {
    const size = fieldBytes(chunk.entries[i]!.length);
    assert(size + headBytes <= messageBytesMax, `an entry of ${chunk.entries[i]!.length} bytes does not fit in a message of ${messageBytesMax}`);
    if (bytes + size > messageBytesMax) {
      messages.push({ entries: chunk.entries.slice(start, i), head: undefined });
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  // The head rides with the last entries; if it does not fit, it gets a message of its own.
  if (bytes + headBytes <= messageBytesMax) {
    messages.push({ entries: chunk.entries.slice(start), head: chunk.head });
  } else {
    messages.push({ entries: chunk.entries.slice(start), head: undefined }, { entries: [], head: chunk.head });
  }
  return messages;
}

function toServiceError(error: unknown): ServerErrorResponse {
  const { code, details } = statusOf(error);
  return Object.assign(new Error(details), { code, details });
}
