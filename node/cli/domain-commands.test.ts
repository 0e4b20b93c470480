import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { opensslCrl } from '../../federation/crypto/testing/crl.js';
import { createOpensslPki, makeTempDir, openssl, opensslSign, type OpensslPki } from '../../federation/crypto/testing/openssl.js';
import { signedGenesis, testCity, type TestCity } from '../../federation/governance/testing.js';
import type { Replica } from '../../federation/replica.js';
import { usccFor } from '../../federation/testing/records.js';
import { genesisToJson } from '../genesis-file.js';
import { converged, startCities as startTestCities, tongxing } from './testing-cities.js';

// The certificate, alert, evidence and import/export commands, run in-process
// through main() against two cities' client APIs on 127.0.0.1 (Replicas on an
// in-process bus) founded by a signed genesis that trusts a real SM2 PKI's root.


let pki: OpensslPki;
let rootDer: Uint8Array;
let founders: TestCity[];
let genesisFile: string;
let allianceId: Buffer;

beforeAll(() => {
  pki = createOpensslPki(makeTempDir());
  rootDer = new Uint8Array(openssl(['x509', '-in', pki.root.cert, '-outform', 'DER']));
  founders = [testCity('Kunming'), testCity('Guiyang')];
  const { genesis, verified } = signedGenesis(founders, (body) => (body.trustedCaRoots = [Buffer.from(rootDer)]));
  allianceId = verified.allianceId;
  genesisFile = pki.dir.write('genesis.json', genesisToJson(genesis));
});
afterAll(() => pki.dir.remove());

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

interface Cities {
  readonly kunming: string;
  readonly guiyang: string;
  readonly replicas: Replica[];
}

async function startCities(): Promise<Cities> {
  const { addresses, replicas } = await startTestCities(founders, allianceId, rootDer, cleanups);
  return { kunming: addresses[0]!, guiyang: addresses[1]!, replicas };
}

const uscc = usccFor(3131);

