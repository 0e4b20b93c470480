import { status } from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, sign } from '../../federation/crypto/sm2.js';
import { statusOf } from '../error-table.js';
import { clientCallsInFlightMax, operatorCharsMax } from '../limits.js';
import { generateTlsIdentity } from '../peer/tls.js';
import * as access from '../../gen/tongxing/api/v1/access.js';
import * as api from '../../gen/tongxing/api/v1/api.js';
import * as certificates from '../../gen/tongxing/api/v1/certificates.js';
import * as experts from '../../gen/tongxing/api/v1/experts.js';
import * as governance from '../../gen/tongxing/api/v1/governance.js';
import * as transfer from '../../gen/tongxing/api/v1/transfer.js';
import { AuditTrail } from './audit.js';
import { AccessGuard, approvalMessage, type CallIdentity } from './guard.js';
import { AccessRegistry } from './registry.js';
import { methodRules } from './scopes.js';

// The guard and the registry on a temporary directory and a hand-set clock:
// who is admitted, what is refused and why, what the audit trail says.

const dirs: string[] = [];
afterEach(async () => {
  await new Promise((resolve) => setImmediate(resolve)); // let refusals' audit records land before the directory goes
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(startMs = 1_800_000_000_000) {
  const dir = mkdtempSync(join(tmpdir(), 'tongxing-guard-'));
  dirs.push(dir);
  const clock = { now: startMs };
  const registry = AccessRegistry.open(join(dir, 'access'), () => clock.now);
  const audit = new AuditTrail(join(dir, 'audit'), () => clock.now);
  const guard = new AccessGuard({ registry, audit, clock: () => clock.now, outcomeOf: (e) => status[statusOf(e).code] });
  return { dir, clock, registry, audit, guard };
}

const issue = '/tongxing.api.v1.SanctionService/IssueSanction';
const check = '/tongxing.api.v1.SanctionService/CheckSanctions';
const propose = '/tongxing.api.v1.GovernanceService/Propose';
const noBytes = () => new Uint8Array();
const http = (token: string, operator?: string): CallIdentity => ({ transport: 'http', token, operator });

describe('access guard', () => {
  it('admits by token or pinned certificate, and refuses the rest with UNAUTHENTICATED and the reason', async () => {
    const { registry, guard } = setup();
    const { token } = registry.grant({ name: 'platform', scopes: ['check'] });
    const cert = await generateTlsIdentity('supervision');
    registry.grant({ name: 'supervision', scopes: ['check'], certificateDer: cert.certDer });
    expect(guard.admit(check, {}, noBytes, http(token!)).caller.client).toBe('platform');
    expect(guard.admit(check, {}, noBytes, { transport: 'grpc', certificateDer: cert.certDer }).caller.client).toBe('supervision');
    const refusal = (identity: CallIdentity) => {
      try {
        guard.admit(check, {}, noBytes, identity);
      } catch (error) {
        return statusOf(error);
      }
      throw new Error('admitted');
    };
    expect(refusal({ transport: 'http' })).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('no credential') });
    expect(refusal(http(token!.slice(0, -1) + (token!.endsWith('A') ? 'B' : 'A')))).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('not one this node issued') });
    const stranger = await generateTlsIdentity('stranger');
    expect(refusal({ transport: 'grpc', certificateDer: stranger.certDer })).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('not registered') });
  });

  it('refuses a scope it lacks with PERMISSION_DENIED naming the scope, and personal fields without personal-data', () => {
    const { registry, guard } = setup();
    const { token } = registry.grant({ name: 'desk', scopes: ['check', 'experts'] });
    expect(() => guard.admit(issue, {}, noBytes, http(token!))).toThrow(/needs the scope sanction; client desk has check, experts/);
    const getExpert = '/tongxing.api.v1.ExpertService/GetExpert';
    expect(guard.admit(getExpert, { expertRef: 'e1', includePersonal: false }, noBytes, http(token!)).caller.client).toBe('desk');
    expect(() => guard.admit(getExpert, { expertRef: 'e1', includePersonal: true }, noBytes, http(token!))).toThrow(/needs the scope personal-data/);
  });

  it('refuses a revoked client at its next call, and an expired one from its expiry, without reopening anything', () => {
    const { registry, guard, clock } = setup();
    const { token } = registry.grant({ name: 'old', scopes: ['check'], expiresAtMs: clock.now + 60_000 });
    const { token: other } = registry.grant({ name: 'other', scopes: ['check'] });
    guard.admit(check, {}, noBytes, http(token!)).finish();
    clock.now += 60_000;
    expect(() => guard.admit(check, {}, noBytes, http(token!))).toThrow(/expired/);
    registry.revoke('other');
    expect(() => guard.admit(check, {}, noBytes, http(other!))).toThrow(/revoked/);
  });

  it('holds a client to its calls per second and clientCallsInFlightMax, naming the limit', async () => {
    const { registry, guard, clock } = setup();
    const { token } = registry.grant({ name: 'burst', scopes: ['check'], callsPerSecondMax: 10 });
    for (let i = 0; i < 10; i++) await guard.admit(check, {}, noBytes, http(token!)).finish();
    expect(() => guard.admit(check, {}, noBytes, http(token!))).toThrow(/exceeds 10 calls per second/);
    clock.now += 100; // one call's worth refilled
    await guard.admit(check, {}, noBytes, http(token!)).finish();
    expect(() => guard.admit(check, {}, noBytes, http(token!))).toThrow(/exceeds 10 calls per second/);

    const { token: wide } = registry.grant({ name: 'pool', scopes: ['check'], callsPerSecondMax: 1_000_000 });
    const open = Array.from({ length: clientCallsInFlightMax }, () => guard.admit(check, {}, noBytes, http(wide!)));
    expect(() => guard.admit(check, {}, noBytes, http(wide!))).toThrow(new RegExp(`${clientCallsInFlightMax} calls in flight.*clientCallsInFlightMax`));
    await open[0]!.finish();
    await guard.admit(check, {}, noBytes, http(wide!)).finish();
  });

  it('refuses an operator name over operatorCharsMax or with control characters, naming the field', () => {
    const { registry, guard } = setup();
    const { token } = registry.grant({ name: 'platform', scopes: ['check'] });
    expect(guard.admit(check, {}, noBytes, http(token!, '张'.repeat(operatorCharsMax))).caller.operator).toHaveLength(operatorCharsMax);
    expect(() => guard.admit(check, {}, noBytes, http(token!, 'x'.repeat(operatorCharsMax + 1)))).toThrow(/operator: x-tongxing-operator must be at most 128 printable characters/);
    expect(() => guard.admit(check, {}, noBytes, http(token!, 'li\nsi'))).toThrow(/operator:/);
  });

  it('needs an approver signature over the exact request for governance', () => {
    const { registry, guard } = setup();
    const approver = generateKeyPair();
    const { token } = registry.grant({ name: 'alice', scopes: ['governance'], approverPublicKey: approver.publicKey });
    const { token: bot } = registry.grant({ name: 'bot', scopes: ['governance'] });
    const bytes = new Uint8Array([1, 2, 3]);
    const signed = sign(approver.privateKey, approvalMessage(propose, bytes), approver.publicKey);
    expect(guard.admit(propose, {}, () => bytes, { ...http(token!), approval: signed }).caller.client).toBe('alice');
    expect(() => guard.admit(propose, {}, () => new Uint8Array([1, 2, 4]), { ...http(token!), approval: signed })).toThrow(/does not verify/);
    expect(() => guard.admit(propose, {}, () => bytes, http(token!))).toThrow(/carry x-tongxing-approval/);
    expect(() => guard.admit(propose, {}, () => bytes, { ...http(bot!), approval: signed })).toThrow(/no approver key/);
  });

  it('audits every write and every refusal with client, operator, subject and outcome; plain reads are not audited', async () => {
    const { registry, guard, audit } = setup();
    const { token } = registry.grant({ name: 'platform', scopes: ['check'] });
    await guard.run(check, { uscc: 'x' }, noBytes, http(token!, '张三'), async () => 'ok');
    const request = { sanction: { sanctionId: 'KM-1', subject: { id: { $case: 'uscc', value: '91350100M000100Y43' } } } };
    await expect(guard.run(issue, request, noBytes, http(token!, '张三'), async () => 'never')).rejects.toThrow(/scope sanction/);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await audit.read()).records).toEqual([
      expect.objectContaining({ client: 'platform', operator: '张三', method: issue.slice(1), subject: 'KM-1 91350100M000100Y43', outcome: 'PERMISSION_DENIED', transport: 'http' }),
    ]);
  });

  it('has a rule for every method of the client API, so none is served unguarded', () => {
    const modules: unknown[] = [access, api, certificates, experts, governance, transfer];
    // Generated service definitions are the exports named ...Service whose members carry a gRPC path.
    const paths = modules.flatMap((m) =>
      Object.entries(m as Record<string, Record<string, { path?: unknown }>>)
        .filter(([name]) => name.endsWith('Service'))
        .flatMap(([, service]) => Object.values(service).map((method) => method.path))
        .filter((path): path is string => typeof path === 'string'),
    );
    expect(paths.length).toBeGreaterThan(30);
    for (const path of paths) expect(methodRules[path], path).toBeDefined();
  });
});

