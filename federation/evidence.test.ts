import { describe, expect, it } from 'vitest';
import { Verdict, type CheckSanctionsRequest, type CheckSanctionsResponse } from '../gen/tongxing/api/v1/api.js';
import { EvidenceBody, EvidenceBundle } from '../gen/tongxing/api/v1/evidence.js';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from './crypto/sm2.js';
import { EvidenceBusyError, evidenceBody, keyPairSigner, signEvidence, verifyEvidence, withStableHeads, type EvidenceAlliance } from './evidence.js';
import { signHead } from './log/head.js';
import { Membership } from './membership.js';
import type { Store } from './store/store.js';
import { sanction, usccFor } from './testing/records.js';

// Evidence bundles verify offline: the answering node's signature, its node id,
// the answer's consistency with the heads, and every head's signature.

const allianceId = Buffer.alloc(32, 0x42);
const kunming = generateKeyPair();
const guiyang = generateKeyPair();
const outsider = generateKeyPair();
const idOf = (keys: Sm2KeyPair) => nodeIdOf(keys.publicKey);
const uscc = usccFor(5);

const alliance: EvidenceAlliance = {
  allianceId,
  keyOf: (nodeId) => [kunming, guiyang].find((k) => idOf(k) === nodeId)?.publicKey,
  cityOf: (nodeId) => (nodeId === idOf(kunming) ? 'Kunming' : nodeId === idOf(guiyang) ? 'Guiyang' : undefined),
};

function head(keys: Sm2KeyPair, seq: number, signer = keys, inAlliance = allianceId): SignedHead {
  return signHead(
    { allianceId: inAlliance, author: Buffer.from(idOf(keys), 'hex'), seq: BigInt(seq), entryHash: Buffer.alloc(32, seq), hlc: BigInt(seq) << 16n, signedAtMs: 1_750_000_000_000n },
    signer,
  );
}

const query: CheckSanctionsRequest = { uscc, expertRef: '', atMs: 0n, evidence: true };

function answer(sanctionSeq = 2): CheckSanctionsResponse {
  return {
    verdict: Verdict.VERDICT_RESTRICTED,
    sanctions: [{ sanction: sanction('GY-1', uscc, 1_700_000_000_000), issued: { author: Buffer.from(idOf(guiyang), 'hex'), authorCity: 'Guiyang', seq: BigInt(sanctionSeq), hlc: 2n << 16n }, quarantined: false, recognised: true, recognition: 'recognised alliance-wide by rule 1' }],
    freshness: [
      { nodeId: Buffer.from(idOf(kunming), 'hex'), city: 'Kunming', seq: 9n, ageMs: 0n, stale: false },
      { nodeId: Buffer.from(idOf(guiyang), 'hex'), city: 'Guiyang', seq: 9n, ageMs: 800n, stale: false },
    ],
    atMs: 1_750_000_000_000n,
    freshnessBudgetMs: 30_000n,
    evidence: Buffer.alloc(0),
  };
}

function bundle(edit: { heads?: SignedHead[]; answer?: CheckSanctionsResponse; signer?: Sm2KeyPair } = {}): Uint8Array {
  const signer = keyPairSigner(edit.signer ?? kunming);
  const heads = edit.heads ?? [head(kunming, 1), head(guiyang, 3)];
  return signEvidence(evidenceBody({ allianceId, signer, city: 'Kunming', answeredAtMs: 1_750_000_000_000, query, answer: edit.answer ?? answer(), heads }), signer);
}