describe('tongxing cert', () => {
  it('records at one city, shows and logs in at another (with a key file, or a challenge signed elsewhere)', async () => {
    const cities = await startCities();
    await tongxing('entity', 'register', '--node', cities.kunming, '--uscc', uscc, '--name', 'Dianchi Construction Co.', '--role', 'bidder');
    const recorded = await tongxing('cert', 'record', pki.leafChainFile, '--uscc', uscc, '--node', cities.kunming);
    expect(recorded.code).toBe(0);
    expect(recorded.stdout).toMatch(/^recorded certificate [0-9a-f]+ \("C=CN, O=成都公共资源交易中心, CN=city-a.example"\) for entity .* at Kunming/);
    expect(recorded.stdout).toMatch(/root CA "C=CN, O=Tongxing Test, CN=Test Root CA"/);
    await converged(cities);

    const shown = await tongxing('cert', 'show', pki.leaf.cert, '--node', cities.guiyang, '--json');
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({ found: true, status: 'valid', holder: { uscc, name: 'Dianchi Construction Co.' }, recorded: { authorCity: 'Kunming' } });

    const login = await tongxing('cert', 'login', pki.leaf.cert, '--key', pki.leaf.key, '--node', cities.guiyang);
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/^valid: entity .* \(Dianchi Construction Co\.\)\n/);
    expect(login.stdout).toContain('no active sanction at any member');

    // The platform flow: a challenge from the node, signed by the USB key (OpenSSL here), checked by the node.
    const challenge = (await tongxing('cert', 'challenge', '--node', cities.guiyang)).stdout.trim();
    expect(challenge).toMatch(/^[0-9a-f]{64}$/);
    const signature = pki.dir.write('login.sig', opensslSign(pki.leaf.key, pki.dir.write('login.challenge', Buffer.from(challenge, 'hex'))));
    const external = await tongxing('cert', 'login', pki.leaf.cert, '--challenge', challenge, '--signature', signature, '--node', cities.guiyang, '--json');
    expect(external.json()).toMatchObject({ valid: true, outcome: 'valid', holder: { uscc }, sanctions: { verdict: 'clear' } });
    const replay = await tongxing('cert', 'login', pki.leaf.cert, '--challenge', challenge, '--signature', signature, '--node', cities.guiyang);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toMatch(/^refused \(challenge-used\): that challenge was already used/);

    const wrongKey = await tongxing('cert', 'login', pki.leaf.cert, '--key', pki.foreignLeaf.key, '--node', cities.guiyang);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/^refused \(wrong-signature\)/);
  });

  it('refuses a certificate that is not SM2 or not from a trusted CA, exit 2 with the field', async () => {
    const cities = await startCities();
    const p256 = await tongxing('cert', 'record', pki.p256Root.cert, '--uscc', uscc, '--node', cities.kunming);
    expect(p256.code).toBe(2);
    expect(p256.stderr).toMatch(/^tongxing cert record: CERT .*p256-root\.pem: certificate not SM2: .*P-256/);
    const foreign = await tongxing('cert', 'record', pki.foreignLeaf.cert, '--uscc', uscc, '--node', cities.kunming);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/does not chain to a CA root the alliance trusts/);
    const usage = await tongxing('cert', 'record', pki.leaf.cert, '--node', cities.kunming);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/give exactly one of --uscc and --expert/);
  });

  it('revokes by this member’s word or a CA’s CRL, and a login anywhere is then refused', async () => {
    const cities = await startCities();
    await tongxing('cert', 'record', pki.leafChainFile, '--expert', 'km.e-000042', '--node', cities.kunming);
    const crl = opensslCrl(pki.dir, 'cli', pki.intermediate, [{ cert: pki.leaf.cert, reason: 'superseded' }]);
    const imported = await tongxing('cert', 'import-crl', crl, '--chain', pki.intermediate.cert, '--node', cities.guiyang);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported the CRL of "C=CN, O=Tongxing Test, CN=Test Intermediate CA": 1 certificate\(s\) revoked/);
    const untrusted = await tongxing('cert', 'import-crl', crl, '--node', cities.guiyang);
    expect(untrusted.code).toBe(2);
    await converged(cities);
    const login = await tongxing('cert', 'login', pki.leaf.cert, '--key', pki.leaf.key, '--node', cities.kunming);
    expect(login.code).toBe(1);
    expect(login.stdout).toMatch(/^refused \(revoked\): revoked at .* \(recorded from a CA-signed CRL\)\n {2}certificate of expert km\.e-000042/);

    const byWord = await tongxing('cert', 'revoke', pki.leaf.cert, '--reason', 'cessation', '--node', cities.kunming, '--json');
    expect(byWord.code, byWord.stderr).toBe(0);
    const shown = await tongxing('cert', 'show', pki.leaf.cert, '--node', cities.kunming);
    expect(shown.code).toBe(1);
    expect(shown.stdout).toMatch(/^revoked: /);
    expect(shown.stdout).toMatch(/\(a CA-signed CRL\), recorded at Guiyang/);
  });
});

