import { Agent, request as httpsRequest } from 'node:https';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { AssertionError } from '../../federation/errors.js';
import { keyPairSigner } from '../../federation/evidence.js';
import { httpRequestBytesMax, jsonNestingDepthMax } from '../limits.js';
import { Membership, type Member } from '../../federation/membership.js';
import { Replica } from '../../federation/replica.js';
import { MemoryStore } from '../../federation/store/memory.js';
import { Bus } from '../../federation/testing/bus.js';
import type { CommitBatch } from '../../federation/store/store.js';
import { usccFor } from '../../federation/testing/records.js';
import { Prng } from '../../federation/testing/prng.js';
import { methodRules } from '../access/scopes.js';
import { testAccess, tlsOptionsOf } from '../access/testing.js';
import { accessService } from './access.js';
import { startHttpServer } from './http.js';
import { apiContext } from './service.js';
import { apiServices } from './services.js';

// A seeded fuzzer for the HTTP/JSON client API, run by the suite
// (http.fuzz.test.ts, 100,000 requests) and by `make fuzz` (bench/fuzz.ts,
// 1,000,000). It serves one node's real services on a MemoryStore behind the
// real access guard, reads GET /openapi.json as any client would, and sends
// requests to every path in it: bodies shaped by the schemas, then broken on
// purpose (keys named like Object.prototype properties at any depth, nesting
// thousands deep, wrong types, huge numbers, invalid base64 and enums, unicode,
// malformed JSON and UTF-8, wrong media types, oversize bodies, bad
// credentials, wrong methods and hosts).
//
// Request i is a function of (seed, i) alone, never of earlier answers, so a
// seed replays the same requests, and one failing request replays alone
// (`only`). What counts as a failure: a 5xx, a transport error (except on
// oversize bodies, which the node may cut off), and a write method answering
// below 400. Every request to a write method (write: true in the scope table)
// carries at least one defect the transcoder is certain to refuse, so the
// node must write nothing at all: the store sees no commit, its own log keeps
// its seq, the access registry its clients. Client and server share this
// process, so its RSS bounds the server's.

/** Keys that find something on a plain object's prototype chain. */
export const prototypeKeys = [
  'constructor',
  '__proto__',
  'toString',
  'toLocaleString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
] as const;

export interface FuzzInit {
  /** Any string; printed so a run can be replayed. */
  readonly seed: string;
  /** Requests to send (indices 0 .. requests - 1). */
  readonly requests: number;
  /** Requests in flight at once, over one keep-alive agent (default 48). */
  readonly concurrency?: number;
  /** Sends only these indices (a replay of failures). */
  readonly only?: readonly number[];
  /** Called about once a second with the requests answered so far. */
  readonly onProgress?: (answered: number) => void;
}

export interface FuzzFailure {
  readonly index: number;
  readonly request: string;
  readonly kind: string;
  readonly why: string;
}

export interface FuzzReport {
  readonly seed: string;
  /** Requests sent and answered (or failed in transport). */
  readonly requests: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** HTTP status (or "transport error") -> requests. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Defect kind -> requests. */
  readonly kinds: Readonly<Record<string, number>>;
  /** "METHOD /path" of the OpenAPI document (or "other") -> requests. */
  readonly targets: Readonly<Record<string, number>>;
  /** Paths in the OpenAPI document; every one is sent to. */
  readonly openApiPaths: readonly string[];
  /** Requests to write methods; every one must be refused. */
  readonly writeRequests: number;
  /** Request bodies and answers (bodies only), in bytes. */
  readonly bodyBytes: { readonly sent: number; readonly received: number };
  readonly failuresTotal: number;
  /** The first failures (at most 20), enough to replay. */
  readonly failures: readonly FuzzFailure[];
  /** INTERNAL errors the server logged (each one also a 5xx). */
  readonly internalErrorsLogged: number;
  /** Process RSS after setup and warm-up, the most seen while fuzzing (sampled every 100 ms), and after; before and after follow a full GC. */
  readonly rssBytes: { readonly before: number; readonly peak: number; readonly after: number };
  /** V8 heap in use after a full GC, before and after: what the run left behind. */
  readonly heapUsedBytes: { readonly before: number; readonly after: number };
  /** What the node holds before and after: all must be equal. */
  readonly written: {
    readonly storeCommits: number;
    readonly ownSeqBefore: number;
    readonly ownSeqAfter: number;
    readonly clientsBefore: number;
    readonly clientsAfter: number;
  };
  /** /healthz answers 200 and the seeded entity is still found, after the run. */
  readonly healthyAfter: boolean;
}

// ---- the node under test ---------------------------------------------------

/** A MemoryStore that counts commits: any commit while fuzzing is a write. */
class CountingStore extends MemoryStore {
  commits = 0;
  override commit(batch: CommitBatch): Promise<void> {
    this.commits += 1;
    return super.commit(batch);
  }
}

