import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntityServiceService } from '../gen/tongxing/api/v1/api.js';
import { CertificateTimeError, CertificateUsageError } from '../federation/crypto/x509.js';
import * as vocabulary from '../federation/errors.js';
import { EvidenceBusyError } from '../federation/evidence.js';
import { ForkError } from '../federation/log/verify.js';
import { generateKeyPair, nodeIdOf } from '../federation/crypto/sm2.js';
import { Membership } from '../federation/membership.js';
import { usccFor } from '../federation/testing/records.js';
import { CallTimeoutError } from '../simulations/core/network.js';
import { SimCallError } from '../simulations/transport.js';
import { CredentialError } from './access/credential.js';
import { httpsCall, startTestApi } from './access/testing.js';
import { ApiError, connectApi } from './api/client.js';
import { startHttpServer, type HttpServer } from './api/http.js';
import type { ApiServer } from './api/server.js';
import { UsageError } from './cli/command.js';
import { tongxing } from './cli/testing.js';
import { errorTable } from './error-table.js';
import { freePorts } from './local-alliance.js';
import { GrpcPeerTransport, PeerCallError } from './peer/client.js';
import { addEvaluationPeerService, EvaluationPeerClient, LeaseCallError, NotHomeNodeError, UnknownExpertError } from './peer/evaluation.js';
import { startPeerServer, type PeerHandler, type PeerServer } from './peer/server.js';
import { BackupError, BackupTargetError } from './store/backup.js';
import { StoreCorruptError } from './store/level.js';
import { StoreSchemaError } from './store/migrate.js';

// Every error class, and what each edge answers when a handler throws it:
// the client API over gRPC and HTTP/JSON, the peer API (PeerService and
// EvaluationPeerService) and the CLI, through real servers on 127.0.0.1.
// The statuses are stated here, not read from the table, so a changed row
// fails until this test (and docs/ARCHITECTURE.md) agree. Every class
// federation/errors.ts exports must have a row of its own, and every error
// class the code declares must be listed here.

/** gRPC status name, HTTP status, CLI exit code. */
type Answer = readonly [grpc: keyof typeof status, http: number, exit: number];

const invalid: Answer = ['INVALID_ARGUMENT', 400, 2];
const precondition: Answer = ['FAILED_PRECONDITION', 409, 1];
const notFound: Answer = ['NOT_FOUND', 404, 1];
const unavailable: Answer = ['UNAVAILABLE', 503, 2];
const internal: Answer = ['INTERNAL', 500, 2];

/** The vocabulary: an example of each class and the answer its row gives. */
const rows: Readonly<Record<string, { readonly example: () => Error; readonly answer: Answer }>> = {
  TongxingError: { example: () => new vocabulary.TongxingError('a corrupt registry file'), answer: internal },
  ValidationError: { example: () => new vocabulary.ValidationError('profile.uscc', 'has 17 characters'), answer: invalid },
  EncodingError: { example: () => new vocabulary.EncodingError('not a PEM block'), answer: invalid },
  SignatureError: { example: () => new vocabulary.SignatureError('head signature does not verify'), answer: invalid },
  CertificateError: { example: () => new vocabulary.CertificateError('does not chain to a trusted root'), answer: invalid },
  ChainError: { example: () => new vocabulary.ChainError('entry 3 does not chain to entry 2'), answer: invalid },
  MembershipError: { example: () => new vocabulary.MembershipError('this node is not yet admitted'), answer: precondition },
  LimitError: { example: () => new vocabulary.LimitError('17 sanctions; subjectSanctionsMax 16'), answer: ['RESOURCE_EXHAUSTED', 429, 2] },
  AlreadyExistsError: { example: () => new vocabulary.AlreadyExistsError('already registered'), answer: ['ALREADY_EXISTS', 409, 1] },
  NotFoundError: { example: () => new vocabulary.NotFoundError('no such sanction'), answer: notFound },
  PreconditionError: { example: () => new vocabulary.PreconditionError('already lifted'), answer: precondition },
  AuthenticationError: { example: () => new vocabulary.AuthenticationError('credential replayed'), answer: ['UNAUTHENTICATED', 401, 2] },
  PermissionError: { example: () => new vocabulary.PermissionError('needs the scope sanction'), answer: ['PERMISSION_DENIED', 403, 1] },
  UnavailableError: { example: () => new vocabulary.UnavailableError('replica is closed'), answer: unavailable },
  UnreachableError: { example: () => new vocabulary.UnreachableError('connection refused'), answer: unavailable },
  FatalError: { example: () => new vocabulary.FatalError('the store failed: disk full'), answer: unavailable },
  AssertionError: { example: () => new vocabulary.AssertionError('a bug'), answer: internal },
};

