import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Verdict } from '../gen/tongxing/api/v1/api.js';
import { LoginOutcome, type VerifyLoginResponse } from '../gen/tongxing/api/v1/certificates.js';
import { nodeIdOf } from '../federation/crypto/sm2.js';
import { createOpensslPki, makeTempDir, openssl, opensslSign, type IssuedCertificate, type OpensslPki } from '../federation/crypto/testing/openssl.js';
import { verifyEvidence } from '../federation/evidence.js';
import { entityProfile, sanction, usccFor, watchSanction } from '../federation/testing/records.js';
import { connectApi, type ApiClient } from './api/client.js';
import { connectDomainApi, type DomainClient } from './api/domain-client.js';
import { loadGenesis } from './genesis-file.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';
import { eventually } from '../federation/testing/eventually.js';

// 一锁通行 and 一处失信、处处受限 across real node processes (bin/tongxing.js
// from dist/: `make test` builds first) with LevelDB, gRPC and libp2p on
// 127.0.0.1, founded by a genesis that trusts the root of a real SM2 PKI made
// by the OpenSSL CLI. Conditions are awaited with deadlines; nothing asserts
// on how long anything took.

let pki: OpensslPki;
let alliance: LocalAlliance | undefined;
const closers: Array<() => void> = [];
const der = (issued: IssuedCertificate): Uint8Array => new Uint8Array(openssl(['x509', '-in', issued.cert, '-outform', 'DER']));

beforeAll(() => {
  pki = createOpensslPki(makeTempDir());
});
afterAll(() => pki.dir.remove());
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await alliance?.stop();
  alliance = undefined;
});

function clients(i: number): { api: ApiClient; domain: DomainClient } {
  const address = alliance!.cities[i]!.apiAddress;
  const api = connectApi(address);
  const domain = connectDomainApi(address);
  closers.push(() => api.close(), () => domain.close());
  return { api, domain };
}

/** The platform's login: a challenge from the node, signed by the USB key (the OpenSSL CLI here). */
async function login(domain: DomainClient, certificate: IssuedCertificate): Promise<VerifyLoginResponse> {
  const { challenge } = await domain.issueChallenge();
  const file = pki.dir.write(`challenge-${challenge.toString('hex')}.bin`, challenge);
  return domain.verifyLogin({ challenge, certificateDer: Buffer.from(der(certificate)), signature: opensslSign(certificate.key, file) });
}

describe('certificates and sanctions across node processes', () => {
  it('a certificate recorded at Kunming logs in at Guiyang; a sanction issued at Nanning blocks the login-time check there; evidence verifies', async () => {
    alliance = await startLocalAlliance({ cities: 3, trustedCaRoots: [der(pki.root)] });
    const [kunming, guiyang, nanning] = [clients(0), clients(1), clients(2)];
    const uscc = usccFor(4242);

    await kunming.api.registerEntity({ ...entityProfile(uscc), legalName: '滇池建设有限公司' });
    await kunming.domain.recordCertificate({
      certificateDer: Buffer.from(der(pki.leaf)),
      holder: { $case: 'entityUscc', value: uscc },
      usccOverride: undefined,
      intermediatesDer: [Buffer.from(der(pki.intermediate))],
    });

    const first = await eventually('the certificate to log in at Guiyang', async () => {
      const answer = await login(guiyang.domain, pki.leaf);
      return answer.outcome === LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED ? undefined : answer;
    });
    expect(first).toMatchObject({ valid: true, holder: { id: { value: uscc }, name: '滇池建设有限公司' }, recorded: { authorCity: alliance.cities[0]!.city } });
    expect(first.sanctions!.verdict).not.toBe(Verdict.VERDICT_RESTRICTED);

    await nanning.api.issueSanction(sanction('NN-1', uscc, Date.now() - 1000));
    await nanning.api.issueSanction(watchSanction('NN-W-1', uscc, Date.now() - 1000));
    const blocked = await eventually('the sanction to reach Guiyang', async () => {
      const answer = await login(guiyang.domain, pki.leaf);
      return answer.sanctions?.sanctions.length === 2 ? answer : undefined;
    });
    expect(blocked.valid).toBe(true);
    expect(blocked.sanctions!.verdict).toBe(Verdict.VERDICT_RESTRICTED);
    expect(blocked.sanctions!.sanctions.map((s) => s.issued!.authorCity)).toEqual([alliance.cities[2]!.city, alliance.cities[2]!.city]);
    expect(blocked.watch.map((w) => w.sanction!.sanctionId)).toEqual(['NN-W-1']);
    const alerts = await eventually('Nanning to receive the watch-list alert', async () => {
      const list = await nanning.domain.listAlerts();
      return list.alerts.length > 0 ? list : undefined;
    });
    expect(alerts.alerts[0]!.recorded!.authorCity).toBe(alliance.cities[1]!.city);

    const check = await guiyang.api.checkSanctions({ uscc, evidence: true });
    const genesis = loadGenesis(alliance.genesisFile);
    const members = new Map(genesis.body.founders.map((f) => [nodeIdOf(f.publicKey), f]));
    const verdict = verifyEvidence(check.evidence, { allianceId: genesis.allianceId, keyOf: (id) => members.get(id)?.publicKey, cityOf: (id) => members.get(id)?.city });
    expect(verdict).toMatchObject({ status: 'verified', nodeId: alliance.cities[1]!.nodeId });
    expect(verdict.body!.answer!.verdict).toBe(Verdict.VERDICT_RESTRICTED);
  });
});
