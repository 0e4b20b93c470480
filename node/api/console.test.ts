import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListEntitiesResponse } from '../../gen/tongxing/api/v1/console.js';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { ValidationError } from '../../federation/errors.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { Prng } from '../../federation/testing/prng.js';
import { entityProfile, usccFor } from '../../federation/testing/records.js';
import type { Caller } from '../access/guard.js';
import { httpsCall, testAccess, type TestAccess } from '../access/testing.js';
import type { ClientCredential } from '../access/credential.js';
import { consolePageRowsMax } from '../limits.js';
import { consoleService } from './console.js';
import { startHttpServer, type HttpServer } from './http.js';
import { apiContext, type ApiService } from './service.js';

// ConsoleService over a one-member replica on a MemoryStore, and the console's
// files as the HTTP port serves them (from a folder laid out as Vite builds it).

const startMs = Date.UTC(2026, 0, 5, 2, 0, 0);
const allianceId = Buffer.alloc(32, 0x5a);
let replica: Replica;
let service: ApiService;
const caller: Caller = { client: 'console-admin', operator: '张三', scopes: new Set(['check', 'operate']) };
const names = (page: ListEntitiesResponse) => page.entities.map((e) => e.profile!.legalName);

beforeAll(async () => {
  const keyPair = generateKeyPair();
  const member: Member = { nodeId: nodeIdOf(keyPair.publicKey), publicKey: keyPair.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] };
  const clock = { nowMs: () => startMs };
  replica = await Replica.open({ allianceId, keyPair, members: new Membership([member]) }, { store: new MemoryStore(), transport: new Bus().transport(member.nodeId), clock, random: new Prng('console').random() });
  // 25 companies; every fifth a 路桥 (road and bridge) company.
  for (let n = 1; n <= 25; n++) {
    await replica.write({ kind: { $case: 'entityRegistration', value: { profile: entityProfile(usccFor(1000 + n), n % 5 === 0 ? `滇池路桥${n}有限公司` : `春城咨询${n}有限公司`) } } });
  }
  service = consoleService(apiContext({ replica, clock, freshnessBudgetMs: 30_000, city: 'Kunming', allianceId, startedAtMs: startMs }), { get: (name) => (name === 'console-admin' ? ({ approverPublicKey: 'ab' } as never) : undefined) });
});
afterAll(() => replica?.close());

const list = (request: { pageSize?: number; pageToken?: string; nameContains?: string }) =>
  service.handlers.listEntities!({ pageSize: 0, pageToken: '', nameContains: '', ...request }, caller) as Promise<ListEntitiesResponse>;

describe('ConsoleService', () => {
  it('says who signed in, with the scopes and whether the grant may approve', async () => {
    const session = await service.handlers.getConsoleSession!({}, caller);
    expect(session).toMatchObject({ client: 'console-admin', operator: '张三', approver: true, city: 'Kunming' });
    expect(session.scopes.sort()).toEqual(['check', 'operate']);
  });

  it('pages the register in USCC order, each entity once, to the end', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await list({ pageSize: 10, pageToken: token });
      seen.push(...page.entities.map((e) => e.profile!.uscc));
      expect(page.entities.length).toBeLessThanOrEqual(10);
      token = page.nextPageToken;
      pages += 1;
    } while (token !== '');
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => usccFor(1001 + i)).sort());
    expect((await list({ pageSize: 10 })).entities[0]).toMatchObject({ homeCity: 'Kunming' });
  });

  it('filters by a part of the legal name, page by page', async () => {
    const first = await list({ nameContains: '路桥', pageSize: 3 });
    expect(names(first)).toEqual(['滇池路桥5有限公司', '滇池路桥10有限公司', '滇池路桥15有限公司']);
    const second = await list({ nameContains: '路桥', pageSize: 3, pageToken: first.nextPageToken });
    expect(names(second)).toEqual(['滇池路桥20有限公司', '滇池路桥25有限公司']);
    expect(second.nextPageToken).toBe('');
    expect((await list({ nameContains: '没有这家' })).entities).toEqual([]);
  });

  it('refuses a page larger than consolePageRowsMax and a token it did not give, naming the field', async () => {
    await expect(list({ pageSize: consolePageRowsMax + 1 })).rejects.toThrow(new ValidationError('pageSize', `at most ${consolePageRowsMax} (consolePageRowsMax); got ${consolePageRowsMax + 1}`));
    await expect(list({ pageToken: 'view/sanction/x' })).rejects.toMatchObject({ name: 'ValidationError', field: 'pageToken' });
  });
});

describe('the console files on the HTTP port', () => {
  let dir: string;
  let access: TestAccess;
  let server: HttpServer;
  let credential: ClientCredential;
  const script = 'console.log("tongxing console");\n'.repeat(50);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tongxing-console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>通行</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), script);
    writeFileSync(join(dir, 'assets', 'index-abc123.js.br'), brotliCompressSync(script));
    access = await testAccess();
    server = await startHttpServer({ listen: '127.0.0.1:0', guard: access.guard, tls: access.tls, names: ['127.0.0.1'], consoleDirectory: dir }, []);
    credential = access.publish(0, server.port);
  });
  afterAll(async () => {
    await server?.stop();
    access?.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (path: string, headers: Record<string, string> = {}) => httpsCall(`https://127.0.0.1:${server.port}${path}`, { credential, as: 'nobody', headers });

  it('serves the page to anyone, with a policy that allows this node only', async () => {
    const page = await get('/console/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('通行');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect((await get('/console')).headers.get('location')).toBe('/console/');
  });

  it('answers compressed when the browser takes it, and hashed assets may be kept', async () => {
    const compressed = await httpsCall(`https://127.0.0.1:${server.port}/console/assets/index-abc123.js`, { credential, as: 'nobody', headers: { 'accept-encoding': 'gzip, br' } });
    expect(compressed.headers.get('content-encoding')).toBe('br');
    expect(compressed.headers.get('cache-control')).toContain('immutable');
    const plain = await get('/console/assets/index-abc123.js');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.text).toBe(script);
    expect(Number(compressed.headers.get('content-length'))).toBe(brotliCompressSync(script).length);
  });

  it('refuses what is not a console file, and a foreign Host like every path', async () => {
    expect((await get('/console/assets/../../clients.json')).status).toBe(404);
    expect((await get('/console/nothing.js')).status).toBe(404);
    expect((await get('/console/', { host: 'attacker.example' })).status).toBe(421);
  });

  it('says how to build the console when it is not built', async () => {
    const bare = await startHttpServer({ listen: '127.0.0.1:0', guard: access.guard, tls: access.tls, names: ['127.0.0.1'], consoleDirectory: join(dir, 'missing') }, []);
    try {
      const answer = await httpsCall(`https://127.0.0.1:${bare.port}/console/`, { credential, as: 'nobody' });
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.text).message).toContain('make build');
    } finally {
      await bare.stop();
    }
  });
});
