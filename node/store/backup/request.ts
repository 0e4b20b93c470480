import type { BackupRequest } from '../../../gen/tongxing/api/v1/api.js';
import { sign, verify, type Sm2KeyPair } from '../../../federation/crypto/sm2.js';
import { ValidationError } from '../../../federation/errors.js';
import { credentialAgeMsMax } from '../../limits.js';

// Who may take a node's private state: a backup request signed, recently,
// with the node's own key. Anyone the API admits to Backup gets the logs.

/** What a private backup request signs: domain, alliance, the node backed up, the time. */
function backupRequestBytes(allianceId: Uint8Array, nodeId: string, atMs: bigint): Buffer {
  const at = Buffer.alloc(8);
  at.writeBigInt64BE(atMs);
  return Buffer.concat([Buffer.from('tongxing backup v1\0'), Buffer.from(allianceId), Buffer.from(nodeId, 'hex'), at]);
}

/** A request for a backup with the node's private state, signed with the node's own key. */
export function signBackupRequest(keyPair: Sm2KeyPair, allianceId: Uint8Array, nodeId: string, nowMs: number): BackupRequest {
  const atMs = BigInt(nowMs);
  return { atMs, signature: sign(keyPair.privateKey, backupRequestBytes(allianceId, nodeId, atMs), keyPair.publicKey) };
}

/**
 * Whether a backup request may have the private state: signed, recently,
 * with `nodeKey` (the node's own current key). Unsigned: no. Signed but
 * wrong or stale: ValidationError naming the field (the caller meant to).
 */
export function privateBackupAllowed(request: BackupRequest, init: { allianceId: Uint8Array; nodeId: string; nodeKey: Uint8Array | undefined; nowMs: number }): boolean {
  if (request.signature.length === 0) return false;
  const skewMs = Math.abs(init.nowMs - Number(request.atMs));
  if (!(skewMs <= credentialAgeMsMax)) {
    throw new ValidationError('atMs', `signed ${skewMs} ms away from this node's clock; credentialAgeMsMax is ${credentialAgeMsMax}`);
  }
  let valid = false;
  try {
    valid = init.nodeKey !== undefined && verify(init.nodeKey, backupRequestBytes(init.allianceId, init.nodeId, request.atMs), request.signature);
  } catch {
    valid = false; // a malformed signature: as wrong as a wrong one
  }
  if (!valid) throw new ValidationError('signature', "does not verify under this node's key: only the node's own key may take its private state");
  return true;
}
