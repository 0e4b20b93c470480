// What travels on the simulated network between nodes, and what each message
// is charged in bytes.
//
// Gossip carries the real encoded Announcement bytes (so invalid bytes from a
// Byzantine member reach the real decoder). Peer calls carry the protobuf
// message objects themselves: encoding a 300-head vector twice per
// anti-entropy round would cost more CPU than the whole protocol, and the
// replica never mutates what it is given or what it returns. Their size is
// the protobuf encoding of the same objects (memoised per object) plus a fixed
// framing overhead, so byte counts match what gRPC would move.

import { createHash } from 'node:crypto';
import {
  Announcement,
  type ExchangeHeadsRequest,
  type ExchangeHeadsResponse,
  type PullEntriesRequest,
  type PullEntriesResponse,
} from '../gen/tongxing/federation/v1/peer.js';
import { EquivocationProof, SignedHead } from '../gen/tongxing/log/v1/log.js';

/**
 * One gossip message: the bytes a node published, and the message id every
 * receiver would compute from them (a hash of the bytes, so a replay of the
 * same bytes is the same message). Shared by every copy of the message.
 */
export interface GossipPayload {
  readonly kind: 'gossip';
  readonly bytes: Uint8Array;
  readonly id: string;
  /** What the publisher meant it to be; for accounting only, receivers never read it. */
  readonly label: GossipLabel;
}

export type GossipLabel = 'record' | 'beacon' | 'proof' | 'invalid' | 'replay';

export type PeerMessage =
  | GossipPayload
  | { readonly kind: 'exchange'; readonly request: ExchangeHeadsRequest }
  | { readonly kind: 'exchange-ok'; readonly response: ExchangeHeadsResponse }
  /** Asks for chunk `index` of pull stream `stream`; index 0 opens it and carries the request. */
  | { readonly kind: 'pull'; readonly stream: number; readonly index: number; readonly request: PullEntriesRequest | undefined }
  /** Chunk `index` (undefined: the stream had nothing), and whether another follows. */
  | { readonly kind: 'pull-chunk'; readonly stream: number; readonly index: number; readonly chunk: PullEntriesResponse | undefined; readonly more: boolean }
  /** The caller stopped reading a stream early (a one-way message). */
  | { readonly kind: 'pull-cancel'; readonly stream: number }
  /** A call the server refused or failed: the name of the error class and its message (a gRPC status at the edge). */
  | { readonly kind: 'error'; readonly name: string; readonly message: string };

/** A gRPC call's request framing: HTTP/2 headers, the method path and the SM2 call credential (~180 bytes). */
export const rpcRequestOverheadBytes = 260;
/** A gRPC response's framing: HTTP/2 headers, status trailers, the length prefix. */
export const rpcResponseOverheadBytes = 40;
/** A gossipsub message's framing: topic, sender, seqno and the libp2p signature, in one RPC frame. */
export const gossipOverheadBytes = 170;

const headBytesMemo = new WeakMap<SignedHead, number>();
const proofBytesMemo = new WeakMap<EquivocationProof, number>();

/** Protobuf field overhead of a length-delimited field of `length` bytes. */
function fieldBytes(length: number): number {
  return 1 + (length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : 4) + length;
}

export function signedHeadBytes(head: SignedHead): number {
  let bytes = headBytesMemo.get(head);
  if (bytes === undefined) {
    bytes = fieldBytes(SignedHead.encode(head).finish().length);
    headBytesMemo.set(head, bytes);
  }
  return bytes;
}

export function proofBytes(proof: EquivocationProof): number {
  let bytes = proofBytesMemo.get(proof);
  if (bytes === undefined) {
    bytes = fieldBytes(EquivocationProof.encode(proof).finish().length);
    proofBytesMemo.set(proof, bytes);
  }
  return bytes;
}

function headVectorBytes(heads: readonly SignedHead[], proofs: readonly EquivocationProof[]): number {
  let bytes = 0;
  for (const head of heads) bytes += signedHeadBytes(head);
  for (const proof of proofs) bytes += proofBytes(proof);
  return bytes;
}

/** The bytes a message occupies on the wire, framing included. */
export function messageBytes(message: PeerMessage): number {
  switch (message.kind) {
    case 'gossip':
      return message.bytes.length + gossipOverheadBytes;
    case 'exchange':
      return rpcRequestOverheadBytes + headVectorBytes(message.request.heads, message.request.proofs);
    case 'exchange-ok':
      return rpcResponseOverheadBytes + headVectorBytes(message.response.heads, message.response.proofs);
    case 'pull':
      return rpcRequestOverheadBytes + (message.request === undefined ? 8 : 50);
    case 'pull-chunk': {
      let bytes = rpcResponseOverheadBytes + 8;
      const chunk = message.chunk;
      if (chunk !== undefined) {
        for (const entry of chunk.entries) bytes += fieldBytes(entry.length);
        if (chunk.head !== undefined) bytes += signedHeadBytes(chunk.head);
      }
      return bytes;
    }
    case 'pull-cancel':
      return 40;
    case 'error':
      return rpcResponseOverheadBytes + message.message.length;
  }
}

/** The gossip message id of some bytes: 16 hex digits of SHA-256 (content addressed, like gossipsub's msgIdFn over data). */
export function messageId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export function gossipPayload(bytes: Uint8Array, label: GossipLabel): GossipPayload {
  return { kind: 'gossip', bytes, id: messageId(bytes), label };
}

export function encodeAnnouncement(announcement: Announcement): Uint8Array {
  return Announcement.encode(announcement).finish();
}

/**
 * Decoded announcements by their bytes object: every copy of a gossip message
 * shares one bytes object, so each is decoded once (a memo of a pure
 * function; receivers never mutate what they are given). Undefined: not an
 * Announcement.
 */
const decoded = new WeakMap<Uint8Array, Announcement | undefined>();

export function decodeAnnouncement(bytes: Uint8Array): Announcement | undefined {
  if (decoded.has(bytes)) return decoded.get(bytes);
  let announcement: Announcement | undefined;
  try {
    announcement = Announcement.decode(bytes);
  } catch {
    announcement = undefined;
  }
  decoded.set(bytes, announcement);
  return announcement;
}