describe('tongxing alerts and evidence', () => {
  it('alerts the watching city when a watched entity logs in elsewhere; a check’s evidence verifies offline', async () => {
    const cities = await startCities();
    await tongxing('cert', 'record', pki.leafChainFile, '--uscc', uscc, '--node', cities.kunming);
    const watch = await tongxing('sanction', 'issue', '--node', cities.kunming, '--id', 'KM-W-1', '--uscc', uscc, '--name', 'Dianchi Construction Co.', '--grounds', 'Abnormal bidding pattern', '--authority', 'Kunming DRC', '--document', 'KDRC[2025]9', '--list', 'watch', '--restriction', 'alert-only', '--from', new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
    expect(watch.code).toBe(0);
    await converged(cities);
    expect((await tongxing('alerts', '--node', cities.kunming)).stdout).toBe('no watch-list alerts\n');

    const login = await tongxing('cert', 'login', pki.leaf.cert, '--key', pki.leaf.key, '--node', cities.guiyang);
    expect(login.code, login.stderr).toBe(1); // valid, but on a list
    expect(login.stdout).toMatch(/^valid: /);
    expect(login.stdout).toContain('on the watch list of Kunming: they were alerted');
    await converged(cities);
    const alerts = await tongxing('alerts', '--node', cities.kunming);
    expect(alerts.stdout).toMatch(/^\d{4}-\d{2}-\d{2} .*\(Dianchi Construction Co\.\) signed in at Guiyang {2}\[sanction KM-W-1, certificate [0-9a-f]+\]\n$/);
    expect((await tongxing('alerts', '--node', cities.kunming, '--json')).json().alerts).toHaveLength(1);
    expect((await tongxing('alerts', '--node', cities.guiyang, '--json')).json().alerts).toHaveLength(0);

    const bundle = pki.dir.file('evidence.bin');
    const check = await tongxing('sanction', 'check', uscc, '--evidence', bundle, '--node', cities.guiyang);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/evidence bundle \(\d+ bytes, signed by this node\) written to /);
    const verified = await tongxing('evidence', 'verify', bundle, '--genesis', genesisFile);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^VERIFIED: this answer was given by Guiyang/);
    expect(verified.stdout).toMatch(/answer: RESTRICTED, 1 active sanction\(s\):\n {4}- Kunming: KM-W-1/);
    expect(verified.stdout).toMatch(/computed from 2 member log head\(s\), each signature verified: (Kunming|Guiyang) seq \d+, (Kunming|Guiyang) seq \d+/);

    const alone = await tongxing('evidence', 'verify', bundle);
    expect(alone.code).toBe(1);
    expect(alone.stdout).toMatch(/^SIGNATURE VALID, NOT VERIFIED/);
    const bytes = readFileSync(bundle);
    bytes[bytes.length - 80] = bytes[bytes.length - 80]! ^ 1;
    writeFileSync(bundle, bytes);
    const tampered = await tongxing('evidence', 'verify', bundle, '--genesis', genesisFile, '--json');
    expect(tampered.code).toBe(1);
    expect(tampered.json()).toMatchObject({ status: 'invalid' });
  });
});

