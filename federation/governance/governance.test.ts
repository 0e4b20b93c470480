import { describe, expect, it } from 'vitest';
import { MemberRole, type GovernanceProposal } from '../../gen/tongxing/records/v1/records.js';
import { generateKeyPair } from '../crypto/sm2.js';
import { SignatureError, ValidationError } from '../errors.js';
import { proposalEpochLagMax } from '../limits.js';
import { encodeGenesisBody, keyRotation, signGenesis, verifyGenesis, withSignature } from './genesis.js';
import { computeGovernance, epochAt, governancePolicy, governedMembers, type GovRecord } from './state.js';
import { admission, signedGenesis, testCity, testGenesisBody } from './testing.js';

const [kunming, guiyang, nanning] = ['Kunming', 'Guiyang', 'Nanning'].map((c) => testCity(c)) as [ReturnType<typeof testCity>, ReturnType<typeof testCity>, ReturnType<typeof testCity>];
const founders = [kunming, guiyang, nanning];
const { verified } = signedGenesis(founders);
const chengdu = testCity('Chengdu');

let nextSeq = 1;
const hashOf = (n: number): string => n.toString(16).padStart(64, '0');

function propose(author: string, hlc: bigint, action: GovernanceProposal['action'], epoch = 0n): GovRecord {
  const seq = nextSeq++;
  return { author, seq, hlc, hash: hashOf(seq), record: { $case: 'governanceProposal', value: { epoch, reason: 'test', action } } };
}

function approve(author: string, hlc: bigint, proposal: GovRecord, epoch = 0n): GovRecord {
  const seq = nextSeq++;
  return { author, seq, hlc, hash: hashOf(seq), record: { $case: 'governanceApproval', value: { proposalHash: Buffer.from(proposal.hash, 'hex'), epoch } } };
}

describe('genesis', () => {
  it('is valid once every founder has signed, and its id is the SM3 of the body', () => {
    expect(verified.body.founders).toHaveLength(3);
    expect(verified.allianceId).toHaveLength(32);
  });

  it('reports the founders that have not signed yet, and refuses it as final', () => {
    const bytes = encodeGenesisBody(testGenesisBody(founders));
    const partial = withSignature({ body: Buffer.from(bytes), signatures: [] }, signGenesis(bytes, kunming.keyPair));
    expect(verifyGenesis(partial, { partial: true }).missing).toEqual(['Guiyang', 'Nanning']);
    expect(() => verifyGenesis(partial)).toThrow(/not signed by Guiyang, Nanning/);
  });

  it('refuses a tampered body: every signature breaks', () => {
    const { genesis } = signedGenesis(founders);
    const body = Buffer.from(genesis.body);
    body.writeUInt8(body.readUInt8(body.length - 1) ^ 1, body.length - 1); // created_at_ms
    expect(() => verifyGenesis({ ...genesis, body })).toThrow(SignatureError);
  });

  it('refuses a signature by a non-founder, at signing and at checking', () => {
    const bytes = encodeGenesisBody(testGenesisBody(founders));
    expect(() => signGenesis(bytes, chengdu.keyPair)).toThrow(/not a founder/);
    const { genesis } = signedGenesis(founders);
    const forged = { ...genesis, signatures: [...genesis.signatures, { nodeId: Buffer.from(chengdu.nodeId, 'hex'), signature: genesis.signatures[0]!.signature }] };
    expect(() => verifyGenesis(forged)).toThrow(/is not a founder/);
  });

  it('names the field of a broken rule', () => {
    expect(() => signedGenesis(founders, (b) => (b.quorum = 4))).toThrow(new ValidationError('genesis.quorum', 'must be 1..3 (the number of admin founders)'));
    expect(() => signedGenesis(founders, (b) => (b.allianceName = ''))).toThrow(ValidationError);
    expect(() => signedGenesis([kunming, kunming])).toThrow(/genesis.founders\[1\].publicKey: appears twice/);
  });
});