describe('access registry', () => {
  it('keeps tokens only as hashes, survives a reopen, and refuses bad grants naming the field', () => {
    const { dir, registry, clock } = setup();
    const { token } = registry.grant({ name: 'platform', scopes: ['check', 'register'] });
    const file = readFileSync(join(dir, 'access', 'clients.json'), 'utf8');
    expect(file).not.toContain(token!);
    const reopened = AccessRegistry.open(join(dir, 'access'), () => clock.now);
    expect(reopened.byToken(token!)?.scopes).toEqual(['check', 'register']);
    expect(() => registry.grant({ name: 'Platform!', scopes: ['check'] })).toThrow(/grant.name/);
    expect(() => registry.grant({ name: 'x', scopes: ['root'] })).toThrow(/grant.scopes: unknown scope root/);
    expect(() => registry.grant({ name: 'x', scopes: [] })).toThrow(/grant.scopes/);
    expect(() => registry.grant({ name: 'platform', scopes: ['check'] })).toThrow(/exists/);
    expect(() => registry.grant({ name: 'y', scopes: ['check'], expiresAtMs: clock.now - 1 })).toThrow(/grant.expiresAtMs: is in the past/);
  });

  it('a rotated token replaces the old one from the next lookup', () => {
    const { registry } = setup();
    const { token } = registry.grant({ name: 'portal', scopes: ['check'] });
    const { token: next } = registry.rotate('portal');
    expect(registry.byToken(token!)).toBeUndefined();
    expect(registry.byToken(next!)?.name).toBe('portal');
  });

  it('refuses a registry file that is not one, rather than starting empty', () => {
    const { dir } = setup();
    writeFileSync(join(dir, 'access', 'clients.json'), '{"clients": [');
    expect(() => AccessRegistry.open(join(dir, 'access'))).toThrow(/not a client registry/);
  });
});

