import { NodeServiceService, type BackupRequest, type BackupResponse, type GetStatusResponse } from '../../gen/tongxing/api/v1/api.js';
import { PreconditionError } from '../../federation/errors.js';
import { backupStream, privateBackupAllowed, type LocalFile } from '../store/backup.js';
import type { LevelSnapshot } from '../store/level.js';
import type { ApiContext, ApiService } from './service.js';
import { linkIdleExpectedGaps, linkIdleMsMin } from '../limits.js';
import type { Telemetry } from '../telemetry.js';
import type { MemberSync } from '../telemetry/replication.js';

// NodeService: what this node holds of every member's log, how fresh and how
// well connected, and a consistent backup of its store.

/** What a running node adds to the status, and its backup source. */
export interface NodeOperations {
  /** Entries stored per second (all sources) over the last minute. */
  ingestRatePerSecond(): number;
  /** Per member node id: breaches of the freshness budget and since when it is stale or behind. */
  memberSync(): ReadonlyMap<string, MemberSync>;
  /** Bytes of the store on disk. */
  storeBytes(): Promise<number>;
  /** A consistent snapshot of the store, as the Backup stream; private state only for a request signed with the node's key. */
  backup(request: BackupRequest): AsyncIterable<BackupResponse>;
  /** A member not heard from for longer shows as disconnected. */
  linkTimeoutMs(): number;
}

/**
 * How long without contact means a link is down. Anti-entropy calls one
 * random other member per round and is called by the others the same way, so
 * a pair is in contact about every interval x (members - 1) / 2.
 */
export function linkTimeoutMs(antiEntropyIntervalMs: number, members: number): number {
  const expectedGapMs = (antiEntropyIntervalMs * Math.max(1, members - 1)) / 2;
  return Math.max(linkIdleMsMin, Math.ceil(linkIdleExpectedGaps * expectedGapMs));
}

export interface NodeOperationsInit {
  readonly store: { snapshot(): LevelSnapshot; diskBytes(): Promise<number> };
  readonly telemetry: Pick<Telemetry, 'ingestRatePerSecond' | 'memberSync'>;
  readonly allianceId: Uint8Array;
  readonly nodeId: string;
  /** The node's own current public key (governance may rotate it): what a private backup request must verify under. */
  readonly nodeKey: () => Uint8Array | undefined;
  /** Members now (governance changes them). */
  readonly members: () => number;
  readonly antiEntropyIntervalMs: number;
  readonly nowMs: () => number;
  /** Data-directory files a private backup carries (the audit trail). */
  readonly localFiles?: () => readonly LocalFile[];
}

/** The operations of a node from its store and telemetry. */
export function nodeOperations(init: NodeOperationsInit): NodeOperations {
  return {
    ingestRatePerSecond: () => init.telemetry.ingestRatePerSecond(),
    memberSync: () => init.telemetry.memberSync(),
    storeBytes: () => init.store.diskBytes(),
    backup: (request) => {
      const includePrivate = privateBackupAllowed(request, { allianceId: init.allianceId, nodeId: init.nodeId, nodeKey: init.nodeKey(), nowMs: init.nowMs() });
      return backupStream(init.store.snapshot(), { includePrivate, allianceId: init.allianceId, nodeId: init.nodeId, nowMs: init.nowMs, proofsMax: init.members(), localFiles: init.localFiles });
    },
    linkTimeoutMs: () => linkTimeoutMs(init.antiEntropyIntervalMs, init.members()),
  };
}

export function nodeService(c: ApiContext): ApiService {
  const { replica, clock, cityOf, operations } = c;

  async function getStatus(): Promise<GetStatusResponse> {
    const nowMs = clock.nowMs();
    const logs = replica.logs();
    const sync = operations?.memberSync() ?? new Map<string, MemberSync>();
    const linkTimeout = operations?.linkTimeoutMs() ?? linkIdleMsMin;
    return {
      nodeId: Buffer.from(replica.nodeId, 'hex'),
      city: cityOf(replica.nodeId) || c.city, // a node admitted since it started names its city at once
      allianceId: c.allianceId,
      members: logs.map((log) => {
        const self = log.nodeId === replica.nodeId;
        const member = sync.get(log.nodeId);
        return {
          nodeId: Buffer.from(log.nodeId, 'hex'),
          city: cityOf(log.nodeId),
          regionCode: replica.members.get(log.nodeId)?.regionCode ?? '',
          storedSeq: BigInt(log.storedSeq),
          knownSeq: BigInt(Math.max(log.knownSeq, log.storedSeq)),
          headAgeMs: log.signedAtMs === undefined ? -1n : BigInt(Math.max(0, nowMs - log.signedAtMs)),
          lastContactMs: BigInt(log.lastContactMs ?? 0),
          equivocated: log.equivocated,
          self,
          connected: self || (log.lastContactMs !== undefined && nowMs - log.lastContactMs <= linkTimeout),
          lagMs: log.knownSeq > log.storedSeq && member?.behindSinceMs !== undefined ? BigInt(Math.max(0, nowMs - member.behindSinceMs)) : 0n,
          freshnessBreaches: member?.breaches ?? 0,
          staleSinceMs: BigInt(member?.staleSinceMs ?? 0),
        };
      }),
      entriesStored: BigInt(logs.reduce((sum, log) => sum + log.storedSeq, 0)),
      uptimeMs: BigInt(Math.max(0, nowMs - c.startedAtMs)),
      ingestEntriesPerSecond: operations?.ingestRatePerSecond() ?? 0,
      storeBytes: BigInt((await operations?.storeBytes()) ?? 0),
      freshnessBudgetMs: BigInt(c.freshnessBudgetMs),
      linkTimeoutMs: BigInt(linkTimeout),
    };
  }

  function backup(request: BackupRequest): AsyncIterable<BackupResponse> {
    if (!operations) throw new PreconditionError('this node serves no backups (no store behind its API)');
    return operations.backup(request);
  }

  return { definition: NodeServiceService, handlers: { getStatus }, streams: { backup } };
}
