import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { LimitError } from '../../federation/errors.js';
import { apiRequestBytesMax, httpRequestBytesMax, jsonNestingDepthMax } from '../limits.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import { usccFor } from '../../federation/testing/records.js';
import { httpsCall, testAccess, tlsOptionsOf, type TestAccess } from '../access/testing.js';
import type { ClientCredential } from '../access/credential.js';
import { startHttpServer, type HttpServer } from './http.js';
import { packageVersion } from './openapi.js';
import { apiSchema, protoSchema, type ProtoSchema } from './schema.js';
import { descriptorSetBase64 as probeDescriptorSet } from '../../test/gen/descriptor-set.js';
import { apiContext, type ApiService } from './service.js';
import { apiServices } from './services.js';
import { Prng } from '../../federation/testing/prng.js';

// The HTTP/JSON client API over a real node:http server on 127.0.0.1: in front
// of a one-member Replica on a MemoryStore (the real services), and in front of
// a probe service (test/proto/tongxing/probe/v1/probe.proto, its descriptors
// generated into test/gen/), which carries every proto3 JSON shape the gateway
// converts (64-bit integers, bytes, enums, oneofs, maps, server streams).

const allianceId = Buffer.alloc(32, 0x5a);
const startMs = Date.UTC(2025, 5, 1, 2, 0, 0); // 2025-06-01 10:00 +08:00
const dayMs = 86_400_000;

let cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  const pending = cleanups.reverse();
  cleanups = [];
  for (const cleanup of pending) await cleanup();
});

/** Kunming alone: the real API services over HTTP. */
async function kunming(): Promise<{ server: HttpServer; services: ApiService[]; nodeId: string }> {
  const clock = { nowMs: () => startMs };
  const keyPair = generateKeyPair();
  const member: Member = { nodeId: nodeIdOf(keyPair.publicKey), publicKey: keyPair.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] };
  const replica = await Replica.open(
    { allianceId, keyPair, members: new Membership([member]) },
    {
      store: new MemoryStore(),
      transport: new Bus().transport(member.nodeId), // alone: no peer answers
      clock,
      random: new Prng('test').random(),
    },
  );
  cleanups.push(() => replica.close());
  const services = apiServices(apiContext({ replica, clock, freshnessBudgetMs: 30_000, city: 'Kunming', allianceId, startedAtMs: startMs }));
  const server = await served(services);
  return { server, services, nodeId: member.nodeId };
}

/** The HTTPS API over `services`, guarded like a node's; the admin credential is kept per server for `call`. */
const credentials = new Map<HttpServer, ClientCredential>();
async function served(services: ApiService[], options: { schema?: ProtoSchema; rules?: Parameters<typeof testAccess>[0] } = {}): Promise<HttpServer> {
  const access: TestAccess = await testAccess(options.rules);
  cleanups.push(() => access.remove());
  const server = await startHttpServer({ listen: '127.0.0.1:0', schema: options.schema, guard: access.guard, tls: access.tls, names: ['127.0.0.1', 'localhost'] }, services);
  cleanups.push(() => server.stop());
  credentials.set(server, access.publish(0, server.port));
  return server;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly text: string;
}

