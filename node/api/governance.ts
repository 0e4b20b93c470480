import {
  GovernanceServiceService,
  type ApproveRequest,
  type ApproveResponse,
  type GetGovernanceResponse,
  type GetSnapshotResponse,
  type OptOutRequest,
  type OptOutResponse,
  type ProposeRequest,
  type ProposeResponse,
} from '../../gen/tongxing/api/v1/governance.js';
import { MemberRole, type GovernanceProposal } from '../../gen/tongxing/records/v1/records.js';
import { nodeIdOf } from '../../federation/crypto/sm2.js';
import { sm3Hex } from '../../federation/crypto/sm3.js';
import { AlreadyExistsError, MembershipError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { verifyAdmission, verifyRotation } from '../../federation/governance/genesis.js';
import { signSnapshot } from '../../federation/governance/snapshot.js';
import { roleName, type GovernanceState } from '../../federation/governance/state.js';
import { decodeEntry } from '../../federation/log/entry.js';
import { validateGovernanceProposal, validateSanctionOptOut } from '../../federation/records/validate.js';
import type { ApiContext, ApiService } from './service.js';

// GovernanceService: proposals and approvals are records in this node's own
// log; what they add up to is computed on every node alike
// (federation/governance/state.ts). Checks here only turn mistakes an admin
// can see coming into clear errors before anything is written.

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** One line saying what a proposal does, with cities for node ids where known. */
export function describeProposal(proposal: GovernanceProposal, cityOf: (nodeId: string) => string): string {
  const who = (nodeId: Uint8Array) => `${cityOf(hex(nodeId)) || 'unknown member'} (${hex(nodeId).slice(0, 12)})`;
  const action = proposal.action;
  switch (action?.$case) {
    case 'addMember':
      return `admit ${action.value.member?.city ?? '?'} (${action.value.member ? nodeIdOf(action.value.member.publicKey).slice(0, 12) : '?'}) as ${action.value.member?.roles.map(roleName).join(', ')}`;
    case 'suspendMember':
      return `suspend ${who(action.value)}`;
    case 'reinstateMember':
      return `reinstate ${who(action.value)}`;
    case 'removeMember':
      return `remove ${who(action.value)}`;
    case 'trustCa':
      return `trust CA root ${sm3Hex(action.value).slice(0, 12)}`;
    case 'distrustCa':
      return `distrust CA root ${hex(action.value).slice(0, 12)}`;
    case 'changeRoles':
      return `make ${who(action.value.nodeId)} ${action.value.roles.map(roleName).join(', ')}`;
    case 'changeQuorum':
      return `need ${action.value} approvals from now on`;
    case 'rotateKey':
      return `rotate the key of ${who(action.value.nodeId)} to ${nodeIdOf(action.value.newPublicKey).slice(0, 12)}`;
    case 'changeRecognition':
      return `recognise alliance-wide: ${action.value.rules.length} rule(s)`;
    case 'liftSanction':
      return `lift sanction ${action.value.sanctionId} of ${who(action.value.issuer)} by quorum`;
    case 'updateMember':
      return `update the endpoints and certificate of ${who(Buffer.from(nodeIdOf(action.value.publicKey), 'hex'))}`;
    default:
      return 'nothing';
  }
}

export function governanceService(c: ApiContext): ApiService {
  return {
    definition: GovernanceServiceService,
    handlers: {
      propose: (request) => propose(c, request),
      approve: (request) => approve(c, request),
      getGovernance: async () => governanceResponse(c, stateOf(c)),
      optOut: (request) => optOut(c, request),
      getSnapshot: async () => snapshot(c),
    },
  };
}

function stateOf(c: ApiContext): GovernanceState {
  const governance = c.replica.governance;
  if (!governance) throw new PreconditionError('this node runs without a genesis: its membership is static');
  return governance;
}

/** The entry hash of a record this node just wrote. */
async function entryHash(c: ApiContext, seq: number): Promise<Buffer> {
  const [stored] = await c.replica.store.entries(c.replica.nodeId, seq, seq, 1);
  return decodeEntry(stored!.bytes).hash;
}

/** Refusals an admin can see coming: the same rules governance applies, checked before writing. */
function precheck(c: ApiContext, governance: GovernanceState, proposal: GovernanceProposal): void {
  const action = proposal.action!;
  const members = governance.current.members;
  const member = (nodeId: Uint8Array, field: string) => {
    const m = members.get(hex(nodeId));
    if (!m) throw new ValidationError(field, `${hex(nodeId).slice(0, 12)} is not a member`);
    return m;
  };
  switch (action.$case) {
    case 'addMember':
      if (!verifyAdmission(governance.allianceId, action.value.member!, action.value.possessionSignature)) {
        throw new ValidationError('proposal.addMember.possessionSignature', 'does not verify: the join request was not signed by the key it names, or for another alliance');
      }
      if (members.has(nodeIdOf(action.value.member!.publicKey))) throw new AlreadyExistsError(`proposal.addMember: ${action.value.member!.city} is already a member`);
      return;
    case 'suspendMember':
    case 'reinstateMember':
    case 'removeMember':
      member(action.value, `proposal.${action.$case}`);
      return;
    case 'changeRoles':
      member(action.value.nodeId, 'proposal.changeRoles.nodeId');
      return;
    case 'rotateKey':
      if (hex(action.value.nodeId) !== c.replica.nodeId) throw new ValidationError('proposal.rotateKey.nodeId', 'a member rotates its own key: propose it at the node whose key it is');
      if (!verifyRotation(action.value)) throw new ValidationError('proposal.rotateKey.newKeySignature', 'does not verify under the new key');
      return;
    default:
      return;
  }
}

async function propose(c: ApiContext, request: ProposeRequest): Promise<ProposeResponse> {
  if (!request.proposal) throw new ValidationError('proposal', 'missing');
  const governance = stateOf(c);
  const proposal: GovernanceProposal = { ...request.proposal, epoch: BigInt(governance.current.number) };
  validateGovernanceProposal(proposal, 'proposal');
  precheck(c, governance, proposal);
  const written = await c.replica.write({ kind: { $case: 'governanceProposal', value: proposal } });
  return { proposalHash: await entryHash(c, written.seq), epoch: proposal.epoch, provenance: c.provenance(written) };
}

async function approve(c: ApiContext, request: ApproveRequest): Promise<ApproveResponse> {
  if (request.proposalHash.length !== 32) throw new ValidationError('proposalHash', `${request.proposalHash.length} bytes, expected 32 (the hash 'alliance propose' printed)`);
  const target = hex(request.proposalHash);
  return c.serial.run(`approve/${target}`, async () => {
    const governance = stateOf(c);
    const proposal = governance.proposals.find((p) => p.hash === target);
    if (!proposal) throw new NotFoundError(`proposalHash: no proposal ${target.slice(0, 12)} is known at this node (not written yet, or not replicated here yet)`);
    if (proposal.state !== 'pending') throw new PreconditionError(`proposal ${target.slice(0, 12)} is ${proposal.state}${proposal.detail ? `: ${proposal.detail}` : ''}`);
    if (proposal.approvals.includes(c.replica.nodeId)) throw new AlreadyExistsError(`this node already approved proposal ${target.slice(0, 12)}`);
    const self = governance.epochs[Number(proposal.proposal.epoch)]?.members.get(c.replica.nodeId);
    if (self?.status !== 'active' || !self.record.roles.includes(MemberRole.MEMBER_ROLE_ADMIN)) {
      throw new MembershipError(`this node is not an active admin of epoch ${proposal.proposal.epoch}, the epoch the proposal names: its approval would not count`);
    }
    const written = await c.replica.write({ kind: { $case: 'governanceApproval', value: { proposalHash: request.proposalHash, epoch: proposal.proposal.epoch } } });
    return { provenance: c.provenance(written), epoch: proposal.proposal.epoch };
  });
}

function governanceResponse(c: ApiContext, governance: GovernanceState): GetGovernanceResponse {
  const { current } = governance;
  return {
    allianceId: governance.allianceId,
    name: governance.name,
    epoch: BigInt(current.number),
    quorum: current.quorum,
    members: [...current.members.values()].map((m) => ({
      nodeId: Buffer.from(m.nodeId, 'hex'),
      city: m.record.city,
      regionCode: m.record.regionCode,
      roles: m.record.roles,
      status: m.status,
      endpoints: m.record.endpoints,
      publicKey: m.record.publicKey,
      retiredKeys: m.retiredKeys.length,
      self: m.nodeId === c.replica.nodeId,
    })),
    proposals: governance.proposals.map((p) => ({
      hash: Buffer.from(p.hash, 'hex'),
      author: Buffer.from(p.author, 'hex'),
      authorCity: c.cityOf(p.author),
      epoch: p.proposal.epoch,
      action: p.proposal.action?.$case ?? '',
      summary: describeProposal(p.proposal, c.cityOf),
      reason: p.proposal.reason,
      state: p.state,
      approvals: p.approvals.map((a) => Buffer.from(a, 'hex')),
      needed: p.needed,
      detail: p.detail ?? '',
      openedEpoch: BigInt(p.epoch ?? 0),
    })),
    trustedCaFingerprints: current.trustedRoots.map((r) => Buffer.from(sm3Hex(r), 'hex')),
    recognition: current.recognition,
    ignoredApprovals: governance.ignoredApprovals.map((i) => ({ author: Buffer.from(i.author, 'hex'), seq: BigInt(i.seq), reason: i.reason })),
    freshnessBudgetMs: BigInt(governance.freshnessBudgetMs),
  };
}

async function optOut(c: ApiContext, request: OptOutRequest): Promise<OptOutResponse> {
  if (!request.optOut) throw new ValidationError('optOut', 'missing');
  validateSanctionOptOut(request.optOut, 'optOut');
  if (hex(request.optOut.issuer) === c.replica.nodeId) throw new ValidationError('optOut.issuer', 'is this node: lift your own sanction instead of opting out of it');
  const written = await c.replica.write({ kind: { $case: 'sanctionOptOut', value: request.optOut } });
  return { provenance: c.provenance(written) };
}

function snapshot(c: ApiContext): GetSnapshotResponse {
  const governance = stateOf(c);
  if (!c.genesis || !c.signer) throw new PreconditionError('this node has no genesis or signing key to sign a membership snapshot with');
  const signer = c.signer;
  return { snapshot: signSnapshot(c.genesis, governance, { nodeId: c.replica.nodeId, sign: (message) => signer.sign(message) }, c.clock.nowMs()) };
}
