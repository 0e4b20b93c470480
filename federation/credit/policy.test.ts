import { describe, expect, it } from 'vitest';
import type { CreditPolicy, GovernanceProposal } from '../../gen/tongxing/records/v1/records.js';
import { computeGovernance, type GovRecord } from '../governance/state.js';
import { signedGenesis, testCity } from '../governance/testing.js';
import { hlcPack } from '../log/hlc.js';
import { validateGovernanceProposal } from '../records/validate.js';
import { cutoffMs } from './day.js';
import { defaultCreditPolicy } from './method.js';
import { creditPolicyAt, creditPolicyForDay, creditPolicyForSession } from './policy.js';

// The credit policy is alliance policy: changed only by a quorum, each change a
// higher version, in force from the approval that completes the quorum.

const founders = ['Kunming', 'Guiyang', 'Nanning'].map((c) => testCity(c));
const [kunming, guiyang] = founders as [ReturnType<typeof testCity>, ReturnType<typeof testCity>];
const { verified } = signedGenesis(founders); // quorum 2 of 3
let seq = 1;
const hash = (n: number) => n.toString(16).padStart(64, '0');
const at = (ms: number) => hlcPack(ms, 0);

function propose(author: string, hlc: bigint, action: GovernanceProposal['action']): GovRecord {
  const n = seq++;
  return { author, seq: n, hlc, hash: hash(n), record: { $case: 'governanceProposal', value: { epoch: 0n, reason: 'credit method v2', action } } };
}
function approve(author: string, hlc: bigint, proposal: GovRecord): GovRecord {
  const n = seq++;
  return { author, seq: n, hlc, hash: hash(n), record: { $case: 'governanceApproval', value: { proposalHash: Buffer.from(proposal.hash, 'hex'), epoch: 0n } } };
}

const v2: CreditPolicy = { ...defaultCreditPolicy, version: 2, expertThresholdHundredths: 7000 };
const dayTwo = cutoffMs('2026-03-02');

describe('the credit policy in force', () => {
  it('is the genesis default until a quorum adopts a higher version, from the approval that completes it', () => {
    const p = propose(kunming.nodeId, at(dayTwo - 5000), { $case: 'changeCreditPolicy', value: v2 });
    const pending = computeGovernance(verified, [p]);
    expect(creditPolicyAt(pending, dayTwo + 1).version).toBe(1);
    const state = computeGovernance(verified, [p, approve(guiyang.nodeId, at(dayTwo - 1000), p)]);
    expect(creditPolicyAt(state, dayTwo - 2000).version).toBe(1);
    expect(creditPolicyAt(state, dayTwo).expertThresholdHundredths).toBe(7000);
    // A day's index uses the version in force at its cut-off; a day not begun yet, the one in force now.
    expect(creditPolicyForDay(state, '2026-03-01', dayTwo + 10).version).toBe(1);
    expect(creditPolicyForDay(state, '2026-03-02', dayTwo + 10).version).toBe(2);
    expect(creditPolicyForDay(state, '2026-03-09', dayTwo - 2000).version).toBe(1);
    // A draw: the earlier of the slot day's cut-off and the session's recording.
    expect(creditPolicyForSession(state, dayTwo - 2000, dayTwo + 86_400_000).version).toBe(1);
    expect(creditPolicyForSession(state, dayTwo + 1, dayTwo + 86_400_000).version).toBe(2);
    expect(creditPolicyAt(undefined, dayTwo)).toBe(defaultCreditPolicy);
  });

  it('has no effect when the version is not above the one in force, and says so', () => {
    const p = propose(kunming.nodeId, at(dayTwo), { $case: 'changeCreditPolicy', value: { ...v2, version: 1 } });
    const state = computeGovernance(verified, [p, approve(guiyang.nodeId, at(dayTwo + 1), p)]);
    expect(state.proposals[0]).toMatchObject({ state: 'no-effect', detail: 'credit policy version 1 is not above version 1 in force' });
  });

  it('is validated as a proposal, naming the field', () => {
    const proposal: GovernanceProposal = { epoch: 0n, reason: 'r', action: { $case: 'changeCreditPolicy', value: { ...v2, expertThresholdHundredths: 0.5 } } };
    expect(() => validateGovernanceProposal(proposal, 'proposal')).toThrow('proposal.changeCreditPolicy.expertThresholdHundredths: 0.5 is not an integer');
  });
});
