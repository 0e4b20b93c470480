import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginOutcome, type IssueChallengeResponse, type VerifyLoginResponse } from '../../gen/tongxing/api/v1/certificates.js';
import { challengeBytes } from '../../federation/certificates.js';
import { createOpensslPki, makeTempDir, openssl, opensslIssue, opensslSign, type IssuedCertificate, type OpensslPki } from '../../federation/crypto/testing/openssl.js';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { loginChallengesAnsweredMax, loginChallengeTtlMs } from '../limits.js';

/** Challenges the old stateful store held at most: 100,000 IssueChallenge calls blocked every login (issue 12). */
const formerOutstandingMax = 100_000;
import { Membership } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { certificateRecord, usccFor } from '../../federation/testing/records.js';
import { openPolicy } from '../../federation/views/policy.js';
import { certificateService } from './certificate.js';
import { StatelessLoginChallenges } from './certificate-challenges.js';
import { apiContext } from './service.js';
import { Prng } from '../../federation/testing/prng.js';

// Stateless login challenges: issuing keeps nothing; answered ones are
// remembered until they expire, at most answeredMax, and none that might have
// been answered is ever accepted twice.

/** Distinct "random" bytes per call, so runs are reproducible. */
function counter(): (bytes: number) => Uint8Array {
  let n = 0;
  return (bytes) => {
    const out = Buffer.alloc(bytes);
    out.writeUInt32BE(++n, bytes - 4);
    return out;
  };
}

const key = Buffer.alloc(32, 0x5a);
const make = (init: { answeredMax?: number; ttlMs?: number; key?: Uint8Array } = {}) =>
  new StatelessLoginChallenges({ key: init.key ?? key, random: counter(), ttlMs: init.ttlMs ?? 1000, answeredMax: init.answeredMax ?? 10 });

describe('stateless login challenges', () => {
  it('issue 100,000 challenges without remembering any, and each still answers once', () => {
    const challenges = make({ answeredMax: loginChallengesAnsweredMax });
    const issued = Array.from({ length: 100_000 }, () => challenges.issue(0));
    expect(challenges.answeredCount).toBe(0);
    expect(issued[0]!.challenge).toHaveLength(challengeBytes);
    expect(issued[0]!.expiresAtMs).toBe(1000);
    expect(new Set(issued.map((i) => Buffer.from(i.challenge).toString('hex'))).size).toBe(100_000);
    // The flood left room for a login: the last and the first one issued are both good.
    expect(challenges.take(issued[99_999]!.challenge, 10)).toBe('ok');
    expect(challenges.take(issued[0]!.challenge, 10)).toBe('ok');
    expect(challenges.answeredCount).toBe(2);
  });

  it('refuse a replay (used), an expired one, and one not made under this key or altered (unknown)', () => {
    const challenges = make();
    const { challenge } = challenges.issue(0);
    expect(challenges.take(challenge, 500)).toBe('ok');
    expect(challenges.take(challenge, 600)).toBe('used');

    const late = challenges.issue(0).challenge;
    expect(challenges.take(late, 1001)).toBe('expired');

    const elsewhere = make({ key: Buffer.alloc(32, 0x11) }).issue(0).challenge;
    expect(challenges.take(elsewhere, 1)).toBe('unknown');
    // Moving the expiry later breaks the HMAC.
    const extended = Buffer.from(challenges.issue(0).challenge);
    extended[5]! ^= 0xff;
    expect(challenges.take(extended, 1)).toBe('unknown');
    expect(challenges.take(Buffer.alloc(challengeBytes, 7), 1)).toBe('unknown');
  });

  it('give a challenge back when its answer is refused before the signature check, so it answers again', () => {
    const challenges = make();
    const { challenge } = challenges.issue(0);
    expect(challenges.take(challenge, 1)).toBe('ok');
    challenges.release(challenge);
    expect(challenges.answeredCount).toBe(0);
    expect(challenges.take(challenge, 2)).toBe('ok');
    expect(challenges.take(challenge, 3)).toBe('used');
  });

  it('forget answered challenges once they expire', () => {
    const challenges = make();
    for (let i = 0; i < 5; i++) expect(challenges.take(challenges.issue(0).challenge, 1)).toBe('ok');
    expect(challenges.answeredCount).toBe(5);
    expect(challenges.take(challenges.issue(2000).challenge, 2001)).toBe('ok');
    expect(challenges.answeredCount).toBe(1);
    // Forgetting expired ones refuses nothing more: after the clock steps back, a new challenge still logs in.
    expect(challenges.take(challenges.issue(0).challenge, 1)).toBe('ok');
  });

  it('hold at most answeredMax; past it, a challenge expiring no later than a forgotten one is refused (crowded), and fresh ones still log in', () => {
    const challenges = make({ answeredMax: 3 });
    const early = challenges.issue(0).challenge; // expires at 1000
    const answered = [0, 10, 20, 30].map((t) => challenges.issue(t).challenge); // expire at 1000..1030
    for (const challenge of answered) expect(challenges.take(challenge, 40)).toBe('ok');
    expect(challenges.answeredCount).toBe(3);
    // The first answered (expiring at 1000) was forgotten to make room: its replay is still refused.
    expect(challenges.take(answered[0]!, 50)).toBe('crowded');
    // So is a challenge never answered that expires no later (it cannot be told from a replay).
    expect(challenges.take(early, 50)).toBe('crowded');
    // The remembered ones are replays; a challenge issued after them logs in.
    expect(challenges.take(answered[3]!, 50)).toBe('used');
    expect(challenges.take(challenges.issue(50).challenge, 60)).toBe('ok');
    expect(challenges.answeredCount).toBe(3);
  });

  it('default to loginChallengeTtlMs', () => {
    const challenges = new StatelessLoginChallenges({ key, random: counter() });
    expect(challenges.issue(5).expiresAtMs).toBe(5 + loginChallengeTtlMs);
  });
});