const startMs = Date.UTC(2025, 5, 1, 2, 0, 0);
const dayMs = 86_400_000;
const seededUscc = usccFor(20261202);
const seededSanctionId = 'FZ-2025-001';

const seedProfile = {
  uscc: seededUscc,
  legalName: 'Dianchi Construction Co.',
  roles: ['LEGAL_ROLE_BIDDER'],
  legalRepresentative: 'Zhang San',
  legalType: 'limited company',
  regionCode: '530100',
  registeredCapital: '10000000',
  legalStatus: 'active',
};
const seedSanction = {
  sanctionId: seededSanctionId,
  subject: { uscc: seededUscc, name: 'Dianchi Construction Co.' },
  listType: 'LIST_TYPE_SERIOUS_DISHONESTY',
  grounds: 'Bid rigging in a public works tender',
  groundsCategory: 'GROUNDS_CATEGORY_COLLUSION',
  decidingAuthority: 'Municipal Development and Reform Commission',
  documentCode: 'DRC-FZ-1',
  scope: ['works'],
  restriction: 'RESTRICTION_BAN',
  restrictionPeriod: { fromMs: String(startMs - 30 * dayMs), untilMs: String(startMs + 335 * dayMs) },
  publicationPeriod: { fromMs: String(startMs - 30 * dayMs), untilMs: String(startMs + 150 * dayMs) },
  decidedAtMs: String(startMs - 30 * dayMs),
};

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly bytes: number;
}

interface Target {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly operation: Operation;
  readonly write: boolean;
}

/** Whether the method behind POST `httpPath` writes, by the scope table; a method missing there counts as writing. */
function writes(httpPath: string): boolean {
  const [, , service, method] = httpPath.split('/');
  const rule = Object.entries(methodRules).find(([grpcPath]) => grpcPath.endsWith(`.${service}/${method}`))?.[1];
  return rule === undefined || rule.write === true;
}