describe('audit trail', () => {
  it('reads one client\'s records (not another whose name it prefixes), and from a time on', async () => {
    const { audit, clock } = setup();
    const record = (client: string) => audit.record({ client, operator: '', method: 'm', subject: client, outcome: 'ok', detail: `as "client":"${client}2",`, transport: 'http' });
    await record('admin');
    clock.now += 10;
    await Promise.all([record('admin2'), record('admin')]);
    expect((await audit.read({ client: 'admin' })).records.map((r) => r.client)).toEqual(['admin', 'admin']);
    expect((await audit.read({ client: 'admin2' })).records).toHaveLength(1);
    expect((await audit.read({ sinceMs: clock.now })).records).toHaveLength(2);
    expect(await audit.read({ limit: 1 })).toMatchObject({ records: [{ client: 'admin' }], truncated: true });
  });

  it('skips a line torn by a crash, and the next record starts a line of its own', async () => {
    const { dir, audit } = setup();
    await audit.record({ client: 'a', operator: '', method: 'm', subject: 's', outcome: 'ok', detail: '', transport: 'grpc' });
    writeFileSync(join(dir, 'audit', 'audit.jsonl'), readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8') + '{"atMs":1,"cli');
    const reopened = new AuditTrail(join(dir, 'audit'));
    await reopened.record({ client: 'b', operator: '', method: 'm', subject: 's', outcome: 'ok', detail: '', transport: 'grpc' });
    expect((await reopened.read()).records.map((r) => r.client)).toEqual(['a', 'b']);
  });
});
