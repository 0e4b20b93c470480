import { MemberRole, type CreditPolicy, type GovernanceApproval, type GovernanceProposal, type Member as MemberRecord, type RecognitionPolicy } from '../../gen/tongxing/records/v1/records.js';
import { defaultCreditPolicy } from '../credit/method.js';
import { nodeIdOf } from '../crypto/sm2.js';
import { sm3Hex } from '../crypto/sm3.js';
import { proposalEpochLagMax } from '../limits.js';
import type { Member } from '../membership.js';
import type { RecordKind, ViewPolicy } from '../views/policy.js';
import { verifyAdmission, verifyRotation, type VerifiedGenesis } from './genesis.js';

// The alliance's governance as a pure function of the genesis and the SET of
// governance records: every node that holds the same records computes the same
// epochs, whatever order they arrived in.
//
// Epoch 0 is the genesis. A proposal names the epoch it was made in; it takes
// effect once admins of THAT epoch, as many as its quorum, have approved it
// (the proposer's own entry counts as its approval). Its effective hlc is the
// hlc of the approval that completed the quorum. Proposals are applied one at
// a time in order of (effective hlc, proposal hash), each opening the next
// epoch, so concurrent proposals are ordered the same way everywhere. A
// proposal whose action no longer makes sense when its turn comes (removing a
// member already removed) is marked "no effect" with the reason, and opens no
// epoch. Rules for entries (who may write what) are looked up by entry hlc in
// the epoch in force at that hlc.

export type MemberStatus = 'active' | 'suspended' | 'removed';

export interface MemberState {
  readonly nodeId: string;
  /** The member's record as last admitted or updated; publicKey is its current key. */
  readonly record: MemberRecord;
  /** Keys rotated away, each valid for heads up to the hlc the rotation took effect. */
  readonly retiredKeys: ReadonlyArray<{ readonly publicKey: Uint8Array; readonly untilHlc: bigint }>;
  readonly status: MemberStatus;
  /** Effective hlc of the last status change (admission for active members). */
  readonly sinceHlc: bigint;
}

export interface Epoch {
  readonly number: number;
  /** Entries with hlc above this (and up to the next epoch's) are judged by this epoch. */
  readonly fromHlc: bigint;
  /** The proposal that opened it (entry hash, hex); undefined for epoch 0. */
  readonly proposal?: string;
  readonly members: ReadonlyMap<string, MemberState>;
  readonly quorum: number;
  readonly trustedRoots: readonly Uint8Array[];
  readonly recognition: RecognitionPolicy;
  /** Sanctions lifted by a quorum: `${issuer}/${sanctionId}` -> effective hlc. */
  readonly quorumLifts: ReadonlyMap<string, bigint>;
  /** The credit index method, bonus bands and expert threshold (federation/credit/method.ts; the default until changed). */
  readonly creditPolicy: CreditPolicy;
}

/** A governance record as stored in an author's log. */
export interface GovRecord {
  readonly author: string;
  readonly seq: number;
  readonly hlc: bigint;
  /** Entry hash, hex: what approvals name. */
  readonly hash: string;
  readonly record: { readonly $case: 'governanceProposal'; readonly value: GovernanceProposal } | { readonly $case: 'governanceApproval'; readonly value: GovernanceApproval };
}

export type ProposalState = 'pending' | 'applied' | 'no-effect' | 'stale';

export interface ProposalStatus {
  readonly hash: string;
  readonly author: string;
  readonly hlc: bigint;
  readonly proposal: GovernanceProposal;
  state: ProposalState;
  /** Admins of the named epoch whose approval counts, in order of approval. */
  approvals: string[];
  /** Approvals needed: the quorum of the named epoch. */
  needed: number;
  /** Why it had no effect, is stale, or cannot count yet. */
  detail?: string;
  /** The epoch it opened, when applied. */
  epoch?: number;
  effectiveHlc?: bigint;
}