describe('logins at a node flooded with IssueChallenge', () => {
  let pki: OpensslPki;
  let unrecorded: IssuedCertificate;
  const derOf = (issued: IssuedCertificate): Buffer => openssl(['x509', '-in', issued.cert, '-outform', 'DER']);
  beforeAll(() => {
    pki = createOpensslPki(makeTempDir());
    unrecorded = opensslIssue(pki.dir, 'unrecorded', { subject: '/C=CN/O=Tongxing Test/CN=unrecorded', profile: 'leaf', days: 30, issuer: pki.intermediate });
  });
  afterAll(() => pki.dir.remove());

  it('still log in after more IssueChallenge calls than the old store held, and refuse each challenge answer by its own reason', async () => {
    const keys = generateKeyPair();
    const nodeId = nodeIdOf(keys.publicKey);
    const clock = { nowMs: () => Date.now() };
    const policy = { ...openPolicy, trustedRoots: () => [new Uint8Array(derOf(pki.root))] };
    const bus = new Bus();
    const replica = await Replica.open(
      { allianceId: Buffer.alloc(32, 1), keyPair: keys, members: new Membership([{ nodeId, publicKey: keys.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] }]), policy },
      { store: new MemoryStore(), transport: bus.transport(nodeId), clock, random: new Prng('test').random() },
    );
    bus.replicas.set(nodeId, replica);
    try {
      const h = certificateService(apiContext({ replica, clock, freshnessBudgetMs: 3_600_000, city: 'Kunming', allianceId: Buffer.alloc(32, 1), startedAtMs: 0, policy })).handlers;
      const record = certificateRecord(derOf(pki.leaf), { uscc: usccFor(2025) }, [derOf(pki.intermediate)]).kind!;
      await h.recordCertificate!({ record: record.value }, undefined as never);
      const issue = (): Promise<IssueChallengeResponse> => h.issueChallenge!({}, undefined as never);
      const answer = (challenge: Uint8Array, certificate: IssuedCertificate, signWith = certificate): Promise<VerifyLoginResponse> =>
        h.verifyLogin!(
          { challenge, certificateDer: derOf(certificate), issuerNameHash: '', serialNumber: '', signature: opensslSign(signWith.key, pki.dir.write(`c-${Buffer.from(challenge).toString('hex')}.bin`, challenge)) },
          undefined as never,
        );

      // One caller asks for more challenges than the old store ever held (it refused all logins past them).
      for (let i = 0; i <= formerOutstandingMax; i++) await issue();
      const { challenge } = await issue();
      expect(await answer(challenge, pki.leaf)).toMatchObject({ valid: true, outcome: LoginOutcome.LOGIN_OUTCOME_VALID });
      expect((await answer(challenge, pki.leaf)).outcome).toBe(LoginOutcome.LOGIN_OUTCOME_CHALLENGE_USED);

      // A wrong signature uses the challenge up: it was checked against the key.
      const wrong = (await issue()).challenge;
      expect((await answer(wrong, pki.leaf, unrecorded)).outcome).toBe(LoginOutcome.LOGIN_OUTCOME_WRONG_SIGNATURE);
      expect((await answer(wrong, pki.leaf)).outcome).toBe(LoginOutcome.LOGIN_OUTCOME_CHALLENGE_USED);

      // A certificate nobody recorded is refused before any signature check: the challenge still answers a login.
      const kept = (await issue()).challenge;
      expect((await answer(kept, unrecorded)).outcome).toBe(LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED);
      expect((await answer(kept, pki.leaf)).valid).toBe(true);
    } finally {
      await replica.close();
    }
  });
});