/** Error classes declared elsewhere: an example of each, answering as the vocabulary class it extends (or as any other error). */
const subclasses: Readonly<Record<string, { readonly example: () => Error; readonly answer: Answer }>> = {
  ForkError: { example: () => new ForkError('two histories', {} as never, []), answer: rows.ChainError!.answer },
  CertificateTimeError: { example: () => new CertificateTimeError('expired', 'expired on 2024-01-01'), answer: rows.CertificateError!.answer },
  CertificateUsageError: { example: () => new CertificateUsageError('not for logins'), answer: rows.CertificateError!.answer },
  EvidenceBusyError: { example: () => new EvidenceBusyError('new entries during each try'), answer: internal },
  NotHomeNodeError: { example: () => new NotHomeNodeError('homed at Nanning'), answer: precondition },
  UnknownExpertError: { example: () => new UnknownExpertError('no expert e.1'), answer: notFound },
  PeerCallError: { example: () => new PeerCallError('ab'.repeat(32), status.UNAVAILABLE, 'connection refused'), answer: unavailable },
  LeaseCallError: { example: () => new LeaseCallError('ab'.repeat(32), status.DEADLINE_EXCEEDED, 'timed out'), answer: unavailable },
  SimCallError: { example: () => new SimCallError('ab'.repeat(32), 'no response'), answer: unavailable },
  // Local to the CLI, the client or the store: a server that threw one would have a bug or a broken environment.
  ApiError: { example: () => new ApiError('127.0.0.1:7401', 'NOT_FOUND', 'no such entity'), answer: internal },
  CredentialError: { example: () => new CredentialError('cannot read credential'), answer: internal },
  UsageError: { example: () => new UsageError('--node is required'), answer: internal },
  StoreCorruptError: { example: () => new StoreCorruptError('head without entries'), answer: internal },
  StoreSchemaError: { example: () => new StoreSchemaError('/data', '99'), answer: internal },
  BackupError: { example: () => new BackupError('chunk 3 does not verify'), answer: internal },
  BackupTargetError: { example: () => new BackupTargetError('the file exists'), answer: internal },
  CallTimeoutError: { example: () => new CallTimeoutError('a', 'b', 250), answer: internal },
};

const cases = Object.entries({ ...rows, ...subclasses });

describe('the error table', () => {
  it('has a row of its own for every class federation/errors.ts exports', () => {
    const exported = Object.values(vocabulary).filter((value): value is typeof Error => typeof value === 'function' && value.prototype instanceof Error);
    expect(exported.map((c) => c.name).sort()).toEqual(Object.keys(rows).sort());
    for (const errorClass of exported) expect(errorTable.has(errorClass), `${errorClass.name} has no row in node/error-table.ts`).toBe(true);
  });

  it('lists here every error class declared in federation/, node/ and simulations/', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const sources = ['federation', 'node', 'simulations'].flatMap((dir) =>
      (readdirSync(join(root, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(root, dir, f)),
    );
    const declared = sources.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/^export class (\w+Error) extends/gm)].map((m) => `${m[1]} (${relative(root, file)})`));
    expect(declared.length).toBeGreaterThan(20);
    for (const found of declared) expect(Object.keys(rows).concat(Object.keys(subclasses)), `${found} is not listed in this test`).toContain(found.split(' ')[0]);
  });

  it('keeps every error its stable name', () => {
    for (const [name, { example }] of cases) expect(example().name).toBe(name);
  });
});

/** The error the servers' handlers throw next. */
let next: () => Error = () => new Error('unset');
const throwNext = async (): Promise<never> => {
  throw next();
};