export interface GovernanceState {
  readonly allianceId: Buffer;
  readonly name: string;
  readonly freshnessBudgetMs: number;
  /** epochs[n] is epoch n. */
  readonly epochs: readonly Epoch[];
  readonly current: Epoch;
  /** Every proposal, oldest first. */
  readonly proposals: readonly ProposalStatus[];
  /** Approvals that count for nothing, with the reason (replayed, wrong epoch, not an admin, unknown proposal). */
  readonly ignoredApprovals: ReadonlyArray<{ readonly author: string; readonly seq: number; readonly reason: string }>;
}

const isAdmin = (m: MemberState | undefined): boolean => m?.status === 'active' && m.record.roles.includes(MemberRole.MEMBER_ROLE_ADMIN);
const activeAdmins = (members: ReadonlyMap<string, MemberState>): number => [...members.values()].filter(isAdmin).length;
const short = (id: string): string => id.slice(0, 12);

function epochZero(genesis: VerifiedGenesis): Epoch {
  const members = new Map<string, MemberState>();
  for (const founder of genesis.body.founders) {
    const nodeId = nodeIdOf(founder.publicKey);
    members.set(nodeId, { nodeId, record: founder, retiredKeys: [], status: 'active', sinceHlc: 0n });
  }
  return {
    number: 0,
    fromHlc: 0n,
    members,
    quorum: genesis.body.quorum,
    trustedRoots: genesis.body.trustedCaRoots,
    recognition: genesis.body.recognition ?? { rules: [] },
    quorumLifts: new Map(),
    creditPolicy: defaultCreditPolicy,
  };
}

/** The epoch in force for an entry at `hlc`: the last one opened strictly before it. */
export function epochAt(state: Pick<GovernanceState, 'epochs'>, hlc: bigint): Epoch {
  const { epochs } = state;
  let low = 0;
  let high = epochs.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (epochs[mid]!.fromHlc < hlc) low = mid;
    else high = mid - 1;
  }
  return epochs[low]!;
}

const compareRecords = (a: GovRecord, b: GovRecord): number =>
  a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : a.author < b.author ? -1 : a.author > b.author ? 1 : a.seq - b.seq;

/** What a proposal does to the epoch it opens, or why it does nothing. */
type Outcome = { next: Omit<Epoch, 'number' | 'fromHlc' | 'proposal'> } | { noEffect: string };