describe('governance state', () => {
  it('admits a city once a quorum of the named epoch approves; short of quorum nothing changes', () => {
    const add = propose(kunming.nodeId, 100n, admission(verified.allianceId, chengdu));
    const short = computeGovernance(verified, [add]); // the proposer's own approval: 1 of 2
    expect(short.current.number).toBe(0);
    expect(short.proposals[0]).toMatchObject({ state: 'pending', approvals: [kunming.nodeId], needed: 2 });
    expect(governancePolicy(short).refusal(chengdu.nodeId, 500n, 'sanctionIssue')).toMatch(/not a member/);

    const done = computeGovernance(verified, [add, approve(guiyang.nodeId, 120n, add)]);
    expect(done.current.number).toBe(1);
    expect(done.current.fromHlc).toBe(120n);
    expect(done.proposals[0]).toMatchObject({ state: 'applied', epoch: 1, effectiveHlc: 120n });
    expect(governedMembers(done).find((m) => m.nodeId === chengdu.nodeId)).toMatchObject({ city: 'Chengdu', status: 'active' });
    expect(governancePolicy(done).refusal(chengdu.nodeId, 121n, 'sanctionIssue')).toBeUndefined();
  });

  it('gives the same epochs for any order of the same records (seeded shuffles)', () => {
    const a = propose(kunming.nodeId, 100n, admission(verified.allianceId, chengdu));
    const b = propose(guiyang.nodeId, 101n, { $case: 'changeQuorum', value: 3 });
    const c = propose(nanning.nodeId, 102n, { $case: 'suspendMember', value: Buffer.from(guiyang.nodeId, 'hex') });
    const records = [a, b, c, approve(nanning.nodeId, 130n, a), approve(kunming.nodeId, 130n, b), approve(kunming.nodeId, 131n, c), approve(guiyang.nodeId, 140n, a)];
    const expected = computeGovernance(verified, records);
    const seed = 20251128;
    let state32 = seed;
    const random = (n: number): number => {
      state32 = (Math.imul(state32, 1664525) + 1013904223) >>> 0; // LCG: enough to shuffle a test's records
      return state32 % n;
    };
    for (let round = 0; round < 20; round++) {
      const shuffled = [...records];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = random(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const state = computeGovernance(verified, shuffled);
      expect(state.proposals.map((p) => [p.hash, p.state, p.epoch]), `seed ${seed} round ${round}`).toEqual(expected.proposals.map((p) => [p.hash, p.state, p.epoch]));
    }
    // a and b are ready at hlc 130: the lower hash goes first. c then suspends Guiyang at 131.
    expect(expected.epochs.map((e) => e.proposal)).toEqual([undefined, a.hash, b.hash, c.hash]);
  });

  it('ignores an approval naming another epoch (replayed), a repeated approval and one by a non-admin', () => {
    const observer = testCity('Lanzhou', [MemberRole.MEMBER_ROLE_OBSERVER]);
    const { verified: g } = signedGenesis([kunming, guiyang, nanning, observer], (b) => (b.quorum = 3));
    const p = propose(kunming.nodeId, 100n, { $case: 'changeQuorum', value: 2 });
    const state = computeGovernance(g, [p, approve(guiyang.nodeId, 110n, p, 5n), approve(observer.nodeId, 111n, p), approve(nanning.nodeId, 112n, p), approve(nanning.nodeId, 113n, p)]);
    expect(state.current.number).toBe(0);
    expect(state.proposals[0]).toMatchObject({ approvals: [kunming.nodeId, nanning.nodeId], needed: 3 });
    expect(state.ignoredApprovals.map((i) => i.reason)).toEqual([
      expect.stringMatching(/names epoch 5, but proposal .* names epoch 0 \(a replayed or mistaken approval\)/),
      expect.stringMatching(/was not an active admin of epoch 0 when it approved/),
      expect.stringMatching(/already approved/),
    ]);
  });

  it('records an approval of an unknown proposal as ignored, with the reason', () => {
    const p = propose(kunming.nodeId, 100n, { $case: 'changeQuorum', value: 1 });
    const state = computeGovernance(verified, [approve(guiyang.nodeId, 110n, p)]);
    expect(state.current.number).toBe(0);
    expect(state.ignoredApprovals[0]!.reason).toMatch(/no proposal known here/);
  });

  it('refuses a removed member from its cutoff on, and keeps its earlier entries', () => {
    const p = propose(kunming.nodeId, 100n, { $case: 'removeMember', value: Buffer.from(nanning.nodeId, 'hex') });
    const state = computeGovernance(verified, [p, approve(guiyang.nodeId, 150n, p)]);
    const policy = governancePolicy(state);
    expect(policy.refusal(nanning.nodeId, 149n, 'sanctionIssue')).toBeUndefined();
    expect(policy.refusal(nanning.nodeId, 151n, 'sanctionIssue')).toMatch(/Nanning .* was removed at epoch 1/);
    expect(governedMembers(state).find((m) => m.nodeId === nanning.nodeId)).toMatchObject({ status: 'removed', cutoffHlc: 150n });
  });

  it('has no effect when a change would leave fewer admins than the quorum', () => {
    const { verified: g } = signedGenesis([kunming, guiyang], (b) => (b.quorum = 2));
    const p = propose(kunming.nodeId, 100n, { $case: 'suspendMember', value: Buffer.from(guiyang.nodeId, 'hex') });
    const state = computeGovernance(g, [p, approve(guiyang.nodeId, 110n, p)]);
    expect(state.current.number).toBe(0);
    expect(state.proposals[0]).toMatchObject({ state: 'no-effect', detail: 'it would leave 1 active admin(s), fewer than the quorum of 2' });
  });

  it('refuses record kinds a role does not allow, but lets any member vote', () => {
    const observer = testCity('Lanzhou', [MemberRole.MEMBER_ROLE_OBSERVER]);
    const { verified: g } = signedGenesis([kunming, guiyang, observer]);
    const policy = governancePolicy(computeGovernance(g, []));
    expect(policy.refusal(observer.nodeId, 10n, 'entityRegistration')).toMatch(/Lanzhou .* has the role\(s\) observer at epoch 0: writing entityRegistration needs the city-center role/);
    expect(policy.refusal(observer.nodeId, 10n, 'governanceProposal')).toBeUndefined();
  });

  it('rotates a key when the member itself proposes it; the old key stays valid for earlier heads', () => {
    const next = generateKeyPair();
    const rotation = keyRotation(Buffer.from(guiyang.nodeId, 'hex'), next);
    const byOther = propose(kunming.nodeId, 100n, { $case: 'rotateKey', value: rotation });
    const byItself = propose(guiyang.nodeId, 101n, { $case: 'rotateKey', value: rotation });
    const state = computeGovernance(verified, [byOther, approve(nanning.nodeId, 110n, byOther), byItself, approve(kunming.nodeId, 120n, byItself)]);
    expect(state.proposals[0]).toMatchObject({ state: 'no-effect', detail: expect.stringMatching(/proposed by the member itself/) });
    expect(state.proposals[1]).toMatchObject({ state: 'applied', epoch: 1 });
    const member = governedMembers(state).find((m) => m.nodeId === guiyang.nodeId)!;
    expect(Buffer.from(member.publicKey).equals(next.publicKey)).toBe(true);
    expect(member.retiredKeys).toEqual([{ publicKey: guiyang.member.publicKey, untilHlc: 120n }]);
  });

  it('marks a rotation whose new key did not sign it as no effect', () => {
    const rotation = { ...keyRotation(Buffer.from(guiyang.nodeId, 'hex'), generateKeyPair()), newPublicKey: Buffer.from(generateKeyPair().publicKey) };
    const p = propose(guiyang.nodeId, 100n, { $case: 'rotateKey', value: rotation });
    expect(computeGovernance(verified, [p, approve(kunming.nodeId, 110n, p)]).proposals[0]).toMatchObject({ state: 'no-effect', detail: 'the new key did not sign the rotation' });
  });

  it('refuses a join request whose proof of possession is not by the joining key', () => {
    const action = admission(verified.allianceId, chengdu);
    if (action?.$case !== 'addMember') throw new Error('unreachable');
    const forged = { ...action, value: { ...action.value, possessionSignature: admissionBy(generateKeyPair()) } };
    const p = propose(kunming.nodeId, 100n, forged);
    expect(computeGovernance(verified, [p, approve(guiyang.nodeId, 110n, p)]).proposals[0]).toMatchObject({ state: 'no-effect', detail: expect.stringMatching(/proof of possession fails/) });
  });

  it('lets a proposal count approvals for a few epochs, then calls it stale', () => {
    const records: GovRecord[] = [];
    const old = propose(kunming.nodeId, 50n, { $case: 'changeQuorum', value: 1 });
    records.push(old);
    let hlc = 100n;
    for (let epoch = 0n; epoch <= BigInt(proposalEpochLagMax); epoch++) {
      const p = propose(kunming.nodeId, hlc++, { $case: 'trustCa', value: Buffer.from([0x30, 0x03, 0x02, 0x01, Number(epoch)]) }, epoch);
      records.push(p, approve(guiyang.nodeId, hlc++, p, epoch));
    }
    records.push(approve(guiyang.nodeId, hlc++, old));
    const state = computeGovernance(verified, records);
    expect(state.current.number).toBe(proposalEpochLagMax + 1);
    expect(state.proposals[0]).toMatchObject({ state: 'stale', detail: expect.stringMatching(/propose it again/) });
  });

  it('looks up the epoch in force by hlc', () => {
    const p = propose(kunming.nodeId, 100n, { $case: 'changeQuorum', value: 3 });
    const state = computeGovernance(verified, [p, approve(guiyang.nodeId, 200n, p)]);
    expect(epochAt(state, 200n).number).toBe(0);
    expect(epochAt(state, 201n).number).toBe(1);
  });
});

function admissionBy(keyPair: ReturnType<typeof generateKeyPair>): Buffer {
  // A signature over the right bytes by the wrong key.
  const wrong = { ...chengdu, keyPair, member: { ...chengdu.member, publicKey: Buffer.from(keyPair.publicKey) } };
  const action = admission(verified.allianceId, wrong);
  if (action?.$case !== 'addMember') throw new Error('unreachable');
  return action.value.possessionSignature;
}
