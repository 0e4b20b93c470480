import { credentials as grpcCredentials, Metadata } from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityProfile, expertProfile, residentId, sanction, usccFor } from '../federation/testing/records.js';
import { readCredential, type ClientCredential } from './access/credential.js';
import { httpsCall } from './access/testing.js';
import { connectApi } from './api/client.js';
import { connectExperts } from './api/experts-client.js';
import { governanceClient } from './api/governance-client.js';
import { generateTlsIdentity } from './peer/tls.js';
import { ok, tongxing } from './cli/testing.js';
import { startLocalAlliance, type LocalAlliance } from './local-alliance.js';
import { eventually } from '../federation/testing/eventually.js';
import { generateKeyPair } from '../federation/crypto/sm2.js';

// Who may ask and who may write, against three real node processes: every
// attack the access-control finding scripted with plain HTTP and no key now
// fails, each its own case, and every refusal and write is in `tongxing audit`.

let alliance: LocalAlliance;
let admin: ClientCredential[];
const dayMs = 86_400_000;


/** A client granted at city i by its administrator over the CLI; returns its credential. */
async function grant(i: number, name: string, scopes: string, kind: '--token' | '--cert-out'): Promise<ClientCredential> {
  const file = join(alliance.dir, `${name}-${i}.credential`);
  await ok('access', 'grant', name, '--scopes', scopes, ...(kind === '--token' ? ['--token'] : []), '--out', file, '--node', alliance.cities[i]!.apiAddress);
  return readCredential(file);
}