function applyAction(allianceId: Buffer, current: Epoch, p: ProposalStatus, at: bigint): Outcome {
  const action = p.proposal.action!;
  const members = new Map(current.members);
  const { quorum, trustedRoots, recognition, quorumLifts, creditPolicy } = current;
  const unchanged = { members, quorum, trustedRoots, recognition, quorumLifts, creditPolicy };
  const existing = (nodeId: Uint8Array): MemberState | string => {
    const id = Buffer.from(nodeId).toString('hex');
    const m = members.get(id);
    if (!m) return `${short(id)} is not a member`;
    if (m.status === 'removed') return `${m.record.city} (${short(id)}) was removed`;
    return m;
  };
  const setStatus = (nodeId: Uint8Array, from: MemberStatus[], to: MemberStatus): Outcome => {
    const m = existing(nodeId);
    if (typeof m === 'string') return { noEffect: m };
    if (!from.includes(m.status)) return { noEffect: `${m.record.city} (${short(m.nodeId)}) is ${m.status}` };
    members.set(m.nodeId, { ...m, status: to, sinceHlc: at });
    return keepsQuorum(members, quorum) ?? { next: unchanged };
  };

  switch (action.$case) {
    case 'addMember': {
      const record = action.value.member!;
      const id = nodeIdOf(record.publicKey);
      if (members.has(id)) return { noEffect: `${short(id)} is already a member (${members.get(id)!.status})` };
      if (!verifyAdmission(allianceId, record, action.value.possessionSignature)) {
        return { noEffect: `the join request of ${record.city} is not signed by its key (proof of possession fails)` };
      }
      if (keyInUse(members, record.publicKey)) return { noEffect: `the key of ${record.city} is already used by another member` };
      members.set(id, { nodeId: id, record, retiredKeys: [], status: 'active', sinceHlc: at });
      return { next: unchanged };
    }
    case 'suspendMember':
      return setStatus(action.value, ['active'], 'suspended');
    case 'reinstateMember':
      return setStatus(action.value, ['suspended'], 'active');
    case 'removeMember':
      return setStatus(action.value, ['active', 'suspended'], 'removed');
    case 'changeRoles': {
      const m = existing(action.value.nodeId);
      if (typeof m === 'string') return { noEffect: m };
      members.set(m.nodeId, { ...m, record: { ...m.record, roles: action.value.roles } });
      return keepsQuorum(members, quorum) ?? { next: unchanged };
    }
    case 'changeQuorum': {
      const admins = activeAdmins(members);
      if (action.value > admins) return { noEffect: `a quorum of ${action.value} is more than the ${admins} active admins` };
      return { next: { ...unchanged, quorum: action.value } };
    }
    case 'trustCa': {
      const fingerprint = sm3Hex(action.value);
      if (trustedRoots.some((r) => sm3Hex(r) === fingerprint)) return { noEffect: `CA root ${short(fingerprint)} is already trusted` };
      return { next: { ...unchanged, trustedRoots: [...trustedRoots, action.value] } };
    }
    case 'distrustCa': {
      const fingerprint = Buffer.from(action.value).toString('hex');
      const kept = trustedRoots.filter((r) => sm3Hex(r) !== fingerprint);
      if (kept.length === trustedRoots.length) return { noEffect: `CA root ${short(fingerprint)} is not trusted` };
      return { next: { ...unchanged, trustedRoots: kept } };
    }
    case 'rotateKey': {
      const rotation = action.value;
      const m = existing(rotation.nodeId);
      if (typeof m === 'string') return { noEffect: m };
      if (p.author !== m.nodeId) return { noEffect: `a key rotation is proposed by the member itself, signed with its current key; ${short(p.author)} proposed it` };
      if (!verifyRotation(rotation)) return { noEffect: 'the new key did not sign the rotation' };
      if (keyInUse(members, rotation.newPublicKey)) return { noEffect: 'the new key is already used by a member' };
      const record = { ...m.record, publicKey: rotation.newPublicKey, tlsCertificate: rotation.newTlsCertificate.length > 0 ? rotation.newTlsCertificate : m.record.tlsCertificate };
      members.set(m.nodeId, { ...m, record, retiredKeys: [...m.retiredKeys, { publicKey: m.record.publicKey, untilHlc: at }] });
      return { next: unchanged };
    }
    case 'updateMember': {
      const m = existing(Buffer.from(nodeIdOfCurrentKey(members, action.value.publicKey) ?? '', 'hex'));
      if (typeof m === 'string') return { noEffect: `no member holds the key in the update (${m})` };
      members.set(m.nodeId, { ...m, record: { ...action.value, roles: m.record.roles } });
      return { next: unchanged };
    }
    case 'changeRecognition':
      return { next: { ...unchanged, recognition: action.value } };
    case 'liftSanction': {
      const key = `${Buffer.from(action.value.issuer).toString('hex')}/${action.value.sanctionId}`;
      if (quorumLifts.has(key)) return { noEffect: `sanction ${action.value.sanctionId} was already lifted by a quorum` };
      return { next: { ...unchanged, quorumLifts: new Map([...quorumLifts, [key, at]]) } };
    }
    case 'changeCreditPolicy':
      if (action.value.version <= creditPolicy.version) return { noEffect: `credit policy version ${action.value.version} is not above version ${creditPolicy.version} in force` };
      return { next: { ...unchanged, creditPolicy: action.value } };
  }
}

function keyInUse(members: ReadonlyMap<string, MemberState>, publicKey: Uint8Array): boolean {
  const key = Buffer.from(publicKey);
  return [...members.values()].some((m) => key.equals(m.record.publicKey) || m.retiredKeys.some((r) => key.equals(r.publicKey)));
}

function nodeIdOfCurrentKey(members: ReadonlyMap<string, MemberState>, publicKey: Uint8Array): string | undefined {
  const key = Buffer.from(publicKey);
  return [...members.values()].find((m) => key.equals(m.record.publicKey))?.nodeId;
}

/** A change must leave enough active admins to reach the quorum, or governance could never act again. */
function keepsQuorum(members: ReadonlyMap<string, MemberState>, quorum: number): Outcome | undefined {
  const admins = activeAdmins(members);
  return admins < quorum ? { noEffect: `it would leave ${admins} active admin(s), fewer than the quorum of ${quorum}` } : undefined;
}