describe('tongxing import / export', () => {
  const entities = [
    { LEGAL_NAME: '滇池建设有限公司', LEGAL_CODE: usccFor(501), LEGAL_ROLE: '投标人', REGION_CODE: '530100', LEGAL_REPRESENT: '张三' },
    { LEGAL_NAME: '春城监理有限公司', LEGAL_CODE: usccFor(502), LEGAL_ROLE: 'agency', REGION_CODE: '530100' },
    { LEGAL_NAME: '翠湖咨询有限公司', LEGAL_CODE: usccFor(503), LEGAL_ROLE: 'tenderer,bidder', REGION_CODE: 530100 },
  ];

  it('reports each bad row and writes nothing; then imports, and exports the same vocabulary at another city', async () => {
    const cities = await startCities();
    const bad = pki.dir.write('bad.json', JSON.stringify([entities[0], { ...entities[1], LEGAL_CODE: '91350100M000100Y44' }, { ...entities[2], LEGAL_ROLE: '竞买人' }]));
    const refused = await tongxing('import', 'entities', bad, '--api', cities.kunming);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^not imported: 2 problem\(s\); nothing was written/);
    expect(refused.stdout).toMatch(/row 1, LEGAL_CODE: check character \(position 18\)/);
    expect(refused.stdout).toMatch(/row 2, LEGAL_ROLE: "竞买人" is not one of bidder, tenderer, agency, other/);
    expect(cities.replicas[0]!.logs()[0]!.storedSeq + cities.replicas[0]!.logs()[1]!.storedSeq).toBe(0);

    const file = pki.dir.write('entities.json', JSON.stringify({ DATA: entities }));
    const dry = await tongxing('import', 'entities', file, '--api', cities.kunming, '--dry-run', '--json');
    expect(dry.json()).toEqual({ written: false, dryRun: true, rows: 3, created: 3, updated: 0, unchanged: 0 });
    const imported = await tongxing('import', 'entities', file, '--api', cities.kunming);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toBe('3 row(s) checked and written: 3 were registered, 0 were updated, 0 already recorded exactly so\n');
    expect(imported.stderr).toMatch(/import entities .*3\/3 rows/);
    await converged(cities);

    // Guiyang is not their home node: importing them there is refused row by row.
    const elsewhere = await tongxing('import', 'entities', file, '--api', cities.guiyang, '--json');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.json().errors).toEqual([0, 1, 2].map((row) => ({ row, field: 'LEGAL_CODE', reason: expect.stringMatching(/home node is Kunming/) })));

    const out = pki.dir.file('export.json');
    const exported = await tongxing('export', 'entities', '--out', out, '--api', cities.guiyang);
    expect(exported.stdout).toBe(`3 entities written to ${out}\n`);
    const rows = JSON.parse(readFileSync(out, 'utf8')) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.LEGAL_CODE, r.LEGAL_NAME, r.TX_HOME_CITY])).toEqual(entities.map((e) => [e.LEGAL_CODE, e.LEGAL_NAME, 'Kunming']).sort());
    // The exported file imports back unchanged at the home node.
    const again = await tongxing('import', 'entities', out, '--api', cities.kunming, '--json');
    expect(again.json()).toMatchObject({ written: true, created: 0, unchanged: 3 });
  });

  it('imports blacklist rows as sanctions issued here, and exports them with the issuer', async () => {
    const cities = await startCities();
    const rows = [
      {
        BLACKLIST_CODE: 'KM-BL-1',
        BODY_NAME: '滇池建设有限公司',
        BODY_CODE: usccFor(601),
        RECORD_REASON: '串通投标',
        RECORD_DATE: '2025-03-01',
        GOVERNMENT: '昆明市发展和改革委员会',
        DOCUMENT_CODE: '昆发改〔2025〕1号',
        CONFINED_ACTION: '禁止参加投标',
        CONFINED_END: '2027-03-01',
        SCOPE: '工程建设',
      },
    ];
    const file = pki.dir.write('blacklist.json', JSON.stringify(rows));
    expect((await tongxing('import', 'sanctions', file, '--node', cities.kunming)).code).toBe(0);
    await converged(cities);
    const check = await tongxing('sanction', 'check', usccFor(601), '--node', cities.guiyang, '--json');
    expect(check.json()).toMatchObject({ verdict: 'restricted', sanctions: [{ issuerCity: 'Kunming', sanction: { sanctionId: 'KM-BL-1', groundsCategory: 'GROUNDS_CATEGORY_COLLUSION' } }] });
    const exported = await tongxing('export', 'sanctions', '--api', cities.guiyang);
    expect(JSON.parse(exported.stdout)).toEqual([expect.objectContaining({ BLACKLIST_CODE: 'KM-BL-1', CONFINED_START: '2025-03-01', CONFINED_END: '2027-03-01', TX_ISSUER_CITY: 'Kunming', TX_GROUNDS_CATEGORY: 'collusion' })]);
    // A blacklist file is no expert file: every row lacks the expert's ID card, and nothing is sent.
    const experts = await tongxing('import', 'experts', file, '--node', cities.kunming);
    expect(experts.code).toBe(1);
    expect(experts.stdout).toMatch(/row 0, ID_CARD: missing/);
    const usage = await tongxing('import', 'people', file, '--node', cities.kunming);
    expect(usage.code).toBe(2);
  });
});