describe('what every edge answers', () => {
  let api: ApiServer & Awaited<ReturnType<typeof startTestApi>>;
  let http: HttpServer;
  let peer: PeerServer;
  let peerTransport: GrpcPeerTransport;
  let leaseClient: EvaluationPeerClient;
  let serverId: string;
  const allianceId = Buffer.alloc(32, 0x3c);

  beforeAll(async () => {
    const services = [{ definition: EntityServiceService, handlers: { getEntity: throwNext } }];
    api = await startTestApi(services);
    http = await startHttpServer({ listen: '127.0.0.1:0', guard: api.access.guard, tls: api.access.tls, names: ['127.0.0.1'] }, services);

    const [serverKey, callerKey] = [generateKeyPair(), generateKeyPair()];
    const [port] = await freePorts(1);
    serverId = nodeIdOf(serverKey.publicKey);
    const members = new Membership(
      [serverKey, callerKey].map((key, i) => ({ nodeId: nodeIdOf(key.publicKey), publicKey: key.publicKey, city: ['Nanning', 'Kunming'][i]!, regionCode: '450100', endpoints: [`127.0.0.1:${port}`] })),
    );
    const handler: PeerHandler = { nodeId: serverId, handleExchangeHeads: throwNext, servePull: async function* () {} };
    const clock = { nowMs: () => Date.now() };
    peer = await startPeerServer(
      { listen: `127.0.0.1:${port}` },
      { replica: handler, members, allianceId, clock, addServices: (server, verifier) => addEvaluationPeerService(server, { desk: { request: throwNext }, verifier }) },
    );
    peerTransport = new GrpcPeerTransport({ allianceId, keyPair: callerKey, members, announce: () => {} });
    leaseClient = new EvaluationPeerClient({ allianceId, keyPair: callerKey, members });
  });

  afterAll(async () => {
    leaseClient?.close();
    await peerTransport?.close();
    await peer?.stop();
    await http?.stop();
    await api?.stop();
  });

  it.each(cases)('%s', async (name, { example, answer: [grpc, httpStatus, exit] }) => {
    next = example;
    const error = example();
    const details = grpc === 'INTERNAL' ? `${name}: ${error.message}` : error.message;
    const address = `127.0.0.1:${api.port}`;

    const client = connectApi(address);
    try {
      await expect(client.getEntity(usccFor(1)), 'client API over gRPC').rejects.toMatchObject({ code: grpc, details });
    } finally {
      client.close();
    }

    const credential = api.access.publish(api.port, http.port);
    const answer = await httpsCall(`https://127.0.0.1:${http.port}/v1/EntityService/GetEntity`, {
      method: 'POST',
      body: JSON.stringify({ uscc: usccFor(1) }),
      headers: { 'content-type': 'application/json' },
      credential,
    });
    expect({ status: answer.status, body: JSON.parse(answer.text) }, 'client API over HTTP').toMatchObject({ status: httpStatus, body: { code: grpc, message: details } });

    const cli = await tongxing('entity', 'show', usccFor(1), '--node', address);
    expect({ code: cli.code, stderr: cli.stderr }, 'the CLI').toEqual({ code: exit, stderr: `tongxing: node at ${address}: ${grpc}: ${details}\n` });

    const exchange = await peerTransport.exchangeHeads(serverId, { heads: [], proofs: [] }).catch((e: unknown) => e);
    expect(exchange, 'PeerService').toBeInstanceOf(PeerCallError);
    expect(status[(exchange as PeerCallError).code], 'PeerService').toBe(grpc);
    expect((exchange as PeerCallError).message, 'PeerService').toContain(`${grpc}: ${details}`);

    const lease = await leaseClient.requestLease(serverId, { sessionId: 's-1', expertRef: 'e.1', slot: { fromMs: Date.UTC(2030, 0, 1), untilMs: Date.UTC(2030, 0, 2) }, projectCode: 'P-1' }).catch((e: unknown) => e);
    expect(lease, 'EvaluationPeerService').toBeInstanceOf(LeaseCallError);
    expect(status[(lease as LeaseCallError).code], 'EvaluationPeerService').toBe(grpc);
  });
});