async function call(server: HttpServer, path: string, init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const hasBody = init.body !== undefined || init.raw !== undefined;
  const response = await httpsCall(`https://127.0.0.1:${server.port}${path}`, {
    method: init.method ?? (hasBody ? 'POST' : 'GET'),
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(hasBody ? { body: init.raw ?? JSON.stringify(init.body) } : {}),
    credential: credentials.get(server)!,
  });
  const text = response.text;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

const profile = (uscc: string, legalName = 'Dianchi Construction Co.') => ({
  uscc,
  legalName,
  roles: ['LEGAL_ROLE_BIDDER'],
  legalRepresentative: 'Zhang San',
  legalType: 'limited company',
  regionCode: '530100',
  registeredCapital: '10000000',
  legalStatus: 'active',
});

const sanction = (sanctionId: string, uscc: string) => ({
  sanctionId,
  subject: { uscc, name: 'Dianchi Construction Co.' },
  listType: 'LIST_TYPE_SERIOUS_DISHONESTY',
  grounds: 'Bid rigging in a public works tender',
  groundsCategory: 'GROUNDS_CATEGORY_COLLUSION',
  decidingAuthority: 'Municipal Development and Reform Commission',
  documentCode: `DRC-${sanctionId}`,
  scope: ['works'],
  restriction: 'RESTRICTION_BAN',
  restrictionPeriod: { fromMs: String(startMs - 30 * dayMs), untilMs: String(startMs + 335 * dayMs) },
  publicationPeriod: { fromMs: String(startMs - 30 * dayMs), untilMs: String(startMs + 150 * dayMs) },
  decidedAtMs: String(startMs - 30 * dayMs),
});

describe('HTTP/JSON client API in front of a node', () => {
  it('registers an entity and reads it back by POST and by GET, in proto3 JSON', async () => {
    const { server, nodeId } = await kunming();
    const uscc = usccFor(1);

    const registered = await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: profile(uscc) } });
    expect(registered.status).toBe(200);
    expect(registered.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // 64-bit integers as decimal strings, bytes as base64.
    expect(registered.body).toEqual({ provenance: { author: Buffer.from(nodeId, 'hex').toString('base64'), authorCity: 'Kunming', seq: '1', hlc: expect.stringMatching(/^\d+$/) } });

    const shown = await call(server, '/v1/EntityService/GetEntity', { body: { uscc } });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ found: true, profile: profile(uscc), home: registered.body.provenance, observations: [] });
    expect(shown.body.profile).not.toHaveProperty('usccOverride'); // unset messages are left out
    expect(shown.body.profile.roles).toEqual(['LEGAL_ROLE_BIDDER']); // enums by name

    const got = await call(server, `/v1/entities/${uscc}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(shown.body);

    // Defaults are written, so a client can read `found` without a fallback.
    const unknown = await call(server, `/v1/entities/${usccFor(2)}`);
    expect(unknown.body).toEqual({ found: false, observations: [] });
  });

  it('accepts proto field names as well as lowerCamel, and an empty body as an empty request', async () => {
    const { server } = await kunming();
    const uscc = usccFor(3);
    const { legalName, legalRepresentative, legalType, regionCode, registeredCapital, legalStatus, ...rest } = profile(uscc);
    const snake = { ...rest, legal_name: legalName, legal_representative: legalRepresentative, legal_type: legalType, region_code: regionCode, registered_capital: registeredCapital, legal_status: legalStatus };
    expect((await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: snake } })).status).toBe(200);
    expect((await call(server, '/v1/EntityService/GetEntity', { body: { uscc } })).body.profile.legalName).toBe(legalName);

    // No body: the empty request, which GetEntity refuses for its missing uscc.
    const empty = await call(server, '/v1/EntityService/GetEntity', { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(empty).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: 'uscc', message: 'uscc: missing' } });
    // ...but not without Content-Type: a browser posts a body-less cross-site form without asking first.
    const untyped = await call(server, '/v1/EntityService/GetEntity', { method: 'POST' });
    expect(untyped).toMatchObject({ status: 415, body: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('Content-Type') } });
  });

  it('checks sanctions by POST and by GET with query parameters, as of a time', async () => {
    const { server } = await kunming();
    const uscc = usccFor(4);
    const clear = await call(server, `/v1/sanctions/check?uscc=${uscc}`);
    expect(clear.status).toBe(200);
    expect(clear.body).toMatchObject({ verdict: 'VERDICT_CLEAR', sanctions: [], atMs: String(startMs), freshnessBudgetMs: '30000' });

    const issued = await call(server, '/v1/SanctionService/IssueSanction', { body: { sanction: sanction('KM-2025-001', uscc) } });
    expect(issued.status).toBe(200);

    const restricted = await call(server, '/v1/SanctionService/CheckSanctions', { body: { uscc } });
    expect(restricted.body.verdict).toBe('VERDICT_RESTRICTED');
    expect(restricted.body.sanctions).toHaveLength(1);
    expect(restricted.body.sanctions[0]).toMatchObject({ sanction: sanction('KM-2025-001', uscc), issued: issued.body.provenance, quarantined: false });

    // Before the restriction period began: clear, from history.
    const before = await call(server, `/v1/sanctions/check?uscc=${uscc}&atMs=${startMs - 60 * dayMs}`);
    expect(before.body).toMatchObject({ verdict: 'VERDICT_CLEAR', atMs: String(startMs - 60 * dayMs) });
  });

  it('issues a sanction on a registered entity without subject.name, recording its registered name, as the CLI does', async () => {
    const { server } = await kunming();
    const uscc = usccFor(14);
    const { name: _given, ...unnamed } = sanction('KM-2025-014', uscc).subject;
    const refused = await call(server, '/v1/SanctionService/IssueSanction', { body: { sanction: { ...sanction('KM-2025-014', uscc), subject: unnamed } } });
    expect(refused).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: 'sanction.subject.name', message: expect.stringMatching(/not registered at any member this node has heard from/) } });

    expect((await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: profile(uscc, 'Dianchi Road & Bridge Co.') } })).status).toBe(200);
    const issued = await call(server, '/v1/SanctionService/IssueSanction', { body: { sanction: { ...sanction('KM-2025-014', uscc), subject: unnamed } } });
    expect(issued).toMatchObject({ status: 200, body: { subjectName: 'Dianchi Road & Bridge Co.' } });
    const checked = await call(server, '/v1/SanctionService/CheckSanctions', { body: { uscc } });
    expect(checked.body.sanctions[0].sanction.subject).toEqual({ uscc, name: 'Dianchi Road & Bridge Co.' });
  });

  it('maps refusals to HTTP statuses with {code, message, field}', async () => {
    const { server } = await kunming();
    const uscc = usccFor(5);

    const invalid = await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: profile('91350100M000100Y44') } });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'profile.uscc', message: expect.stringMatching(/^profile\.uscc: /) });
    const invalidByGet = await call(server, '/v1/sanctions/check?uscc=not-a-uscc');
    expect(invalidByGet).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: 'uscc' } });

    expect((await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: profile(uscc) } })).status).toBe(200);
    const again = await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: profile(uscc, 'Another Name Co.') } });
    expect(again).toMatchObject({ status: 409, body: { code: 'ALREADY_EXISTS', message: expect.stringContaining('already registered') } });

    const lift = { sanctionId: 'KM-404', reason: 'LIFT_REASON_CREDIT_REPAIR', explanation: 'Credit repair completed' };
    const notIssued = await call(server, '/v1/SanctionService/LiftSanction', { body: { lift } });
    expect(notIssued).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', message: expect.stringContaining('only the issuing node lifts') } });

    expect((await call(server, '/v1/SanctionService/IssueSanction', { body: { sanction: sanction('KM-2', uscc) } })).status).toBe(200);
    expect((await call(server, '/v1/SanctionService/LiftSanction', { body: { lift: { ...lift, sanctionId: 'KM-2' } } })).status).toBe(200);
    const liftedTwice = await call(server, '/v1/SanctionService/LiftSanction', { body: { lift: { ...lift, sanctionId: 'KM-2' } } });
    expect(liftedTwice).toMatchObject({ status: 409, body: { code: 'FAILED_PRECONDITION' } });
  });

  it('refuses malformed JSON, unknown fields and wrong types before any handler runs, naming the field', async () => {
    const { server } = await kunming();
    const uscc = usccFor(6);
    const refused = async (body: unknown, path = '/v1/EntityService/RegisterEntity') => {
      const answer = await call(server, path, typeof body === 'string' ? { raw: body } : { body });
      expect(answer.status, answer.text).toBe(400);
      expect(answer.body.code).toBe('INVALID_ARGUMENT');
      return answer.body as { message: string; field?: string };
    };
    expect(await refused('{"profile": ')).toMatchObject({ message: expect.stringMatching(/^request body is not valid JSON: /) });
    expect(await refused('[1]')).toMatchObject({ message: 'request body must be a JSON object, not an array' });
    expect(await refused({ profile: { ...profile(uscc), usccc: uscc } })).toMatchObject({ field: 'profile.usccc', message: 'profile.usccc: unknown field of EntityProfile' });
    expect(await refused({ profile: profile(uscc), extra: 1 })).toMatchObject({ field: 'extra' });
    expect(await refused({ profile: { ...profile(uscc), legalName: 5 } })).toMatchObject({ field: 'profile.legalName', message: 'profile.legalName: must be a string, not number 5' });
    expect(await refused({ profile: { ...profile(uscc), roles: ['LEGAL_ROLE_BIDDER', 'BUYER'] } })).toMatchObject({ field: 'profile.roles[1]' });
    expect(await refused({ profile: { ...profile(uscc), roles: 'LEGAL_ROLE_BIDDER' } })).toMatchObject({ field: 'profile.roles', message: expect.stringContaining('must be a JSON array') });
    expect(await refused({ profile: 'x' })).toMatchObject({ field: 'profile' });
    expect(await refused({ uscc, atMs: 'yesterday' }, '/v1/SanctionService/CheckSanctions')).toMatchObject({ field: 'atMs', message: expect.stringContaining('(a decimal string)') });
    expect(await refused({ uscc, atMs: 2 ** 60 }, '/v1/SanctionService/CheckSanctions')).toMatchObject({ field: 'atMs', message: expect.stringContaining('send it as a decimal string') });
    expect(await refused({ sanction: { ...sanction('KM-3', uscc), subject: { uscc, expertRef: 'km.e-1' } } }, '/v1/SanctionService/IssueSanction')).toMatchObject({
      field: 'sanction.subject.expertRef',
      message: expect.stringContaining('set only one of uscc and expertRef'),
    });
    expect(await refused({ uscc, expert_ref: 'a', expertRef: 'a' }, '/v1/SanctionService/CheckSanctions')).toMatchObject({ field: 'expertRef', message: expect.stringContaining('given twice') });
    expect((await call(server, `/v1/sanctions/check?uscc=${uscc}&colour=red`)).body).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'colour' });
    // Nothing was stored by any of them.
    expect((await call(server, `/v1/entities/${uscc}`)).body.found).toBe(false);
  });

  it('refuses keys named like built-in object properties at any depth with 400 naming the field, by POST and by GET', async () => {
    const { server } = await kunming();
    const uscc = usccFor(8);
    const body = JSON.stringify({ profile: profile(uscc) });
    // Raw JSON text: a JS object literal would take "__proto__" as its prototype, not as a key.
    const cases: Array<[string, string, string]> = [
      ['/v1/EntityService/RegisterEntity', '{"constructor": 1}', 'constructor'],
      ['/v1/EntityService/RegisterEntity', '{"__proto__": {"profile": {}}}', '__proto__'],
      ['/v1/EntityService/RegisterEntity', body.replace('{"uscc"', '{"toString": "x", "uscc"'), 'profile.toString'],
      ['/v1/EntityService/RegisterEntity', body.replace('{"uscc"', '{"__proto__": {"uscc": "x"}, "uscc"'), 'profile.__proto__'],
      ['/v1/EntityService/RegisterEntity', body.replace('{"uscc"', '{"hasOwnProperty": null, "uscc"'), 'profile.hasOwnProperty'],
      ['/v1/SanctionService/IssueSanction', JSON.stringify({ sanction: sanction('KM-8', uscc) }).replace('"subject":{', '"subject":{"valueOf":{},'), 'sanction.subject.valueOf'],
      ['/v1/SanctionService/CheckSanctions', `{"uscc": "${uscc}", "isPrototypeOf": "a", "__defineGetter__": 1}`, 'isPrototypeOf'],
    ];
    for (const [path, raw, field] of cases) {
      const answer = await call(server, path, { raw });
      expect(answer.status, `${path} ${raw}`).toBe(400);
      expect(answer.body, raw).toMatchObject({ code: 'INVALID_ARGUMENT', field, message: expect.stringContaining('unknown field') });
    }
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'propertyIsEnumerable']) {
      const answer = await call(server, `/v1/sanctions/check?uscc=${uscc}&${name}=1`);
      expect(answer, name).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: name, message: expect.stringContaining('unknown query parameter') } });
      expect((await call(server, `/v1/entities/${uscc}?${name}=x`)).status, name).toBe(400);
    }
    // An enum value named like a property is not a value.
    const role = await call(server, '/v1/EntityService/RegisterEntity', { body: { profile: { ...profile(uscc), roles: ['constructor'] } } });
    expect(role).toMatchObject({ status: 400, body: { field: 'profile.roles[0]', message: expect.stringContaining('must be one of') } });
    expect((await call(server, `/v1/entities/${uscc}`)).body.found).toBe(false);
  });

  it('answers 404, 405 and 415 at the HTTP layer', async () => {
    const { server } = await kunming();
    expect(await call(server, '/v1/EntityService/Nope', { body: {} })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', message: expect.stringContaining('/openapi.json') } });
    const get = await call(server, '/v1/EntityService/GetEntity');
    expect(get).toMatchObject({ status: 405, body: { code: 'UNIMPLEMENTED' } });
    expect(get.headers.get('allow')).toBe('POST');
    expect((await call(server, '/v1/status', { body: {} })).headers.get('allow')).toBe('GET');
    const text = await call(server, '/v1/EntityService/GetEntity', { raw: 'uscc=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(text).toMatchObject({ status: 415, body: { code: 'INVALID_ARGUMENT' } });
    const latin1 = await call(server, '/v1/EntityService/GetEntity', { raw: '{}', headers: { 'content-type': 'application/json; charset=iso-8859-1' } });
    expect(latin1.status).toBe(415);
    expect((await call(server, '/v1/EntityService/GetEntity?uscc=1', { body: {} })).body).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('JSON body') });
    expect((await call(server, '/healthz')).body).toEqual({ status: 'ok' });
  });

  it('refuses a body over httpRequestBytesMax with 413, declared or chunked', async () => {
    const { server } = await kunming();
    const big = JSON.stringify({ profile: { ...profile(usccFor(7)), legalName: 'x'.repeat(httpRequestBytesMax) } });
    const declared = await call(server, '/v1/EntityService/RegisterEntity', { raw: big });
    expect(declared).toMatchObject({ status: 413, body: { code: 'RESOURCE_EXHAUSTED', message: `request body is ${big.length} bytes; at most ${httpRequestBytesMax} (httpRequestBytesMax)` } });

    // Chunked (no Content-Length): refused once the count passes the limit.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpsRequest({ host: '127.0.0.1', port: server.port, method: 'POST', path: '/v1/EntityService/RegisterEntity', headers: { 'content-type': 'application/json' }, ...tlsOptionsOf(credentials.get(server)!) }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, body }));
      });
      request.on('error', reject);
      for (let i = 0; i < big.length; i += 64 * 1024) request.write(big.slice(i, i + 64 * 1024));
      request.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });

    // Within the body limit but over the binary request limit gRPC has too.
    const wide = JSON.stringify({ profile: { ...profile(usccFor(7)), legalName: 'x'.repeat(apiRequestBytesMax) } });
    expect((await call(server, '/v1/EntityService/RegisterEntity', { raw: wide })).body).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('apiRequestBytesMax') });
    expect((await call(server, '/healthz')).status).toBe(200);
  });

  it('serves an OpenAPI 3.1 description covering every method of every served service', async () => {
    const { server, services } = await kunming();
    const answer = await call(server, '/openapi.json');
    expect(answer.status).toBe(200);
    const doc = JSON.parse(answer.text) as OpenApi;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(doc).toEqual(server.openApi);

    const served = services.flatMap((s) => Object.values(s.definition).map((d) => d.path));
    expect(served.length).toBeGreaterThanOrEqual(6);
    for (const grpcPath of served) {
      const [, pkg, service, method] = /^\/(.+)\.(\w+)\/(\w+)$/.exec(grpcPath)!;
      const operation = doc.paths[`/${pkg!.split('.').at(-1)}/${service}/${method}`]?.post;
      expect(operation, grpcPath).toBeDefined();
      expect(operation!.summary).toContain(grpcPath);
    }
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/entities/{uscc}', '/v1/sanctions/check', '/v1/status', '/healthz', '/openapi.json']));
    expect(doc.paths['/v1/entities/{uscc}']!.get!.parameters).toEqual([{ name: 'uscc', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(doc.paths['/v1/sanctions/check']!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['uscc', 'expertRef', 'atMs']));
    expectWellFormed(doc);

    // Schemas carry proto3 JSON names, types and proto comments.
    const schemas = doc.components.schemas;
    expect(schemas['tongxing.api.v1.CheckSanctionsRequest']).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { uscc: { type: 'string' }, expertRef: { type: 'string' }, atMs: { type: 'string', format: 'int64', description: '0: now' } },
    });
    expect(schemas['tongxing.api.v1.Provenance']!.properties).toMatchObject({ author: { type: 'string', contentEncoding: 'base64' }, authorCity: { type: 'string' } });
    expect(schemas['tongxing.api.v1.Verdict']).toMatchObject({ type: 'string', enum: expect.arrayContaining(['VERDICT_CLEAR', 'VERDICT_RESTRICTED']) });
    expect(schemas['tongxing.records.v1.SanctionSubject']!.description).toContain('at most one of uscc, expertRef');
  });

  it('finds the package version from the sources and from the compiled dist/', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(packageVersion(join(root, 'node', 'api'))).toBe(version);
    expect(packageVersion(join(root, 'dist', 'node', 'api'))).toBe(version);
  });
});

// ---- every proto3 JSON shape, through a probe service ----------------------

/** Echo calls wait on these, one each, first come first served. */
const gates: Array<() => Promise<void>> = [];

async function probe(): Promise<HttpServer> {
  const schema = protoSchema(probeDescriptorSet);
  // Echo hands the request bytes back untouched, so what it checks is the gateway's own JSON <-> binary conversion.
  type Codec = { serialize(value: unknown): Buffer; deserialize(value: Buffer): unknown };
  const bytes: Codec = { serialize: (value) => value as Buffer, deserialize: (value) => value };
  const codec = (name: string): Codec => {
    const type: DescMessage = schema.registry.getMessage(name)!;
    return { serialize: (value: unknown) => Buffer.from(toBinary(type, create(type, value as Record<string, unknown>))), deserialize: (value: Buffer) => fromBinary(type, value) };
  };
  const method = (name: string, request: Codec, response: Codec, responseStream: boolean, requestStream = false) => ({
    path: `/tongxing.probe.v1.ProbeService/${name}`,
    requestStream,
    responseStream,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: response.serialize,
    responseDeserialize: response.deserialize,
  });
  const service: ApiService = {
    definition: {
      echo: method('Echo', bytes, bytes, false),
      count: method('Count', codec('tongxing.probe.v1.CountRequest'), codec('tongxing.probe.v1.Probe'), true),
      upload: method('Upload', bytes, bytes, false, true),
    },
    handlers: {
      echo: async (request: Buffer) => {
        await gates.shift()?.();
        return request;
      },
    },
    streams: {
      count: async function* (request: { upTo: number; failAfterTwo: boolean }) {
        if (request.upTo === 0) throw new LimitError('up_to: nothing to count');
        for (let i = 1; i <= request.upTo; i++) {
          if (request.failAfterTwo && i === 3) throw new LimitError('count: failed after two');
          yield { text: String(i) };
        }
      },
    },
  };
  const probeRules = Object.fromEntries(['Echo', 'Count', 'Slow', 'Fail'].map((m) => [`/tongxing.probe.v1.ProbeService/${m}`, { scope: 'check' as const }]));
  return served([service], { schema, rules: probeRules });
}

describe('proto3 JSON mapping', () => {
  it('round-trips every scalar, enum, message, list, map, oneof and optional', async () => {
    const server = await probe();
    const full = {
      signed64: '-9223372036854775808',
      unsigned64: '18446744073709551615',
      signed32: -2147483648,
      unsigned32: 4294967295,
      zigzag64: '-1',
      fixed64: '9007199254740993',
      real: 1.5,
      single: 0.25,
      flag: true,
      text: '昆明 ✓',
      blob: Buffer.from([0, 1, 254, 255]).toString('base64'),
      colour: 'COLOUR_RED',
      inner: { text: 'a' },
      inners: [{ text: 'b' }, { text: '' }],
      numbers: ['1', '-2', '9223372036854775807'],
      byName: { x: { text: 'c' } },
      byNumber: { '-5': 'minus five', '9223372036854775807': 'max' },
      right: { text: 'd' },
      maybe: '',
      customName: 'e',
    };
    const echoed = await call(server, '/v1/ProbeService/Echo', { body: full });
    expect(echoed.status, echoed.text).toBe(200);
    expect(echoed.body).toEqual(full);

    // Defaults are written for fields without presence; unset messages, oneofs and optionals are left out.
    const empty = await call(server, '/v1/ProbeService/Echo', { body: { signed64: null } });
    expect(empty.body).toEqual({
      signed64: '0',
      unsigned64: '0',
      signed32: 0,
      unsigned32: 0,
      zigzag64: '0',
      fixed64: '0',
      real: 0,
      single: 0,
      flag: false,
      text: '',
      blob: '',
      colour: 'COLOUR_UNSPECIFIED',
      inners: [],
      numbers: [],
      byName: {},
      byNumber: {},
      customName: '',
    });

    // Also accepted: numbers for 64-bit values within 2^53, enum numbers, base64url, special doubles, the proto name.
    const lenient = await call(server, '/v1/ProbeService/Echo', { body: { signed64: 42, colour: 1, blob: '_-8', real: 'NaN', single: '-Infinity', json_named: 'f' } });
    expect(lenient.body).toMatchObject({ signed64: '42', colour: 'COLOUR_RED', blob: '/+8=', real: 'NaN', single: '-Infinity', customName: 'f' });
  });

  it('takes a lone surrogate in a string (valid JSON, no UTF-8) as U+FFFD, in values and map keys', async () => {
    const server = await probe();
    const answer = await call(server, '/v1/ProbeService/Echo', { raw: String.raw`{"text": "a\ud800b", "inners": [{"text": "\udfff"}], "byName": {"k\ud800": {"text": "\ud83d\ude00"}}}` });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toMatchObject({ text: 'a\ufffdb', inners: [{ text: '\ufffd' }], byName: { 'k\ufffd': { text: '😀' } } });
  });

  it('names the field of every out-of-range or ill-typed value', async () => {
    const server = await probe();
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ signed64: '9223372036854775808' }, 'signed64', 'out of range'],
      [{ unsigned64: '-1' }, 'unsigned64', 'out of range'],
      [{ signed32: 2 ** 31 }, 'signed32', 'out of range'],
      [{ unsigned32: 1.5 }, 'unsigned32', 'must be an integer'],
      [{ flag: 'true' }, 'flag', 'must be true or false'],
      [{ blob: 'not base64!' }, 'blob', 'must be base64'],
      [{ colour: 'COLOUR_BLUE' }, 'colour', 'must be one of COLOUR_UNSPECIFIED, COLOUR_RED'],
      [{ real: 'one' }, 'real', 'must be a number'],
      [{ single: 1e39 }, 'single', 'out of range for float'],
      [{ inner: { text: 1 } }, 'inner.text', 'must be a string'],
      [{ inner: { txt: 'a' } }, 'inner.txt', 'unknown field of Inner'],
      [{ inners: [{ text: 'a' }, null] }, 'inners[1]', 'must not be null'],
      [{ numbers: ['1', 'two'] }, 'numbers[1]', 'must be an integer'],
      [{ byName: { x: { text: 2 } } }, 'byName["x"].text', 'must be a string'],
      [{ byNumber: { one: 'x' } }, 'byNumber["one"]', 'must be an integer'],
      [{ left: 'a', right: { text: 'b' } }, 'right', 'set only one of left and right (oneof choice)'],
      [{ customName: 'a', json_named: 'b' }, 'customName', 'given twice'],
    ];
    for (const [body, field, reason] of cases) {
      const answer = await call(server, '/v1/ProbeService/Echo', { body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body, JSON.stringify(body)).toMatchObject({ code: 'INVALID_ARGUMENT', field, message: expect.stringContaining(reason) });
    }
  });

  it('refuses property-named fields and enum names at any depth; a map takes them as keys but refuses "__proto__"', async () => {
    const server = await probe();
    const echo = (raw: string) => call(server, '/v1/ProbeService/Echo', { raw });
    const names = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupSetter__'];
    for (const name of names) {
      const key = JSON.stringify(name);
      const cases: Array<[string, string]> = [
        [`{${key}: 1}`, name],
        [`{"inner": {${key}: "a"}}`, `inner.${name}`],
        [`{"inners": [{"text": "a"}, {${key}: {}}]}`, `inners[1].${name}`],
        [`{"byName": {"x": {${key}: null}}}`, `byName["x"].${name}`],
        [`{"child": {"child": {"right": {${key}: []}}}}`, `child.child.right.${name}`],
      ];
      for (const [raw, field] of cases) {
        const answer = await echo(raw);
        expect(answer.status, raw).toBe(400);
        expect(answer.body, raw).toMatchObject({ code: 'INVALID_ARGUMENT', field, message: expect.stringContaining('unknown field') });
      }
      const colour = await echo(`{"colour": ${key}}`);
      expect(colour, name).toMatchObject({ status: 400, body: { field: 'colour', message: expect.stringContaining('must be one of COLOUR_UNSPECIFIED, COLOUR_RED') } });
    }
    // Map keys are data: named like properties, they are ordinary keys, and come back as sent...
    const keyed = await echo('{"byName": {"constructor": {"text": "a"}, "toString": {"text": "b"}, "hasOwnProperty": {}}}');
    expect(keyed.status, keyed.text).toBe(200);
    expect(keyed.body.byName).toEqual({ constructor: { text: 'a' }, toString: { text: 'b' }, hasOwnProperty: { text: '' } });
    // ...except "__proto__", which decoders building maps on plain objects would silently drop: refused.
    const proto = await echo('{"byName": {"x": {}, "__proto__": {"text": "a"}}}');
    expect(proto).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: 'byName["__proto__"]' } });
  });

  it('refuses JSON nested deeper than jsonNestingDepthMax, naming the field, and deep values in scalar fields without recursing', async () => {
    const server = await probe();
    const echo = (raw: string) => call(server, '/v1/ProbeService/Echo', { raw });
    const deep = 5_000;
    const arrays = '['.repeat(deep) + ']'.repeat(deep);
    const objects = '{"a":'.repeat(deep) + '1' + '}'.repeat(deep);
    for (const [raw, field] of [
      [`{"text": ${arrays}}`, 'text'],
      [`{"text": ${objects}}`, 'text'],
      [`{"inner": {"text": ${objects}}}`, 'inner.text'],
      [`{"signed64": ${objects}}`, 'signed64'],
      [`{"blob": ${objects}}`, 'blob'],
      [`{"colour": ${objects}}`, 'colour'],
      [`{"numbers": [${objects}]}`, 'numbers[0]'],
      [`{"byNumber": {"1": ${objects}}}`, 'byNumber["1"]'],
    ] as const) {
      const answer = await echo(raw);
      expect(answer.status, `${field} ${answer.text}`).toBe(400);
      expect(answer.body, field).toMatchObject({ code: 'INVALID_ARGUMENT', field, message: expect.stringMatching(/^[^ ]+: must be .*, not an? (array|object)$/) });
    }
    // Messages inside messages: refused where the depth passes the limit, before reading further.
    const nested = (levels: number) => '{"child":'.repeat(levels) + '{}' + '}'.repeat(levels);
    const within = await echo(nested(jsonNestingDepthMax - 1));
    expect(within.status, within.text).toBe(200);
    const beyond = await echo(nested(jsonNestingDepthMax));
    expect(beyond).toMatchObject({ status: 400, body: { code: 'INVALID_ARGUMENT', field: Array(jsonNestingDepthMax).fill('child').join('.'), message: expect.stringContaining('jsonNestingDepthMax') } });
    expect((await echo(nested(deep))).body).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(`nested deeper than ${jsonNestingDepthMax}`) });
    const listed = '{"inners": [{"text": "a"}], "child": '.repeat(deep) + '{}' + '}'.repeat(deep);
    expect((await echo(listed)).status).toBe(400);
  });

  it('allows every request in proto/ its deepest nesting within jsonNestingDepthMax', () => {
    // Containers (objects, arrays, maps) a request of `type` can nest, counting its own object; Infinity when recursive.
    const depthOf = (type: DescMessage, visiting: ReadonlySet<DescMessage>): number => {
      if (visiting.has(type)) return Infinity;
      const inside = new Set([...visiting, type]);
      return 1 + Math.max(0, ...type.fields.map((f) => (f.fieldKind === 'list' || f.fieldKind === 'map' ? 1 : 0) + (f.message ? depthOf(f.message, inside) : 0)));
    };
    const requests: DescMessage[] = [];
    for (const desc of apiSchema().registry) if (desc.kind === 'service') requests.push(...desc.methods.map((m) => m.input));
    expect(requests.length).toBeGreaterThan(10);
    for (const type of requests) expect(depthOf(type, new Set()), type.typeName).toBeLessThan(jsonNestingDepthMax);
  });

  it('streams server-streaming methods as NDJSON, an error after the start as a last line', async () => {
    const server = await probe();
    const counted = await call(server, '/v1/ProbeService/Count', { body: { upTo: 3 } });
    expect(counted.status).toBe(200);
    expect(counted.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const lines = counted.text.trimEnd().split('\n').map((l) => JSON.parse(l) as { result: { text: string } });
    expect(lines.map((l) => l.result.text)).toEqual(['1', '2', '3']);

    const failed = await call(server, '/v1/ProbeService/Count', { body: { upTo: 5, failAfterTwo: true } });
    expect(failed.status).toBe(200);
    expect(failed.text.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      { result: expect.objectContaining({ text: '1' }) },
      { result: expect.objectContaining({ text: '2' }) },
      { error: { code: 'RESOURCE_EXHAUSTED', message: 'count: failed after two' } },
    ]);

    // Refused before the first message: a plain error answer with its status.
    expect(await call(server, '/v1/ProbeService/Count', { body: { upTo: 0 } })).toMatchObject({ status: 429, body: { code: 'RESOURCE_EXHAUSTED' } });
    // Client streaming is gRPC only.
    expect(await call(server, '/v1/ProbeService/Upload', { body: {} })).toMatchObject({ status: 501, body: { code: 'UNIMPLEMENTED' } });

    const doc = server.openApi as unknown as OpenApi;
    expect(Object.keys(doc.paths['/v1/ProbeService/Count']!.post!.responses['200']!.content!)).toEqual(['application/x-ndjson']);
    expect(Object.keys(doc.paths['/v1/ProbeService/Upload']!.post!.responses)).toEqual(['501']);
    expect(doc.components.schemas['tongxing.probe.v1.Probe']!.properties).toHaveProperty('customName');
    expectWellFormed(doc);
  });

  it('stops gracefully: in-flight requests finish, new connections are refused', async () => {
    const server = await probe();
    let release!: () => void;
    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    gates.push(() => {
      entered();
      return new Promise<void>((resolve) => (release = resolve));
    });
    const pending = call(server, '/v1/ProbeService/Echo', { body: { text: 'in flight' } });
    await inFlight;
    const stopped = server.stop();
    await expect(httpsCall(`https://127.0.0.1:${server.port}/healthz`, { credential: credentials.get(server)! })).rejects.toThrow();
    release();
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(answer.body.text).toBe('in flight');
    expect(answer.headers.get('connection')).toBe('close');
    await stopped;
  });
});

