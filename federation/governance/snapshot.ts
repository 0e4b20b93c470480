import { MembershipSnapshot, type Genesis, type SignedSnapshot } from '../../gen/tongxing/records/v1/records.js';
import { verify } from '../crypto/sm2.js';
import { SignatureError, ValidationError } from '../errors.js';
import type { Member } from '../membership.js';
import { verifyGenesis, type VerifiedGenesis } from './genesis.js';
import { governedMembers, memberOf, type GovernanceState, type MemberStatus } from './state.js';

// A membership snapshot: one member's signed statement of who the members
// are at an epoch, with their keys, endpoints and TLS certificates. A new
// node that cannot reach the founders starts from it; trusting it is the
// operator's choice of which member to ask, like trusting the genesis file.
// It never decides anything: the governance records do, once replicated.

const snapshotDomain = Buffer.from('tongxing-snapshot');

/** What signs: the member's current key (as evidence bundles are signed). */
export interface SnapshotSigner {
  readonly nodeId: string;
  sign(message: Uint8Array): Uint8Array;
}

export function signSnapshot(genesis: Genesis, state: GovernanceState, signer: SnapshotSigner, nowMs: number): SignedSnapshot {
  const snapshot: MembershipSnapshot = {
    genesis,
    epoch: BigInt(state.current.number),
    members: [...state.current.members.values()].map((m) => ({
      nodeId: Buffer.from(m.nodeId, 'hex'),
      member: m.record,
      status: m.status,
      retiredKeys: m.retiredKeys.map((k) => ({ publicKey: Buffer.from(k.publicKey), untilHlc: k.untilHlc })),
      sinceHlc: m.sinceHlc,
    })),
    takenAtMs: BigInt(nowMs),
    signer: Buffer.from(signer.nodeId, 'hex'),
  };
  const bytes = MembershipSnapshot.encode(snapshot).finish();
  return { snapshot: Buffer.from(bytes), signature: Buffer.from(signer.sign(Buffer.concat([snapshotDomain, bytes]))) };
}

export interface VerifiedSnapshot {
  readonly genesis: VerifiedGenesis & { readonly genesis: Genesis };
  readonly epoch: number;
  /** As the replication layer takes them (see governedMembers). */
  readonly members: Member[];
  readonly signer: Member;
  readonly takenAtMs: number;
}

/** The snapshot, if its genesis is final and it is signed by the current key of a member it lists as active. */
export function verifySnapshot(signed: SignedSnapshot): VerifiedSnapshot {
  let snapshot: MembershipSnapshot;
  try {
    snapshot = MembershipSnapshot.decode(signed.snapshot);
  } catch (error) {
    throw new ValidationError('snapshot', `not a MembershipSnapshot: ${(error as Error).message}`);
  }
  if (!snapshot.genesis) throw new ValidationError('snapshot.genesis', 'missing');
  const genesis = { ...verifyGenesis(snapshot.genesis), genesis: snapshot.genesis };
  const members: Member[] = snapshot.members.map((m, i) => {
    if (!m.member) throw new ValidationError(`snapshot.members[${i}].member`, 'missing');
    if (!['active', 'suspended', 'removed'].includes(m.status)) throw new ValidationError(`snapshot.members[${i}].status`, `unknown status ${JSON.stringify(m.status)}`);
    return memberOf({
      nodeId: Buffer.from(m.nodeId).toString('hex'),
      record: m.member,
      retiredKeys: m.retiredKeys.map((k) => ({ publicKey: k.publicKey, untilHlc: k.untilHlc })),
      status: m.status as MemberStatus,
      sinceHlc: m.sinceHlc,
    });
  });
  const signerId = Buffer.from(snapshot.signer).toString('hex');
  const signer = members.find((m) => m.nodeId === signerId && m.status === 'active');
  if (!signer) throw new SignatureError(`snapshot: its signer ${signerId.slice(0, 12)} is not an active member in it`);
  if (!verify(signer.publicKey, Buffer.concat([snapshotDomain, signed.snapshot]), signed.signature)) {
    throw new SignatureError(`snapshot: the signature of ${signer.city} (${signerId.slice(0, 12)}) does not verify: the snapshot was changed after signing`);
  }
  return { genesis, epoch: Number(snapshot.epoch), members, signer, takenAtMs: Number(snapshot.takenAtMs) };
}

/**
 * Until this node's own governance state reaches the snapshot's epoch, whom it
 * asks and whose keys it checks come from the snapshot (newer); members the
 * snapshot does not list (admitted later) come from the state.
 */
export function membersWithSnapshot(state: GovernanceState, snapshot: Pick<VerifiedSnapshot, 'epoch' | 'members'> | undefined): Member[] {
  const governed = governedMembers(state);
  if (!snapshot || state.current.number >= snapshot.epoch) return governed;
  const listed = new Set(snapshot.members.map((m) => m.nodeId));
  return [...snapshot.members, ...governed.filter((m) => !listed.has(m.nodeId))];
}