/** Sends `requests` fuzzed requests to a fresh node; see FuzzReport for what is measured. */
export async function runFuzz(init: FuzzInit): Promise<FuzzReport> {
  const concurrency = init.concurrency ?? 48;
  const clock = { nowMs: () => startMs };
  const keyPair = generateKeyPair();
  const member: Member = { nodeId: nodeIdOf(keyPair.publicKey), publicKey: keyPair.publicKey, city: 'Kunming', regionCode: '530100', endpoints: [] };
  const store = new CountingStore();
  const replica = await Replica.open(
    { allianceId: Buffer.alloc(32, 0x5a), keyPair, members: new Membership([member]) },
    {
      store,
      transport: new Bus().transport(member.nodeId), // alone: no peer answers
      clock,
      random: new Prng('test').random(),
    },
  );
  const access = await testAccess();
  const services = [
    ...apiServices(apiContext({ replica, clock, freshnessBudgetMs: 30_000, city: 'Kunming', allianceId: Buffer.alloc(32, 0x5a), startedAtMs: startMs, signer: keyPairSigner(keyPair) })),
    accessService(access.guard),
  ];
  let internalErrorsLogged = 0;
  const server = await startHttpServer(
    { listen: '127.0.0.1:0', guard: access.guard, tls: access.tls, names: ['127.0.0.1', 'localhost'], log: () => void (internalErrorsLogged += 1) },
    services,
  );
  const credential = access.publish(0, server.port);
  const agent = new Agent({ ...tlsOptionsOf(credential), keepAlive: true, maxSockets: concurrency });
  const origin = `https://127.0.0.1:${server.port}`;

  const send = (method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const request = httpsRequest(`${origin}${path}`, { method, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: response.statusCode ?? 0, text: body.toString('utf8'), bytes: body.length });
        });
        response.on('error', reject);
      });
      request.setTimeout(60_000, () => request.destroy(new Error('no answer in 60 s')));
      request.on('error', reject);
      request.end(body);
    });
  const postJson = (path: string, body: unknown) => send('POST', path, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(body)));
  const entityFound = async () => {
    const answer = await postJson('/v1/EntityService/GetEntity', { uscc: seededUscc });
    return answer.status === 200 && (JSON.parse(answer.text) as { found?: boolean }).found === true;
  };

  try {
    // Something to find: reads then reach their handlers' found paths.
    for (const [path, body] of [
      ['/v1/EntityService/RegisterEntity', { profile: seedProfile }],
      ['/v1/SanctionService/IssueSanction', { sanction: seedSanction }],
    ] as const) {
      const answer = await postJson(path, body);
      if (answer.status !== 200) throw new AssertionError(`fuzz target: seeding ${path} answered ${answer.status} ${answer.text}`);
    }
    const document = await send('GET', '/openapi.json', {});
    const openApi = JSON.parse(document.text) as OpenApi;
    const targets: Target[] = Object.entries(openApi.paths).flatMap(([path, item]) => [
      ...(item.get ? [{ method: 'GET' as const, path, operation: item.get, write: false }] : []),
      ...(item.post ? [{ method: 'POST' as const, path, operation: item.post, write: writes(path) }] : []),
    ]);
    const generator = new RequestGenerator(init.seed, openApi, targets);
    // Warm-up (JIT, TLS sessions, lazily built tables) before the RSS baseline.
    await Promise.all(Array.from({ length: concurrency }, () => send('GET', '/healthz', {})));

    const before = { ownSeq: ownSeq(replica), clients: access.guard.registry.list().length, commits: store.commits };
    fullGc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage.rss();
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 100);
    const statuses: Record<string, number> = {};
    const kinds: Record<string, number> = {};
    const targetCounts: Record<string, number> = {};
    const failures: FuzzFailure[] = [];
    let failuresTotal = 0;
    let writeRequests = 0;
    let answered = 0;
    const bodyBytes = { sent: 0, received: 0 };
    const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);
    const indices = init.only ?? Array.from({ length: init.requests }, (_, i) => i);
    let next = 0;
    const startedAt = performance.now();
    let reportedAt = startedAt;

    const worker = async () => {
      while (next < indices.length) {
        const index = indices[next++]!;
        const request = generator.request(index);
        count(kinds, request.kind);
        count(targetCounts, request.target);
        if (request.write) writeRequests += 1;
        const fail = (why: string) => {
          failuresTotal += 1;
          if (failures.length < 20) failures.push({ index, request: request.describe(), kind: request.kind, why });
        };
        try {
          bodyBytes.sent += request.body?.length ?? 0;
          const answer = await send(request.method, request.path, request.headers, request.body);
          bodyBytes.received += answer.bytes;
          count(statuses, String(answer.status));
          if (answer.status >= 500) fail(`${answer.status} ${answer.text.slice(0, 300)}`);
          else if (request.write && answer.status < 400) fail(`a write method answered ${answer.status}: ${answer.text.slice(0, 300)}`);
        } catch (error) {
          count(statuses, 'transport error');
          if (request.kind !== 'oversize') fail(`transport: ${(error as Error).message}`);
        }
        answered += 1;
        const now = performance.now();
        if (init.onProgress && now - reportedAt >= 1000) {
          reportedAt = now;
          init.onProgress(answered);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - startedAt) / 1000;
    clearInterval(sampler);
    const rssPeakSeen = Math.max(rssPeak, process.memoryUsage.rss());
    fullGc();
    const heapAfter = process.memoryUsage().heapUsed;
    const rssAfter = process.memoryUsage.rss();
    const healthy = (await send('GET', '/healthz', {})).status === 200 && (await entityFound());

    return {
      seed: init.seed,
      requests: answered,
      concurrency,
      seconds,
      requestsPerSecond: answered / seconds,
      statuses: sorted(statuses),
      kinds: sorted(kinds),
      targets: sorted(targetCounts),
      openApiPaths: Object.keys(openApi.paths),
      writeRequests,
      bodyBytes,
      failuresTotal,
      failures,
      internalErrorsLogged,
      rssBytes: { before: rssBefore, peak: Math.max(rssPeakSeen, rssAfter), after: rssAfter },
      heapUsedBytes: { before: heapBefore, after: heapAfter },
      written: {
        storeCommits: store.commits - before.commits,
        ownSeqBefore: before.ownSeq,
        ownSeqAfter: ownSeq(replica),
        clientsBefore: before.clients,
        clientsAfter: access.guard.registry.list().length,
      },
      healthyAfter: healthy,
    };
  } finally {
    agent.destroy();
    await server.stop();
    await replica.close();
    access.remove();
  }
}

/** A full, synchronous GC, so memory figures count what is kept rather than garbage not yet collected (V8's gc(), exposed for this). */
function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const ownSeq = (replica: Replica) => replica.logs().find((l) => l.nodeId === replica.nodeId)!.storedSeq;
const sorted = (table: Record<string, number>) => Object.fromEntries(Object.entries(table).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

// ---- the generator -----------------------------------------------------------

interface Schema {
  readonly $ref?: string;
  readonly type?: string;
  readonly format?: string;
  readonly enum?: readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly items?: Schema;
  readonly additionalProperties?: Schema | boolean;
}

interface Operation {
  readonly parameters?: ReadonlyArray<{ readonly name: string; readonly in: string; readonly schema: Schema }>;
  readonly requestBody?: { readonly content: { readonly 'application/json': { readonly schema: Schema } } };
}

interface OpenApi {
  readonly paths: Readonly<Record<string, { readonly get?: Operation; readonly post?: Operation }>>;
  readonly components: { readonly schemas: Readonly<Record<string, Schema>> };
}

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** The defect it carries ('shaped' for none on purpose). */
  readonly kind: string;
  /** "METHOD /path" of the OpenAPI document it was made for, or "other". */
  readonly target: string;
  readonly write: boolean;
  describe(): string;
}