// ---- OpenAPI structure -------------------------------------------------------

interface Operation {
  operationId: string;
  summary: string;
  parameters?: Array<{ name: string; in: string; required: boolean; schema: unknown }>;
  requestBody?: unknown;
  responses: Record<string, { $ref?: string; content?: Record<string, unknown> }>;
}

interface OpenApi {
  openapi: string;
  info: Record<string, unknown>;
  paths: Record<string, { get?: Operation; post?: Operation }>;
  components: { schemas: Record<string, { type?: string; description?: string; properties?: Record<string, unknown> }>; responses: Record<string, unknown> };
}

/** Every $ref resolves inside the document, operation ids are unique, every operation answers something, path parameters are declared. */
function expectWellFormed(doc: OpenApi): void {
  const refs: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (key === '$ref' && typeof item === 'string') refs.push(item);
        else walk(item);
      }
    }
  };
  walk(doc);
  expect(refs.length).toBeGreaterThan(0);
  for (const ref of refs) {
    expect(ref.startsWith('#/')).toBe(true);
    const target = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], doc);
    expect(target, ref).toBeDefined();
  }
  for (const name of Object.keys(doc.components.schemas)) expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
  const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.values(item).map((op) => [path, op as Operation] as const));
  const ids = operations.map(([, op]) => op.operationId);
  expect(new Set(ids).size).toBe(ids.length);
  for (const [path, op] of operations) {
    expect(Object.keys(op.responses).length, path).toBeGreaterThan(0);
    for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
      expect(op.parameters?.find((p) => p.name === name && p.in === 'path' && p.required), `${path} declares {${name}}`).toBeDefined();
    }
  }
}