/**
 * The alliance's state after every governance record that can take effect.
 * Pure and deterministic: the records' order does not matter.
 */
export function computeGovernance(genesis: VerifiedGenesis, records: readonly GovRecord[]): GovernanceState {
  const sorted = [...records].sort(compareRecords);
  const epochs: Epoch[] = [epochZero(genesis)];
  const proposals = new Map<string, ProposalStatus>();
  const approvals = new Map<string, GovRecord[]>();
  const ignoredApprovals: Array<{ author: string; seq: number; reason: string }> = [];
  for (const r of sorted) {
    if (r.record.$case === 'governanceProposal') {
      if (!proposals.has(r.hash)) proposals.set(r.hash, { hash: r.hash, author: r.author, hlc: r.hlc, proposal: r.record.value, state: 'pending', approvals: [], needed: 0 });
    } else {
      const target = Buffer.from(r.record.value.proposalHash).toString('hex');
      approvals.set(target, [...(approvals.get(target) ?? []), r]);
    }
  }
  for (const [hash, list] of approvals) {
    if (!proposals.has(hash)) for (const a of list) ignoredApprovals.push({ author: a.author, seq: a.seq, reason: `approves ${short(hash)}, which is no proposal known here` });
  }

  /** Who counts for `p` among the admins of its epoch, each once, in order of approval: with the hlc each counted at. */
  const voters = (p: ProposalStatus, named: Epoch): Array<{ author: string; hlc: bigint }> => {
    const counted = new Map<string, bigint>();
    if (isAdmin(named.members.get(p.author))) counted.set(p.author, p.hlc);
    for (const a of approvals.get(p.hash) ?? []) {
      if (counted.has(a.author)) continue;
      const approval = a.record.value as GovernanceApproval;
      if (approval.epoch !== p.proposal.epoch) continue;
      if (!isAdmin(named.members.get(a.author))) continue;
      if (epochAt({ epochs }, a.hlc).members.get(a.author)?.status !== 'active') continue;
      counted.set(a.author, a.hlc);
    }
    return [...counted].map(([author, hlc]) => ({ author, hlc })).sort((x, y) => (x.hlc < y.hlc ? -1 : x.hlc > y.hlc ? 1 : x.author < y.author ? -1 : 1));
  };

  for (;;) {
    const current = epochs[epochs.length - 1]!;
    let best: { p: ProposalStatus; ready: bigint } | undefined;
    for (const p of proposals.values()) {
      if (p.state !== 'pending') continue;
      const named = Number(p.proposal.epoch);
      if (named > current.number) continue;
      if (current.number - named > proposalEpochLagMax) continue;
      const proposer = epochAt({ epochs }, p.hlc).members.get(p.author);
      if (proposer?.status !== 'active') {
        p.state = 'no-effect';
        p.detail = `its author was ${proposer?.status ?? 'not a member'} when it was proposed`;
        continue;
      }
      const epoch = epochs[named]!;
      const counted = voters(p, epoch);
      if (counted.length < epoch.quorum) continue;
      const ready = counted[epoch.quorum - 1]!.hlc;
      if (!best || ready < best.ready || (ready === best.ready && p.hash < best.p.hash)) best = { p, ready };
    }
    if (!best) break;
    const { p, ready } = best;
    const effective = ready > current.fromHlc ? ready : current.fromHlc;
    const outcome = applyAction(genesis.allianceId, current, p, effective);
    p.effectiveHlc = effective;
    if ('noEffect' in outcome) {
      p.state = 'no-effect';
      p.detail = outcome.noEffect;
      continue;
    }
    p.state = 'applied';
    p.epoch = current.number + 1;
    epochs.push({ ...outcome.next, number: current.number + 1, fromHlc: effective, proposal: p.hash });
  }

  const current = epochs[epochs.length - 1]!;
  for (const p of proposals.values()) {
    const named = Number(p.proposal.epoch);
    const epoch = epochs[named];
    if (epoch) {
      p.needed = epoch.quorum;
      p.approvals = voters(p, epoch).map((v) => v.author);
    }
    if (p.state !== 'pending') continue;
    if (named > current.number) p.detail = `names epoch ${named}, but the alliance is at epoch ${current.number}`;
    else if (current.number - named > proposalEpochLagMax) {
      p.state = 'stale';
      p.detail = `names epoch ${named}, more than ${proposalEpochLagMax} epochs ago (proposalEpochLagMax): propose it again`;
    } else p.detail = `${p.approvals.length} of ${p.needed} approvals`;
  }
  for (const [hash, list] of approvals) {
    const p = proposals.get(hash);
    if (!p) continue;
    const counted = new Set<string>([p.author]);
    for (const a of list) {
      const approval = a.record.value as GovernanceApproval;
      const ignore = (reason: string) => ignoredApprovals.push({ author: a.author, seq: a.seq, reason });
      if (approval.epoch !== p.proposal.epoch) ignore(`names epoch ${approval.epoch}, but proposal ${short(hash)} names epoch ${p.proposal.epoch} (a replayed or mistaken approval)`);
      else if (!p.approvals.includes(a.author)) ignore(`${short(a.author)} was not an active admin of epoch ${p.proposal.epoch} when it approved ${short(hash)}`);
      else if (counted.has(a.author)) ignore(`${short(a.author)} already approved ${short(hash)}`);
      else counted.add(a.author);
    }
  }

  return {
    allianceId: genesis.allianceId,
    name: genesis.body.allianceName,
    freshnessBudgetMs: Number(genesis.body.freshnessBudgetMs),
    epochs,
    current,
    proposals: [...proposals.values()].sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : a.hash < b.hash ? -1 : 1)),
    ignoredApprovals,
  };
}