type Holder = Record<string, unknown> | unknown[];
/** A place in a generated body: `holder[key]`, a value of `schema`. */
interface Slot {
  readonly holder: Holder;
  readonly key: string | number;
  readonly schema: Schema;
}

/** One body being built: its message objects and value slots (for defects), and raw JSON text spliced in at markers. */
class Body {
  readonly messages: Array<{ readonly object: Record<string, unknown>; readonly schema: Schema }> = [];
  readonly slots: Slot[] = [];
  readonly #raws: string[] = [];

  /** A stand-in for JSON text JSON.stringify cannot write (1e400, 5,000 levels): replaced in `text`. */
  raw(text: string): string {
    this.#raws.push(text);
    return `@@fuzz-raw-${this.#raws.length - 1}@@`;
  }

  text(value: unknown): string {
    if (this.#raws.length === 0) return JSON.stringify(value);
    return JSON.stringify(value).replace(/"@@fuzz-raw-(\d+)@@"/g, (_all, i: string) => this.#raws[Number(i)]!);
  }

  /** The objects and arrays reachable from the root (the first message). */
  attached(): Set<unknown> {
    const seen = new Set<unknown>();
    const stack: unknown[] = [this.messages[0]!.object];
    while (stack.length > 0) {
      const value = stack.pop();
      if (typeof value !== 'object' || value === null || seen.has(value)) continue;
      seen.add(value);
      stack.push(...Object.values(value));
    }
    return seen;
  }
}

/** Percent-encoding of any string (encodeURIComponent throws on a lone surrogate: sent as U+FFFD). */
const encode = (text: string) => encodeURIComponent(text.replace(/\p{Cs}/gu, '\ufffd'));

/** An object whose keys are all its own, even "__proto__" (JSON.stringify writes it like any other key). */
const bareObject = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

/** The jsonName rule (openapi.ts): what a proto field named `key` is called in lowerCamel. */
const camel = (key: string) => key.replace(/_+(.?)/g, (_all, next: string) => next.toUpperCase());
/** Its proto name, when the field has no json_name: legalName -> legal_name. */
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const knownStrings = [
  '',
  'a',
  ' ',
  seededUscc,
  usccFor(1),
  '91350100M000100Y43',
  '91350100M000100Y44',
  seededSanctionId,
  'KM-404',
  '530100',
  '昆明市滇池建设有限公司',
  '张三',
  'Zhang San',
  'e\u0301',
  '\u202eevil\u202c',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '🙂🇨🇳👩‍👩‍👧',
  '\\',
  '"',
  '\n\r\t',
  '%00',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  'NaN',
  '-Infinity',
  '1e400',
  '-0',
  'true',
  'null',
  ...prototypeKeys,
];

const codePointRanges: ReadonlyArray<readonly [number, number]> = [
  [0x20, 0x7f],
  [0x00, 0x20],
  [0xa0, 0x800],
  [0x4e00, 0x9fff],
  [0xd800, 0xe000], // lone surrogates: JSON.stringify escapes them
  [0xfff0, 0x10000],
  [0x1f300, 0x1fa00],
  [0x10000, 0x110000],
];

const kinds = {
  shaped: 26,
  'prototype-key': 16,
  deep: 6,
  'wrong-type': 10,
  'huge-number': 8,
  'bad-base64': 5,
  'bad-enum': 4,
  'unknown-field': 5,
  'given-twice': 2,
  nulls: 2,
  'not-object': 2,
  'malformed-json': 3,
  'bad-utf8': 2,
  'media-type': 2,
  oversize: 0.05,
  'bad-authorization': 1,
  'wrong-method': 1.5,
  'wrong-host': 1,
  'query-on-post': 1,
} as const;
type Kind = keyof typeof kinds;

/** Kinds refused before the body is parsed, or whatever it holds. */
const refusedWhole = new Set<Kind>(['not-object', 'malformed-json', 'bad-utf8', 'media-type', 'oversize', 'bad-authorization', 'wrong-method', 'wrong-host', 'query-on-post']);

class RequestGenerator {
  readonly #seed: string;
  readonly #schemas: Readonly<Record<string, Schema>>;
  readonly #targets: readonly Target[];
  readonly #kindTable: ReadonlyArray<readonly [Kind, number]>;
  readonly #kindWeight: number;

  constructor(seed: string, openApi: OpenApi, targets: readonly Target[]) {
    this.#seed = seed;
    this.#schemas = openApi.components.schemas;
    this.#targets = targets;
    this.#kindTable = Object.entries(kinds) as Array<[Kind, number]>;
    this.#kindWeight = this.#kindTable.reduce((sum, [, w]) => sum + w, 0);
  }

  /** Request `index` of this seed: the same every time. */
  request(index: number): FuzzRequest {
    const random = new Prng(`${this.#seed}/${index}`);
    // Every target in turn, so each gets about requests/targets of them; 2 % go to paths the document does not have.
    if (random.chance(0.02)) return this.#stray(random);
    let target = this.#targets[index % this.#targets.length]!;
    // The document itself takes no input and is large: most of its turns go to another target.
    if (target.path === '/openapi.json' && random.chance(0.9)) target = random.pick(this.#targets);
    return target.method === 'GET' ? this.#get(random, target) : this.#post(random, target);
  }

  #kind(random: Prng): Kind {
    let roll = random.float() * this.#kindWeight;
    for (const [kind, weight] of this.#kindTable) {
      roll -= weight;
      if (roll < 0) return kind;
    }
    return 'shaped';
  }

  #resolve(schema: Schema): Schema {
    if (schema.$ref === undefined) return schema;
    const name = schema.$ref.replace('#/components/schemas/', '');
    const resolved = this.#schemas[name];
    if (!resolved) throw new AssertionError(`fuzz: ${schema.$ref} is not in the document`);
    return resolved;
  }

  // ---- values shaped by a schema ----

  #string(random: Prng, hint = ''): string {
    if (/uscc/i.test(hint) && random.chance(0.5)) return random.chance(0.8) ? seededUscc : usccFor(random.int(0, 99_999_999));
    if (/sanctionId/i.test(hint) && random.chance(0.5)) return seededSanctionId;
    const roll = random.float();
    if (roll < 0.45) return random.pick(knownStrings);
    if (roll < 0.99) {
      const length = random.int(0, 40);
      let text = '';
      for (let i = 0; i < length; i++) {
        const [from, to] = random.pick(codePointRanges);
        text += String.fromCodePoint(random.int(from, to));
      }
      return text;
    }
    return random.pick(['x', '昆', '🙂', '\u0301']).repeat(random.int(100, 5000));
  }

