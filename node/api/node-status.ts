import { NodeServiceService, type GetStatusResponse } from '../../gen/tongxing/api/v1/api.js';
import type { ApiContext, ApiService } from './service.js';

// NodeService: what this node holds of every member's log, and how fresh it is.

export function nodeService(c: ApiContext): ApiService {
  const { replica, clock, cityOf } = c;

  async function getStatus(): Promise<GetStatusResponse> {
    const nowMs = clock.nowMs();
    const logs = replica.logs();
    return {
      nodeId: Buffer.from(replica.nodeId, 'hex'),
      city: c.city,
      allianceId: c.allianceId,
      members: logs.map((log) => ({
        nodeId: Buffer.from(log.nodeId, 'hex'),
        city: cityOf(log.nodeId),
        regionCode: replica.members.get(log.nodeId)?.regionCode ?? '',
        storedSeq: BigInt(log.storedSeq),
        knownSeq: BigInt(Math.max(log.knownSeq, log.storedSeq)),
        headAgeMs: log.signedAtMs === undefined ? -1n : BigInt(Math.max(0, nowMs - log.signedAtMs)),
        lastContactMs: BigInt(log.lastContactMs ?? 0),
        equivocated: log.equivocated,
        self: log.nodeId === replica.nodeId,
      })),
      entriesStored: BigInt(logs.reduce((sum, log) => sum + log.storedSeq, 0)),
      uptimeMs: BigInt(Math.max(0, nowMs - c.startedAtMs)),
    };
  }

  return { definition: NodeServiceService, handlers: { getStatus } };
}