/** Every member ever admitted, as the replication layer sees it now (current key, status, and when its entries stop counting). */
export function governedMembers(state: GovernanceState): Member[] {
  return [...state.current.members.values()].map(memberOf);
}

/** A member's state as the replication layer takes it: current key, status, and when its entries stop counting. */
export function memberOf(m: MemberState): Member {
  return {
    nodeId: m.nodeId,
    publicKey: m.record.publicKey,
    city: m.record.city,
    regionCode: m.record.regionCode,
    endpoints: m.record.endpoints,
    roles: m.record.roles,
    tlsCertificate: m.record.tlsCertificate,
    gossipAddresses: m.record.gossipAddresses,
    libp2pPeerId: m.record.libp2pPeerId,
    status: m.status,
    retiredKeys: m.retiredKeys,
    cutoffHlc: m.status === 'active' ? undefined : m.sinceHlc,
  };
}

export const roleNames: Record<number, string> = {
  [MemberRole.MEMBER_ROLE_CITY_CENTER]: 'city-center',
  [MemberRole.MEMBER_ROLE_ADMIN]: 'admin',
  [MemberRole.MEMBER_ROLE_OBSERVER]: 'observer',
};
export const roleName = (role: MemberRole): string => roleNames[role] ?? `role ${role}`;

/** Records anyone in the alliance may write; governance itself judges them. Everything else needs the city-center role. */
const governanceKinds: ReadonlySet<RecordKind> = new Set<RecordKind>(['governanceProposal', 'governanceApproval']);

/** Who may write what, and which CAs are trusted, at an entry's hlc. */
export function governancePolicy(state: GovernanceState): ViewPolicy {
  return {
    refusal(author, hlc, kind) {
      const epoch = epochAt(state, hlc);
      const m = epoch.members.get(author);
      if (!m) return `${short(author)} was not a member at epoch ${epoch.number}`;
      const who = `${m.record.city} (${short(author)})`;
      if (m.status !== 'active') return `${who} was ${m.status} at epoch ${epoch.number}: its entries from then on are not accepted`;
      if (governanceKinds.has(kind) || m.record.roles.includes(MemberRole.MEMBER_ROLE_CITY_CENTER)) return undefined;
      return `${who} has the role(s) ${m.record.roles.map(roleName).join(', ') || 'none'} at epoch ${epoch.number}: writing ${kind} needs the city-center role`;
    },
    trustedRoots: (hlc) => epochAt(state, hlc).trustedRoots,
  };
}