const post = (credential: ClientCredential, path: string, body: unknown, headers: Record<string, string> = {}, as?: 'nobody') =>
  httpsCall(`${credential.http}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers }, credential, as });

const sanctionJson = (sanctionId: string, uscc: string) => ({
  sanction: {
    sanctionId,
    subject: { uscc, name: 'Forged Co.' },
    listType: 'LIST_TYPE_SERIOUS_DISHONESTY',
    grounds: 'forged by an attacker',
    groundsCategory: 'GROUNDS_CATEGORY_COLLUSION',
    decidingAuthority: 'nobody',
    documentCode: 'X-1',
    restriction: 'RESTRICTION_BAN',
    restrictionPeriod: { fromMs: String(Date.now() - dayMs), untilMs: String(Date.now() + 365 * dayMs) },
  },
});

async function auditOf(i: number, client?: string): Promise<Array<Record<string, string | number>>> {
  const text = await ok('audit', '--json', '--node', alliance.cities[i]!.apiAddress, ...(client ? ['--client', client] : []));
  return JSON.parse(text).records;
}

beforeAll(async () => {
  alliance = await startLocalAlliance({ cities: 3 });
  admin = alliance.cities.map((c) => readCredential(join(c.dataDir, 'admin.credential')));
});
afterAll(async () => alliance?.stop());

describe('client access at every node', () => {
  it('refuses a call without a credential: HTTP 401, and gRPC cannot even connect', async () => {
    const answer = await post(admin[0]!, '/v1/SanctionService/IssueSanction', sanctionJson('forged-1', usccFor(901)), {}, 'nobody');
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('no credential') });
    // gRPC: no client certificate, no handshake (a plaintext client is not spoken to at all).
    const { EntityServiceClient } = await import('../gen/tongxing/api/v1/api.js');
    const insecure = new EntityServiceClient(alliance.cities[0]!.apiAddress, grpcCredentials.createInsecure());
    const refused = await new Promise<{ code: number }>((resolve) => insecure.getEntity({ uscc: usccFor(1) }, new Metadata(), { deadline: Date.now() + 5000 }, (e) => resolve(e as never)));
    insecure.close();
    expect(refused.code).toBe(14); // UNAVAILABLE: the TLS server does not speak plaintext
  });

  it('a check-only platform checks, but its sanction is refused with 403 naming `sanction`, over HTTP and gRPC, and nothing is written', async () => {
    const platform = await grant(0, 'bidding-platform', 'check', '--token');
    const supervisor = await grant(0, 'supervision', 'check', '--cert-out');
    const uscc = usccFor(902);
    const checked = await httpsCall(`${platform.http}/v1/sanctions/check?uscc=${uscc}`, { credential: platform, headers: { 'x-tongxing-operator': encodeURIComponent('张三') } });
    expect(checked.status).toBe(200);
    const refused = await post(platform, '/v1/SanctionService/IssueSanction', sanctionJson('forged-2', uscc), { 'x-tongxing-operator': encodeURIComponent('张三') });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('needs the scope sanction') });
    const overGrpc = connectApi(alliance.cities[0]!.apiAddress, { credential: supervisor, operator: 'li.si' });
    try {
      await expect(overGrpc.issueSanction(sanction('forged-3', uscc, Date.now() - dayMs))).rejects.toMatchObject({ code: 'PERMISSION_DENIED', details: expect.stringContaining('sanction') });
      expect((await overGrpc.checkSanctions(uscc)).sanctions).toHaveLength(0);
      // Registering first, to take a company's home node away, needs `register`.
      await expect(overGrpc.registerEntity(entityProfile(uscc))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      overGrpc.close();
    }
    // Nothing was written here, so nothing reached the other cities.
    for (const i of [0, 1, 2]) {
      const api = connectApi(alliance.cities[i]!.apiAddress);
      try {
        expect((await api.checkSanctions(uscc)).sanctions).toHaveLength(0);
        expect((await api.getEntity(uscc)).found).toBe(false);
      } finally {
        api.close();
      }
    }
    const records = await auditOf(0);
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ client: 'bidding-platform', operator: '张三', method: 'tongxing.api.v1.SanctionService/IssueSanction', outcome: 'PERMISSION_DENIED', transport: 'http', subject: expect.stringContaining(uscc) }),
        expect.objectContaining({ client: 'supervision', operator: 'li.si', method: 'tongxing.api.v1.SanctionService/IssueSanction', outcome: 'PERMISSION_DENIED', transport: 'grpc' }),
        expect.objectContaining({ client: 'supervision', method: 'tongxing.api.v1.EntityService/RegisterEntity', outcome: 'PERMISSION_DENIED', subject: uscc }),
        expect.objectContaining({ client: '', outcome: 'UNAUTHENTICATED' }),
        expect.objectContaining({ client: 'admin', method: 'tongxing.api.v1.AccessService/GrantAccess', outcome: 'ok', subject: 'bidding-platform' }),
      ]),
    );
    // Reads are not audited unless they touch personal data.
    expect(records.some((r) => r.method === 'tongxing.api.v1.SanctionService/CheckSanctions')).toBe(false);
  });

  it("the finding's other writes each need their own scope: a check-only platform cannot revoke a certificate, read a backup, or approve", async () => {
    const platform = await grant(2, 'checker', 'check', '--token');
    const attempts: Array<[string, unknown, string]> = [
      ['/v1/CertificateService/RevokeCertificate', { revocation: { serialNumber: '01', issuerNameHash: '00'.repeat(32), revokedAtMs: String(Date.now() - 30 * dayMs), reason: 'REVOCATION_REASON_KEY_COMPROMISE' } }, 'register'],
      ['/v1/NodeService/Backup', {}, 'operate'],
      ['/v1/GovernanceService/Approve', { proposalHash: Buffer.alloc(32, 1).toString('base64') }, 'governance'],
      ['/v1/GovernanceService/Propose', { proposal: { reason: 'rogue CA', trustCa: Buffer.from('x').toString('base64') } }, 'governance'],
      ['/v1/ExpertService/GetExpert', { expertRef: 'x', includePersonal: true }, 'experts'],
      ['/v1/AccessService/GrantAccess', { grant: { name: 'rogue', scopes: ['sanction'] } }, 'operate'],
    ];
    for (const [path, body, scope] of attempts) {
      const answer = await post(platform, path, body);
      expect(answer.status, path).toBe(403);
      expect(JSON.parse(answer.text).message, path).toContain(`needs the scope ${scope}`);
    }
    expect(JSON.parse(await ok('access', 'list', '--json', '--node', alliance.cities[2]!.apiAddress)).clients.map((c: { name: string }) => c.name)).not.toContain('rogue');
  });

  it('a revoked token is refused on its next call, without a restart', async () => {
    const platform = await grant(1, 'short-lived', 'check', '--token');
    expect((await httpsCall(`${platform.http}/v1/entities/${usccFor(3)}`, { credential: platform })).status).toBe(200);
    await ok('access', 'revoke', 'short-lived', '--node', alliance.cities[1]!.apiAddress);
    const after = await httpsCall(`${platform.http}/v1/entities/${usccFor(3)}`, { credential: platform });
    expect(after.status).toBe(401);
    expect(JSON.parse(after.text).message).toMatch(/revoked/);
    expect(await auditOf(1, 'short-lived')).toEqual([expect.objectContaining({ outcome: 'UNAUTHENTICATED', detail: expect.stringMatching(/revoked/) })]);
  });

  it('a rotated token replaces the old one from the next call; --out with --cert is refused before anything changes', async () => {
    const first = await grant(1, 'rotating', 'check', '--token');
    const file = join(alliance.dir, 'rotating-next.credential');
    await ok('access', 'rotate', 'rotating', '--out', file, '--node', alliance.cities[1]!.apiAddress);
    const next = readCredential(file);
    expect(next.token).not.toBe(first.token);
    expect((await httpsCall(`${next.http}/v1/entities/${usccFor(3)}`, { credential: next })).status).toBe(200);
    expect((await httpsCall(`${first.http}/v1/entities/${usccFor(3)}`, { credential: first })).status).toBe(401);
    const refused = await tongxing('access', 'rotate', 'rotating', '--cert', file, '--out', file, '--node', alliance.cities[1]!.apiAddress);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('--out with --cert') });
    expect((await httpsCall(`${next.http}/v1/entities/${usccFor(3)}`, { credential: next })).status).toBe(200);
  });

  it('an unknown client certificate fails the TLS handshake, over gRPC and HTTPS', async () => {
    const stranger = await generateTlsIdentity('stranger');
    const forged: ClientCredential = { ...admin[2]!, client: 'stranger', certificate: stranger.certPem, key: stranger.keyPem };
    const api = connectApi(alliance.cities[2]!.apiAddress, { credential: forged });
    try {
      await expect(api.getStatus()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      api.close();
    }
    await expect(httpsCall(`${forged.http}/v1/status`, { credential: forged })).rejects.toThrow();
  });

  it('refuses a foreign Host (DNS rebinding) and a POST without Content-Type', async () => {
    const credential = admin[0]!;
    const rebound = await httpsCall(`${credential.http}/v1/status`, { credential, headers: { host: 'attacker.example:7403' } });
    expect(rebound.status).toBe(421);
    const untyped = await httpsCall(`${credential.http}/v1/NodeService/GetStatus`, { method: 'POST', credential });
    expect(untyped.status).toBe(415);
    expect(rebound.headers.get('access-control-allow-origin')).toBeNull();
  });

  it("keeps experts' personal fields behind the personal-data scope, and audits every read of them", async () => {
    const home = alliance.cities[0]!.apiAddress;
    const experts = connectExperts(home);
    let expertRef: string;
    try {
      ({ expertRef } = await experts.registerExpert(
        { name: '王五', idCardNumber: residentId('530102', '19800101', 1), phone: '13800000000', birthday: '', employerName: '云南建工集团' },
        { ...expertProfile(''), regionCode: '530100' },
      ));
    } finally {
      experts.close();
    }
    const reader = await grant(0, 'expert-desk', 'experts', '--cert-out');
    const desk = connectExperts(home, { credential: reader });
    try {
      expect((await desk.getExpert(expertRef)).profile?.expertRef).toBe(expertRef);
      await expect(desk.getExpert(expertRef, true)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', details: expect.stringContaining('personal-data') });
    } finally {
      desk.close();
    }
    const full = connectExperts(home);
    try {
      expect((await full.getExpert(expertRef, true)).personal?.name).toBe('王五');
    } finally {
      full.close();
    }
    const reads = (await auditOf(0)).filter((r) => r.method === 'tongxing.api.v1.ExpertService/GetExpert');
    expect(reads).toEqual([
      expect.objectContaining({ client: 'expert-desk', outcome: 'PERMISSION_DENIED', subject: expertRef }),
      expect.objectContaining({ client: 'admin', outcome: 'ok', subject: expertRef }),
    ]);
  });

  it('governance needs the approver signature besides the governance scope: a stolen credential cannot change the alliance', async () => {
    const stolen = await grant(0, 'governance-bot', 'governance,check', '--cert-out');
    const quorumOne = { epoch: 0n, reason: 'attack', action: { $case: 'changeQuorum' as const, value: 1 } };
    const withoutKey = governanceClient(alliance.cities[0]!.apiAddress, { credential: stolen, approver: generateKeyPair() });
    try {
      await expect(withoutKey.propose(quorumOne)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', details: expect.stringContaining('no approver key') });
    } finally {
      withoutKey.close();
    }
    // The administrator with another key than the registered one is refused too.
    const wrongKey = governanceClient(alliance.cities[0]!.apiAddress, { approver: generateKeyPair() });
    try {
      await expect(wrongKey.propose(quorumOne)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', details: expect.stringContaining('does not verify') });
      expect((await wrongKey.getGovernance()).proposals).toHaveLength(0);
    } finally {
      wrongKey.close();
    }
    // The CLI signs with the node's key, which the admin credential names: it works with no extra step.
    await ok('alliance', 'propose', 'quorum', '2', '--reason', 'restate the quorum', '--node', alliance.cities[0]!.apiAddress);
    await eventually('the proposal is recorded', async () => (await tongxing('alliance', 'status', '--json', '--node', alliance.cities[0]!.apiAddress)).stdout.includes('restate the quorum') || undefined);
  });
});