  #integer64(random: Prng, body: Body): unknown {
    return random.pick<() => unknown>([
      () => String(random.int(0, 2 ** 31)),
      () => String(startMs + random.int(-400, 400) * dayMs),
      () => '0',
      () => '-1',
      () => '9223372036854775807',
      () => '-9223372036854775808',
      () => '18446744073709551615',
      () => '9223372036854775808',
      () => '007',
      () => ' 1',
      () => '1.5',
      () => '1e3',
      () => random.int(0, 2 ** 31),
      () => 2 ** 53,
      () => body.raw('123456789012345678901234567890'),
    ])();
  }

  #integer32(random: Prng, body: Body): unknown {
    return random.pick<() => unknown>([
      () => random.int(0, 100),
      () => random.int(-(2 ** 31), 2 ** 31),
      () => 0,
      () => -1,
      () => 2 ** 31 - 1,
      () => 2 ** 31,
      () => 2 ** 32,
      () => 1.5,
      () => String(random.int(0, 1000)),
      () => body.raw('-0'),
      () => body.raw('1E2'),
    ])();
  }

  #number(random: Prng, body: Body): unknown {
    return random.pick<() => unknown>([
      () => random.float() * 100,
      () => 0,
      () => -random.float() * 1e10,
      () => 1e308,
      () => 'NaN',
      () => 'Infinity',
      () => '-Infinity',
      () => '2.5',
      () => body.raw('1e400'),
      () => body.raw('-1e-400'),
      () => body.raw('-0.0'),
    ])();
  }

  #bytes(random: Prng): string {
    const bytes = Buffer.from(Array.from({ length: random.pick([0, 1, 2, 3, 16, 32, 33, 64, 65, random.int(0, 3000)]) }, () => random.int(0, 256)));
    const roll = random.float();
    if (roll < 0.7) return bytes.toString('base64');
    if (roll < 0.9) return bytes.toString('base64url');
    return bytes.toString('base64').replace(/=+$/, '');
  }

  /** A value of `schema` (mostly valid, sometimes not), recording its message objects and slots in `body`. */
  #value(random: Prng, schema: Schema, body: Body, depth: number, hint: string): unknown {
    const resolved = this.#resolve(schema);
    if (resolved.enum) {
      if (random.chance(0.9)) return random.pick(resolved.enum);
      return random.pick<unknown>([0, 1, 2, 99]);
    }
    if (resolved.properties) return this.#message(random, resolved, body, depth);
    switch (resolved.type) {
      case 'object': {
        const map = bareObject();
        const item = typeof resolved.additionalProperties === 'object' ? resolved.additionalProperties : { type: 'string' };
        for (let n = random.int(0, 3); n > 0; n--) {
          const key = random.chance(0.2) ? random.pick(prototypeKeys.filter((k) => k !== '__proto__')) : random.chance(0.5) ? String(random.int(-5, 100)) : this.#string(random);
          map[key] = this.#value(random, item, body, depth + 1, key);
          body.slots.push({ holder: map, key, schema: item });
        }
        return map;
      }
      case 'array': {
        const items: unknown[] = [];
        for (let n = random.pick([0, 1, 1, 2, 3, random.int(0, 70)]); n > 0; n--) {
          items.push(this.#value(random, resolved.items ?? {}, body, depth + 1, hint));
          body.slots.push({ holder: items, key: items.length - 1, schema: resolved.items ?? {} });
        }
        return items;
      }
      case 'string':
        if (resolved.format === 'int64' || resolved.format === 'uint64') return this.#integer64(random, body);
        if (resolved.format === 'byte') return this.#bytes(random);
        return this.#string(random, hint);
      case 'integer':
        // Mostly small counts where a field asks for at most so many (ListAudit's limit: the trail the fuzz itself fills,
        // up to auditReadRecordsMax records an answer, would otherwise make a run's cost grow with its square).
        if (/^(limit|pageSize|\w*Max)$/.test(hint) && random.chance(0.98)) return random.int(1, 50);
        return this.#integer32(random, body);
      case 'number':
        return this.#number(random, body);
      case 'boolean':
        return random.chance(0.95) ? random.chance(0.5) : random.pick<unknown>(['true', 1]);
      default:
        return this.#string(random, hint);
    }
  }

  #message(random: Prng, schema: Schema, body: Body, depth: number): Record<string, unknown> {
    const object = bareObject();
    body.messages.push({ object, schema });
    if (depth > 12) return object; // no real request nests this deep; a recursive schema would
    const share = depth === 0 ? 0.7 : 0.5;
    for (const [name, field] of Object.entries(schema.properties ?? {})) {
      if (!random.chance(share)) continue;
      const key = random.chance(0.1) ? snake(name) : name; // the proto name is accepted too
      object[key] = this.#value(random, field, body, depth + 1, name);
      body.slots.push({ holder: object, key, schema: field });
    }
    return object;
  }

  // ---- defects ----

  /** Nesting `levels` deep (a random run of up to 8 levels, repeated), as raw text: JSON.stringify would overflow the stack writing it. */
  #deep(random: Prng, levels: number, arraysOnly: boolean): string {
    const opens: string[] = [];
    const closes: string[] = [];
    for (let i = random.int(1, 9); i > 0; i--) {
      const array = arraysOnly || random.chance(0.5);
      opens.push(array ? '[' : random.pick(['{"a":', '{"constructor":', '{"__proto__":', '{"text":']));
      closes.unshift(array ? ']' : '}');
    }
    const runs = Math.ceil(levels / opens.length);
    return opens.join('').repeat(runs) + random.pick(['1', '"x"', 'null', '{}', '[]']) + closes.join('').repeat(runs);
  }

  /**
   * Puts a defect of `kind` into `body` (whose root is `root`); returns whether the transcoder is certain
   * to refuse the body for it (a few defects are sometimes valid: a huge double is Infinity).
   */
  #defect(random: Prng, kind: Kind, body: Body): boolean {
    // Only places still in the body: an earlier defect may have replaced a value and cut off what was inside it.
    const attached = body.attached();
    const slotOf = (test: (schema: Schema) => boolean) => {
      const slots = body.slots.filter((s) => attached.has(s.holder) && (s.holder as Record<string | number, unknown>)[s.key] !== null && test(this.#resolve(s.schema)));
      return slots.length === 0 ? undefined : random.pick(slots);
    };
    const isScalar = (s: Schema) => s.properties === undefined && s.type !== 'array' && s.type !== 'object';
    const set = (slot: Slot, value: unknown) => ((slot.holder as Record<string | number, unknown>)[slot.key] = value);
    const message = random.pick(body.messages.filter((m) => attached.has(m.object)));
    const properties = message.schema.properties ?? {};
    const known = (key: string) => Object.hasOwn(properties, key) || Object.hasOwn(properties, camel(key));
    switch (kind) {
      case 'prototype-key': {
        const key = random.pick(prototypeKeys);
        message.object[key] = random.pick<() => unknown>([() => 1, () => 'x', () => null, () => ({}), () => [], () => ({ uscc: seededUscc }), () => body.raw(this.#deep(random, random.int(2, 50), false))])();
        return !known(key);
      }
      case 'unknown-field': {
        const key = random.pick(['legal-name', 'Uscc ', '昆明', '', ' ', 'a'.repeat(random.int(1, 2000)), this.#string(random), 'extra', 'id']);
        message.object[key] = this.#string(random);
        // A key that cannot be a proto identifier is unknown for certain; a plain word might be a field.
        return !known(key) && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key);
      }
      case 'deep': {
        const levels = random.pick([jsonNestingDepthMax, jsonNestingDepthMax + 1, random.int(100, 1000), random.int(4000, 6000)]);
        const slot = slotOf(() => true);
        if (!slot) {
          message.object[random.pick(['inner', 'a', 'child'])] = body.raw(this.#deep(random, levels, false));
          return !known('inner') && !known('a') && !known('child');
        }
        // Arrays where any single value belongs are refused for certain; objects are where a scalar belongs.
        const scalar = isScalar(this.#resolve(slot.schema));
        set(slot, body.raw(this.#deep(random, levels, !scalar)));
        return true;
      }
      case 'wrong-type': {
        const slot = slotOf(() => true);
        if (!slot) return false;
        const schema = this.#resolve(slot.schema);
        if (isScalar(schema)) set(slot, random.pick<unknown>([{}, [], [1], { value: 1 }]));
        else if (schema.type === 'array') set(slot, random.pick<unknown>([{}, 'x', 1, true]));
        else set(slot, random.pick<unknown>(['x', 1, true, [], [{}]]));
        return true;
      }
      case 'huge-number': {
        const slot = slotOf((s) => isScalar(s) && s.type !== 'number');
        if (!slot) return false;
        const schema = this.#resolve(slot.schema);
        const integer = schema.type === 'integer' || schema.format === 'int64' || schema.format === 'uint64';
        set(slot, body.raw(random.pick(['1e400', '-1e400', '123456789012345678901234567890', '18446744073709551616', integer ? '9'.repeat(25) : '1e309'])));
        return true; // beyond every integer type, not a string, bool, base64 text or enum number
      }
      case 'bad-base64': {
        const slot = slotOf((s) => s.format === 'byte');
        if (!slot) return false;
        set(slot, random.pick(['not base64!', 'abcde', '=abc', 'a=b', '%%%%', 'AAAA====', '\u00e9\u00e9\u00e9\u00e9']));
        return true;
      }
      case 'bad-enum': {
        const slot = slotOf((s) => s.enum !== undefined);
        if (!slot) return false;
        const values = this.#resolve(slot.schema).enum!;
        set(slot, random.pick<unknown>([`${random.pick(values)}_`, random.pick(values).toLowerCase(), 'toString', 'constructor', '__proto__', 1.5, 2 ** 31, -(2 ** 31) - 1, '']));
        return true;
      }
      case 'given-twice': {
        const names = Object.keys(properties).filter((n) => snake(n) !== n && !Object.hasOwn(message.object, snake(n)));
        if (names.length === 0) return false;
        const name = random.pick(names);
        const field = properties[name]!;
        message.object[name] = this.#value(random, field, body, 1, name);
        message.object[snake(name)] = this.#value(random, field, body, 1, name);
        return true; // the proto name again, or (if it is not the proto name) a field unknown
      }
      case 'nulls': {
        for (const slot of body.slots) if (random.chance(0.3)) set(slot, null);
        return false;
      }
      default:
        return false;
    }
  }

  // ---- requests ----

  #post(random: Prng, target: Target): FuzzRequest {
    let kind = this.#kind(random);
    const headers: Record<string, string> = { 'content-type': random.pick(['application/json', 'application/json', 'application/json; charset=utf-8', 'Application/JSON']) };
    const make = (text: string | Buffer, overrides: Partial<Pick<FuzzRequest, 'method' | 'path'>> = {}): FuzzRequest => {
      const body = typeof text === 'string' ? Buffer.from(text) : text;
      const method = overrides.method ?? 'POST';
      const path = overrides.path ?? target.path;
      return {
        method,
        path,
        headers,
        body,
        kind,
        target: `POST ${target.path}`,
        write: target.write,
        describe: () => `${method} ${path} ${JSON.stringify(headers)} ${body.toString('utf8').slice(0, 400)}${body.length > 400 ? `... (${body.length} bytes)` : ''}`,
      };
    };
    const schema = target.operation.requestBody?.content['application/json'].schema ?? { type: 'object', properties: {} };
    const body = new Body();
    const root = this.#message(random, this.#resolve(schema), body, 0);
    let refused = !refusedWhole.has(kind) && kind !== 'shaped' && this.#defect(random, kind, body);
    // A write method's body always carries a defect it is certain to refuse (whatever else the request does wrong).
    while (target.write && !refused) {
      const defect = random.pick<Kind>(['prototype-key', 'wrong-type', 'deep', 'huge-number', 'bad-enum', 'bad-base64']);
      refused = this.#defect(random, defect, body);
      if (kind === 'shaped') kind = defect;
    }
    switch (kind) {
      case 'not-object':
        return make(random.pick(['[]', '[1]', '"x"', '5', 'null', 'true', '[{}]']));
      case 'malformed-json': {
        const text = body.text(root);
        return make(random.pick([text.slice(0, -1), `${text},`, `${text}}`, text.includes(':') ? text.replace(/:/, ' ') : '{"a" 1}', "{'a': 1}", '{"a": NaN}', '{"a":1,}', '{', '\u0000{}', '{"a": 01}']));
      }
      case 'bad-utf8':
        return make(Buffer.concat([Buffer.from('{"'), Buffer.from(random.pick([[0xff], [0xfe, 0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), Buffer.from('": 1}')]));
      case 'media-type': {
        const choice = random.int(0, 6);
        if (choice === 0) delete headers['content-type'];
        else if (choice === 5) headers['content-encoding'] = random.pick(['gzip', 'br', 'deflate']);
        else headers['content-type'] = random.pick(['text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']);
        return make(body.text(root));
      }
      case 'oversize': {
        root[random.pick(Object.keys(this.#resolve(schema).properties ?? {}).concat('padding'))] = 'x'.repeat(httpRequestBytesMax + random.int(1, 10_000));
        return make(body.text(root));
      }
      case 'bad-authorization':
        headers.authorization = random.pick(['Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer a b', 'bearer', '']);
        return make(body.text(root));
      case 'wrong-method':
        return make('', { method: random.pick(['GET', 'PUT', 'DELETE', 'PATCH']) });
      case 'wrong-host':
        headers.host = random.pick(['evil.example', 'localhost.evil.example', '127.0.0.2', '']);
        return make(body.text(root));
      case 'query-on-post':
        return make(body.text(root), { path: `${target.path}?${random.pick(['uscc=1', '__proto__=1', 'a', '=', '&&'])}` });
      default:
        return make(body.text(root));
    }
  }

  #get(random: Prng, target: Target): FuzzRequest {
    let kind: string = random.pick(['shaped', 'shaped', 'prototype-key', 'huge-number', 'unknown-field', 'bad-percent', 'given-twice', 'wrong-method']);
    const parameters = target.operation.parameters ?? [];
    const text = (schema: Schema, hint: string): string => {
      const body = new Body();
      const value = kind === 'huge-number' && random.chance(0.5) ? random.pick(['1e400', '99999999999999999999999', '-9223372036854775809', '18446744073709551616']) : this.#value(random, schema, body, 1, hint);
      return typeof value === 'string' && !value.startsWith('@@fuzz-raw-') ? value : body.text(value);
    };
    let path = target.path;
    const query: Array<[string, string]> = [];
    for (const parameter of parameters) {
      const value = text(parameter.schema, parameter.name);
      if (parameter.in === 'path') {
        const encoded = kind === 'bad-percent' && random.chance(0.5) ? random.pick(['%', '%E4%B8', '%zz', '%C0%AF', '%00']) : encode(value) || 'x';
        path = path.replace(`{${parameter.name}}`, encoded);
      } else if (random.chance(0.5)) {
        query.push([parameter.name, value]);
      }
    }
    if (kind === 'prototype-key') query.push([random.pick(prototypeKeys), random.pick(['1', '', 'x', '{}'])]);
    if (kind === 'unknown-field') query.push([random.pick(['colour', '', 'a'.repeat(500), '昆明', 'uscc[]']), this.#string(random)]);
    if (kind === 'given-twice' && parameters.length > 0) {
      const parameter = random.pick(parameters);
      query.push([parameter.name, text(parameter.schema, parameter.name)], [snake(parameter.name), text(parameter.schema, parameter.name)]);
    }
    let search = query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
    if (kind === 'bad-percent' && random.chance(0.5)) search += random.pick(['&%', '&a=%zz', '&%E4=1', '&&&=', '&a=%ED%A0%80']);
    const method = kind === 'wrong-method' ? random.pick(['POST', 'PUT', 'DELETE']) : 'GET';
    const headers: Record<string, string> = method === 'POST' ? { 'content-type': 'application/json' } : {};
    const body = method === 'POST' ? Buffer.from('{}') : undefined;
    const fullPath = search === '' ? path : `${path}?${search}`;
    if (kind === 'shaped' && random.chance(0.02)) kind = 'shaped-long';
    return { method, path: fullPath, headers, body, kind: `get-${kind}`, target: `GET ${target.path}`, write: false, describe: () => `${method} ${fullPath}` };
  }

  #stray(random: Prng): FuzzRequest {
    const path = random.pick([
      '/',
      '/v1',
      '/v1/EntityService',
      '/v1/EntityService/',
      '/v1/EntityService/registerEntity',
      '/v1/constructor/toString',
      '/v1/__proto__/x',
      '/v2/EntityService/GetEntity',
      `/v1/${encode(this.#string(random))}`,
      '/openapi.json/',
      '/healthz?x=1',
      '/%2e%2e/%2e%2e/etc/passwd',
    ]);
    const method = random.pick(['GET', 'POST', 'HEAD', 'OPTIONS']);
    const headers: Record<string, string> = method === 'POST' ? { 'content-type': 'application/json' } : {};
    const body = method === 'POST' ? Buffer.from('{}') : undefined;
    return { method, path, headers, body, kind: 'stray-path', target: 'other', write: false, describe: () => `${method} ${path}` };
  }
}