describe('evidence bundles', () => {
  it('verify with the alliance: signature, node id, heads; the answer carries the heads’ seqs', () => {
    const verdict = verifyEvidence(bundle(), alliance);
    expect(verdict).toMatchObject({ status: 'verified', problems: [], nodeId: idOf(kunming), headsChecked: 2 });
    expect(verdict.body!.answer!.freshness.map((f) => f.seq)).toEqual([1n, 3n]);
    expect(verdict.body!.query).toMatchObject({ uscc, evidence: false });
  });

  it('without the alliance, check the signature only and say the heads are unverified', () => {
    expect(verifyEvidence(bundle())).toMatchObject({ status: 'unverified-heads', problems: [], headsChecked: 0 });
  });

  it('are invalid when any byte of the body changes', () => {
    const bytes = bundle();
    const decoded = EvidenceBundle.decode(bytes);
    const body = EvidenceBody.decode(decoded.body);
    body.answer!.verdict = Verdict.VERDICT_CLEAR;
    body.answer!.sanctions = [];
    const forged = EvidenceBundle.encode({ body: Buffer.from(EvidenceBody.encode(body).finish()), signature: decoded.signature }).finish();
    expect(verifyEvidence(forged, alliance)).toMatchObject({ status: 'invalid', problems: [expect.stringMatching(/signature does not verify.*altered/)] });
    for (const at of [0, Math.floor(decoded.body.length / 2), decoded.body.length - 1]) {
      const flipped = Buffer.from(decoded.body);
      flipped[at] = flipped[at]! ^ 0x80;
      const verdict = verifyEvidence(EvidenceBundle.encode({ body: flipped, signature: decoded.signature }).finish(), alliance);
      expect(verdict.status, `byte ${at}`).toBe('invalid');
    }
    expect(verifyEvidence(Buffer.from('not a bundle at all'), alliance).status).toBe('invalid');
  });

  it('are invalid when a head is forged, from a non-member, or of another alliance', () => {
    const forged = verifyEvidence(bundle({ heads: [head(kunming, 1), head(guiyang, 3, kunming)] }), alliance);
    expect(forged).toMatchObject({ status: 'invalid', problems: [expect.stringMatching(/^head of Guiyang: .*signature does not verify/)] });
    const stranger = verifyEvidence(bundle({ heads: [head(kunming, 1), head(guiyang, 3), head(outsider, 1)] }), alliance);
    expect(stranger.problems).toEqual([expect.stringMatching(/not a member of the alliance/)]);
    const elsewhere = verifyEvidence(bundle({ heads: [head(kunming, 1), head(guiyang, 3, guiyang, Buffer.alloc(32, 1))] }), alliance);
    expect(elsewhere.problems).toEqual([expect.stringMatching(/^head of Guiyang: head\.allianceId/)]);
  });

  it('are invalid when signed by a non-member, or when the answer reads beyond the heads', () => {
    expect(verifyEvidence(bundle({ signer: outsider }), alliance).problems).toEqual([expect.stringMatching(/answering node .* is not a member/)]);
    const beyond = verifyEvidence(bundle({ answer: answer(4) }), alliance);
    expect(beyond.problems).toEqual([expect.stringMatching(/sanction GY-1 of .* is not covered by the heads/)]);
  });
});

describe('stable heads', () => {
  const fakeStore = (versions: SignedHead[][]): Store => {
    let call = 0;
    return { latestHeads: async () => versions[Math.min(call++, versions.length - 1)]! } as unknown as Store;
  };

  it('returns the check and the heads when nothing was stored meanwhile', async () => {
    const heads = [head(kunming, 1)];
    const { result, heads: used } = await withStableHeads(fakeStore([heads, heads]), async () => 'answer');
    expect(result).toBe('answer');
    expect(used).toEqual(heads);
  });

  it('retries while heads move, then gives up with EvidenceBusyError', async () => {
    const moving = Array.from({ length: 20 }, (_, i) => [head(kunming, i + 1)]);
    await expect(withStableHeads(fakeStore(moving), async () => 'answer')).rejects.toBeInstanceOf(EvidenceBusyError);
    const settles = [[head(kunming, 1)], [head(kunming, 2)], [head(kunming, 2)], [head(kunming, 2)]];
    const { heads } = await withStableHeads(fakeStore(settles), async () => 'answer');
    expect(heads[0]!.head!.seq).toBe(2n);
  });
});

describe('evidence bundles from members the genesis does not know', () => {
  it('verify heads with the keys the answering node vouches for, and say which', () => {
    const chengdu = generateKeyPair();
    const members = new Membership([kunming, guiyang, chengdu].map((k, i) => ({ nodeId: idOf(k), publicKey: k.publicKey, city: ['Kunming', 'Guiyang', 'Chengdu'][i]!, regionCode: '530100', endpoints: [] })));
    const heads = [head(kunming, 1), head(guiyang, 3), head(chengdu, 2)];
    const body = evidenceBody({ allianceId, signer: keyPairSigner(kunming), nodeId: idOf(kunming), city: 'Kunming', answeredAtMs: 1_750_000_000_000, query, answer: answer(), heads, members });
    const verdict = verifyEvidence(signEvidence(body, keyPairSigner(kunming)), alliance);
    expect(verdict).toMatchObject({ status: 'verified', problems: [], vouched: [idOf(chengdu)], headsChecked: 3 });
    // Without the vouching, the same head is a non-member's.
    const bare = evidenceBody({ allianceId, signer: keyPairSigner(kunming), city: 'Kunming', answeredAtMs: 1_750_000_000_000, query, answer: answer(), heads });
    expect(verifyEvidence(signEvidence(bare, keyPairSigner(kunming)), alliance).problems).toEqual([expect.stringMatching(/not a member of the alliance/)]);
  });
});
