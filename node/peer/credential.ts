// Per-call authentication between members (docs/ARCHITECTURE.md, "Governance and peer security"). The
// caller signs a CallCredential for every call: bound to the alliance, to the
// callee and to the method, fresh (issued within credentialAgeMsMax of the
// callee's clock, and not before the callee's verifier started: its nonces are
// kept in memory only) and used once (its nonce is remembered until it expires).
// The callee learns the caller's member id from it and nothing else: callers
// cache nothing secret, and one SM2 verify per call is cheap next to a call.
//
// The verifier also refuses members that governance suspended or removed,
// checks that the TLS peer is the member the credential names (tls.ts), keeps
// each member's call rate within peerCallsPerSecondMax and applies the
// protocol revision rule (docs/PROTOCOL.md, "Versions").

import { randomBytes } from 'node:crypto';
import { credentials, Metadata, ServerCredentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { CallCredential } from '../../gen/tongxing/federation/v1/peer.js';
import { nodeIdOf, sign, verify, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { AuthenticationError, EncodingError, LimitError, PermissionError } from '../../federation/errors.js';
import { grpcMessageBytesMax } from '../../federation/limits.js';
import { credentialAgeMsMax, credentialNoncesPerCallerMax, peerCallsPerSecondMax } from '../limits.js';
import { toHex } from '../../federation/log/entry.js';
import type { Member, Membership } from '../../federation/membership.js';
import type { Clock } from '../../federation/replica.js';
import { peerTlsChannelOptions, type PeerTls } from './tls.js';

/** Binary metadata key (gRPC `-bin`: the value travels base64 on the wire). */
export const credentialMetadataKey = 'tongxing-credential-bin';

export const credentialNonceBytes = 16;

/**
 * This build's protocol revision within tongxing.federation.v1. A peer whose
 * revision differs by at most one interoperates (a rolling upgrade moves one
 * step at a time); a revision further apart is refused, naming both.
 */
export const protocolRevision = 1;

/** The bytes the caller signs: the canonical encoding with the signature empty. */
export function credentialSigningBytes(credential: CallCredential): Uint8Array {
  return CallCredential.encode({ ...credential, signature: Buffer.alloc(0) }).finish();
}

export interface CredentialIssuerInit {
  readonly allianceId: Buffer;
  readonly keyPair: Sm2KeyPair;
  /** The member's node id, when its key was rotated (default: SM3 of the key). */
  readonly nodeId?: string;
  /** Sent in each credential; tests set another to exercise the revision rule. */
  readonly protocolRevision?: number;
}

export interface CredentialCall {
  /** Node id (hex) of the member being called. */
  readonly callee: string;
  /** Full gRPC method path, e.g. PeerServiceService.exchangeHeads.path. */
  readonly method: string;
  readonly issuedAtMs: number;
  /** 16 bytes; random unless a test fixes it. */
  readonly nonce?: Uint8Array;
}

/** The caller's side: one per node key (deriving the node id costs ~0.2 ms, so it is done once). */
export class CredentialIssuer {
  readonly nodeId: string;
  readonly #init: CredentialIssuerInit;
  readonly #caller: Buffer;
  #keyPair: Sm2KeyPair;

  constructor(init: CredentialIssuerInit) {
    this.#init = init;
    this.#keyPair = init.keyPair;
    this.nodeId = init.nodeId ?? nodeIdOf(init.keyPair.publicKey);
    this.#caller = Buffer.from(this.nodeId, 'hex');
  }

  /** Signs with `keyPair` from now on (after governance rotated this member's key). */
  rekey(keyPair: Sm2KeyPair): void {
    this.#keyPair = keyPair;
  }

  /** A signed credential for one call (~1.6 ms: one SM2 signature). */
  issue(call: CredentialCall): CallCredential {
    const unsigned: CallCredential = {
      allianceId: this.#init.allianceId,
      caller: this.#caller,
      callee: Buffer.from(call.callee, 'hex'),
      method: call.method,
      issuedAtMs: BigInt(call.issuedAtMs),
      nonce: Buffer.from(call.nonce ?? randomBytes(credentialNonceBytes)),
      signature: Buffer.alloc(0),
      protocolRevision: this.#init.protocolRevision ?? protocolRevision,
    };
    const { privateKey, publicKey } = this.#keyPair;
    return { ...unsigned, signature: sign(privateKey, credentialSigningBytes(unsigned), publicKey) };
  }
}

/** Call metadata carrying `credential`. */
export function credentialMetadata(credential: CallCredential): Metadata {
  const metadata = new Metadata();
  metadata.set(credentialMetadataKey, Buffer.from(CallCredential.encode(credential).finish()));
  return metadata;
}

export interface CredentialVerifierInit {
  readonly allianceId: Buffer;
  /** This node's id: credentials must name it as callee. */
  readonly nodeId: string;
  /** Peer links run over TLS: the client certificate must be the caller's recorded one. */
  readonly tls?: boolean;
}

export interface CredentialVerifierComponents {
  readonly members: Membership;
  readonly clock: Clock;
}

/**
 * The callee's side. Not pure (it remembers nonces), but synchronous: a
 * check and the nonce it records cannot interleave with another call's.
 *
 * Nonces live in memory, so a new verifier (a restarted node) has seen none:
 * it refuses every credential issued before it was made, by its clock
 * (`startedAtMs`). Such a credential cannot have been checked by this
 * verifier, and accepting it would let a credential used before the restart
 * be used again while it is younger than credentialAgeMsMax. Honest callers
 * mint a credential per call, so only a call made across the restart is
 * refused; the next one passes. Clock skew (docs/PROTOCOL.md, "Peer
 * service"): a caller whose clock is behind by d is refused for d after the
 * start; one ahead by d leaves credentials of its last d before the restart
 * acceptable, so d ≤ credentialAgeMsMax bounds the gap the age check bounds.
 */
export class CredentialVerifier {
  /** This verifier's clock when it was made: earlier credentials are refused (see above). */
  readonly startedAtMs: number;
  readonly #init: CredentialVerifierInit;
  readonly #c: CredentialVerifierComponents;
  readonly #nonces = new NonceCache();
  readonly #rates = new Map<string, { tokens: number; atMs: number }>();

  constructor(init: CredentialVerifierInit, components: CredentialVerifierComponents) {
    this.#init = init;
    this.#c = components;
    this.startedAtMs = components.clock.nowMs();
  }

  /**
   * The caller's member id, if `metadata` carries a credential for a call of
   * `method` on this node. Throws PermissionError (another alliance, callee,
   * method or protocol revision; a caller that is not an active member, or
   * not on its own TLS link), AuthenticationError (missing, malformed, stale,
   * issued before this verifier started, replayed, bad signature) or
   * LimitError (the caller's nonce cache is full).
   */
  verifyMetadata(metadata: Metadata, method: string, tlsPeerCertificate?: Uint8Array): string {
    const values = metadata.get(credentialMetadataKey);
    if (values.length !== 1) throw new AuthenticationError(`expected one ${credentialMetadataKey}, got ${values.length}`);
    const value = values[0]!;
    if (typeof value === 'string') throw new AuthenticationError(`${credentialMetadataKey} is not binary`);
    let credential: CallCredential;
    try {
      credential = CallCredential.decode(value);
    } catch (error) {
      throw new AuthenticationError(`not a CallCredential (${(error as Error).message})`);
    }
    const caller = this.verify(credential, method);
    if (this.#init.tls) {
      const recorded = this.#c.members.get(caller)!.tlsCertificate;
      if (!tlsPeerCertificate || !recorded || !Buffer.from(tlsPeerCertificate).equals(recorded)) {
        throw new PermissionError(`the TLS client certificate is not the one recorded for ${caller.slice(0, 12)}: a credential must travel on its member's own link`);
      }
    }
    return caller;
  }

  /** As verifyMetadata, for a decoded credential. */
  verify(credential: CallCredential, method: string): string {
    // Cheap checks first; the signature (~1.4 ms) only for a plausible member's call.
    if (!credential.allianceId.equals(this.#init.allianceId)) {
      throw new PermissionError(`credential is for alliance ${toHex(credential.allianceId).slice(0, 12)}, not this one`);
    }
    const callee = toHex(credential.callee);
    if (callee !== this.#init.nodeId) {
      throw new PermissionError(`credential is for node ${callee.slice(0, 12)}, this is ${this.#init.nodeId.slice(0, 12)}`);
    }
    if (credential.method !== method) throw new PermissionError(`credential is for ${credential.method}, the call is ${method}`);
    const revision = credential.protocolRevision || 1;
    if (Math.abs(revision - protocolRevision) > 1) {
      throw new PermissionError(`protocol revision ${revision} of the caller and ${protocolRevision} of this node are more than one apart: upgrade one step at a time`);
    }
    const caller = toHex(credential.caller);
    const member = this.#c.members.get(caller);
    if (!member) throw new PermissionError(`caller ${caller.slice(0, 12)} is not a member`);
    if (!this.#c.members.isActive(caller)) throw new PermissionError(`caller ${member.city} (${caller.slice(0, 12)}) is ${member.status}`);

    const nowMs = this.#c.clock.nowMs();
    const issuedAtMs = Number(credential.issuedAtMs);
    if (Math.abs(nowMs - issuedAtMs) > credentialAgeMsMax) {
      throw new AuthenticationError(`credential issued at ${issuedAtMs}, ${nowMs - issuedAtMs} ms from now ${nowMs}; credentialAgeMsMax ${credentialAgeMsMax}`);
    }
    if (issuedAtMs < this.startedAtMs) {
      throw new AuthenticationError(
        `credential issued at ${issuedAtMs}, ${this.startedAtMs - issuedAtMs} ms before this node started (${this.startedAtMs}): its use before the restart is not remembered; call again with a new credential`,
      );
    }
    if (credential.nonce.length !== credentialNonceBytes) {
      throw new AuthenticationError(`nonce is ${credential.nonce.length} bytes, expected ${credentialNonceBytes}`);
    }
    const nonce = credential.nonce.toString('base64');
    if (this.#nonces.has(caller, nonce)) throw new AuthenticationError(`credential of ${caller.slice(0, 12)} replayed`);
    let valid: boolean;
    try {
      valid = verify(member.publicKey, credentialSigningBytes(credential), credential.signature);
    } catch (error) {
      if (error instanceof EncodingError) throw new AuthenticationError(`credential signature: ${error.message}`);
      throw error;
    }
    if (!valid) throw new AuthenticationError(`credential signature of ${caller.slice(0, 12)} does not verify`);
    // Only verified nonces are remembered, so forged calls cannot fill a member's cache.
    this.#nonces.add(caller, nonce, issuedAtMs + credentialAgeMsMax, nowMs);
    this.#spend(caller, nowMs);
    return caller;
  }

  /** A token bucket per member: peerCallsPerSecondMax, with a burst of twice that. */
  #spend(caller: string, nowMs: number): void {
    const burst = 2 * peerCallsPerSecondMax;
    const bucket = this.#rates.get(caller) ?? { tokens: burst, atMs: nowMs };
    bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.atMs) * peerCallsPerSecondMax) / 1000);
    bucket.atMs = nowMs;
    if (bucket.tokens < 1) throw new LimitError(`${caller.slice(0, 12)} calls faster than peerCallsPerSecondMax (${peerCallsPerSecondMax}/s)`);
    bucket.tokens -= 1;
    this.#rates.set(caller, bucket);
  }
}

/**
 * Nonces per caller until their credential expires. Bounded per caller
 * (credentialNoncesPerCallerMax): a caller over the bound is refused
 * (LimitError) rather than forgetting a live nonce, which would allow a replay.
 */
class NonceCache {
  /** Per caller: nonce -> expiry ms, in insertion order (roughly expiry order). */
  readonly #byCaller = new Map<string, Map<string, number>>();

  has(caller: string, nonce: string): boolean {
    return this.#byCaller.get(caller)?.has(nonce) ?? false;
  }

  add(caller: string, nonce: string, expiresAtMs: number, nowMs: number): void {
    let nonces = this.#byCaller.get(caller);
    if (nonces === undefined) {
      nonces = new Map();
      this.#byCaller.set(caller, nonces);
    }
    // Amortised O(1): drop expired nonces from the front.
    for (const [oldest, expiry] of nonces) {
      if (expiry >= nowMs) break;
      nonces.delete(oldest);
    }
    if (nonces.size >= credentialNoncesPerCallerMax) {
      // Issue times are not strictly ordered: sweep everything once before refusing.
      for (const [key, expiry] of nonces) if (expiry < nowMs) nonces.delete(key);
      if (nonces.size >= credentialNoncesPerCallerMax) {
        throw new LimitError(`${nonces.size} live call credentials of ${caller.slice(0, 12)}; credentialNoncesPerCallerMax ${credentialNoncesPerCallerMax}`);
      }
    }
    nonces.set(nonce, expiresAtMs);
  }
}

/** Server transport security: TLS pinned to the members (tls.ts); plain only in tests of the protocol alone. */
export function peerServerCredentials(tls?: PeerTls): ServerCredentials {
  return tls ? tls.serverCredentials() : ServerCredentials.createInsecure();
}

/** Client transport security for a call to `member`; see peerServerCredentials. */
export function peerChannelCredentials(member?: Member, tls?: PeerTls): ChannelCredentials {
  return tls && member ? tls.channelCredentials(member) : credentials.createInsecure();
}

/** Channel options every peer client starts from: message bounds, and over TLS a fixed server name (see tls.ts). */
export function peerChannelOptions(tls?: PeerTls): ChannelOptions {
  return {
    ...(tls ? peerTlsChannelOptions : {}),
    'grpc.max_receive_message_length': grpcMessageBytesMax,
    'grpc.max_send_message_length': grpcMessageBytesMax,
  };
}
