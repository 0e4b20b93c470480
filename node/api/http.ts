import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ScalarType } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { TongxingError, ValidationError } from '../../federation/errors.js';
import { apiRequestBytesMax, apiShutdownGraceMs, httpRequestBytesMax, httpRequestTimeoutMs } from '../limits.js';
import { binaryFromJson, describeJson, jsonFromBinary } from './json.js';
import { apiMethods, openApiDocument, packageVersion, pathParameters, queryFields, type ApiMethod, type QueryRoute } from './openapi.js';
import { apiSchema, type ProtoSchema } from './schema.js';
import { approvalHeader, decodeOperator, operatorHeader, type AccessGuard, type CallIdentity } from '../access/guard.js';
import { ApiConnections, type ApiTls } from '../access/tls.js';
import { parseListen } from '../listen.js';
import { httpStatusOf, statusOf } from '../error-table.js';
import type { ApiService, StreamHandler, UnaryHandler } from './service.js';
import { chooseEncoding, consoleContentSecurityPolicy, defaultConsoleDirectory, readConsoleAssets, type ConsoleAsset } from '../console/assets.js';

// The client API over HTTP/JSON, for trading platforms that do not speak gRPC:
// the same services and handlers as server.ts. A request is proto3 JSON,
// converted strictly (json.ts: unknown fields and wrong types are refused,
// naming the field) to the method's binary request, which the generated
// definition decodes for the handler; the answer goes back the same way. HTTPS with the
// node's API certificate; a caller presents a pinned client certificate or a
// bearer token, and passes the same access guard as over gRPC. Browsers are
// kept out: a Host that is not one of the node's names is refused (DNS
// rebinding), every POST must say Content-Type: application/json (so no
// "simple" cross-site form post reaches a handler), and no CORS headers are
// sent. docs/HTTP.md describes the endpoints; GET /openapi.json serves the
// description built from the generated descriptors (schema.ts).

export interface HttpServerInit {
  /** host:port ('[::1]:7403' for IPv6); port 0 picks a free one (see HttpServer.port). */
  readonly listen: string;
  /** Where INTERNAL errors are reported (pino's argument order); the caller gets the same message. */
  readonly log?: (fields: Record<string, unknown>, message: string) => void;
  /** The descriptors the services are described in; the node's own (gen/descriptor-set.ts) when absent (tests pass their own). */
  readonly schema?: ProtoSchema;
  readonly guard: AccessGuard;
  readonly tls: ApiTls;
  /** Host names (and addresses) requests may name in Host; others are refused. */
  readonly names: readonly string[];
  /** The operator console's built files, served under /console/ (node/console/assets.ts); dist/console when absent. */
  readonly consoleDirectory?: string;
}

export interface HttpServer {
  /** The bound port (the chosen one when `listen` asked for port 0). */
  readonly port: number;
  /** The document GET /openapi.json serves. */
  readonly openApi: Readonly<Record<string, unknown>>;
  /** Refuses new connections, lets in-flight requests finish for up to apiShutdownGraceMs, then closes them. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Read-only methods that also answer GET, request fields from the path and
 * the query string (e.g. GET /v1/sanctions/check?uscc=...&atMs=...). Kept
 * small on purpose: every method answers POST /v1/{Service}/{Method}. A route
 * whose method is not served is left out.
 */
export const queryRouteTargets: readonly { readonly path: string; readonly grpcPath: string }[] = [
  { path: '/v1/entities/{uscc}', grpcPath: '/tongxing.api.v1.EntityService/GetEntity' },
  { path: '/v1/sanctions/check', grpcPath: '/tongxing.api.v1.SanctionService/CheckSanctions' },
  { path: '/v1/status', grpcPath: '/tongxing.api.v1.NodeService/GetStatus' },
];

/** A refusal at the HTTP layer (route, method, media type, size), before any handler runs: its HTTP status is its own, since no gRPC status says 405 or 415. */
class HttpRefusal extends TongxingError {
  override name = 'HttpRefusal';
  constructor(
    readonly httpStatus: number,
    readonly code: status,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

function refusalOf(error: unknown): { httpStatus: number; body: ErrorBody; headers: Readonly<Record<string, string>> } {
  if (error instanceof HttpRefusal) return { httpStatus: error.httpStatus, body: { code: status[error.code], message: error.message }, headers: error.headers };
  const { code, details } = statusOf(error);
  const field = error instanceof ValidationError ? error.field : undefined;
  return {
    httpStatus: httpStatusOf(error),
    body: { code: status[code], message: details, ...(field === undefined ? {} : { field }) },
    headers: {},
  };
}

// ---- routing and serving ---------------------------------------------------

interface Route {
  readonly method: ApiMethod;
  readonly unary: UnaryHandler | undefined;
  readonly stream: StreamHandler | undefined;
}

interface GetRoute extends Route {
  readonly pattern: RegExp;
  readonly parameters: readonly string[];
}


/** The request body, refused with 413 past httpRequestBytesMax (by Content-Length up front, or while reading). */
function readBody(request: IncomingMessage): Promise<Buffer> {
  const tooLarge = (bytes: string) =>
    new HttpRefusal(413, status.RESOURCE_EXHAUSTED, `request body is ${bytes} bytes; at most ${httpRequestBytesMax} (httpRequestBytesMax)`, { connection: 'close' });
  const declared = Number(request.headers['content-length']);
  if (declared > httpRequestBytesMax) return Promise.reject(tooLarge(String(declared)));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > httpRequestBytesMax) {
        request.off('data', onData);
        request.resume(); // discard the rest; the connection closes after the answer
        reject(tooLarge(`more than ${httpRequestBytesMax}`));
      } else {
        chunks.push(chunk);
      }
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The JSON body of a POST: Content-Type application/json (UTF-8); an empty body is `{}`. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const contentType = request.headers['content-type'];
  const unsupported = (what: string) => new HttpRefusal(415, status.INVALID_ARGUMENT, `${what}; send Content-Type: application/json`);
  // Required even without a body: a browser sends a cross-site POST without a preflight only when it is not JSON.
  if (contentType === undefined) throw unsupported('a POST without Content-Type');
  {
    const [mime, ...parameters] = contentType.split(';').map((p) => p.trim().toLowerCase());
    if (mime !== 'application/json') throw unsupported(`Content-Type ${contentType} is not JSON`);
    const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw unsupported(`charset ${charset} is not UTF-8`);
  }
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') throw new HttpRefusal(415, status.INVALID_ARGUMENT, `Content-Encoding ${encoding} is not accepted; send the body uncompressed`);
  const body = await readBody(request);
  if (body.length === 0) return {};
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new HttpRefusal(400, status.INVALID_ARGUMENT, 'request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpRefusal(400, status.INVALID_ARGUMENT, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** GET route fields: template parameters from the path, the rest from the query; text values read as proto3 JSON. */
function queryJson(route: GetRoute, match: RegExpExecArray, query: URLSearchParams): Record<string, unknown> {
  const allowed = queryFields(route.method.request);
  const fields = new Map(allowed.flatMap((f) => [[f.jsonName, f] as const, [f.name, f] as const]));
  // Read like a body; query names are looked up in `fields`, a Map, and set on an object with no prototype.
  const json = Object.create(null) as Record<string, unknown>;
  const set = (name: string, text: string) => {
    const field = fields.get(name);
    if (!field) throw new ValidationError(name, `unknown query parameter; known: ${allowed.map((f) => f.jsonName).join(', ') || 'none'}`);
    const key = field.jsonName;
    if (Object.hasOwn(json, key)) throw new ValidationError(key, 'given twice');
    json[key] = field.scalar === ScalarType.BOOL && (text === 'true' || text === 'false') ? text === 'true' : text;
  };
  route.parameters.forEach((name, i) => {
    let text: string;
    try {
      text = decodeURIComponent(match[i + 1]!);
    } catch {
      throw new ValidationError(name, 'malformed percent-encoding in the path');
    }
    set(name, text);
  });
  for (const [name, text] of query) set(name, text);
  return json;
}

/** The request a handler's definition decodes, from proto3 JSON, and its binary encoding (what an approver signs). */
function requestOf(method: ApiMethod, json: unknown): { request: unknown; binary: Buffer } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new HttpRefusal(400, status.INVALID_ARGUMENT, `request body must be a JSON object, not ${describeJson(json)}`);
  const encoded = binaryFromJson(method.request, json);
  const binary = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  if (binary.length > apiRequestBytesMax) {
    throw new HttpRefusal(413, status.RESOURCE_EXHAUSTED, `request is ${binary.length} bytes encoded; at most ${apiRequestBytesMax} (apiRequestBytesMax)`);
  }
  return { request: method.definition.requestDeserialize(binary), binary };
}

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** What HTTPS tells the guard: the connection's client certificate, the bearer token, the operator and approval headers. */
function identityOf(request: IncomingMessage, connections: ApiConnections): CallIdentity {
  const authorization = header(request, 'authorization');
  let token: string | undefined;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new HttpRefusal(401, status.UNAUTHENTICATED, 'Authorization must be "Bearer TOKEN"', { 'www-authenticate': 'Bearer' });
    token = match[1];
  }
  const approval = header(request, approvalHeader);
  return {
    transport: 'http',
    certificateDer: connections.certificateOf(ApiConnections.peerOf(request.socket)),
    token,
    operator: decodeOperator(header(request, operatorHeader)),
    approval: approval === undefined ? undefined : Buffer.from(approval, 'base64'),
  };
}

/** The host of a Host header ("[::1]:7403" -> "::1"). */
function hostOf(value: string | undefined): string {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(value ?? '');
  return (match?.[1] ?? match?.[2] ?? '').toLowerCase();
}

/** A handler's response as proto3 JSON, through its binary encoding. */
const responseJson = (method: ApiMethod, response: unknown) => jsonFromBinary(method.response, method.definition.responseSerialize(response));

/** Resolves when `response` can take more, or has closed. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/**
 * Binds the HTTP/JSON client API on `init.listen` for `services` (the same
 * instances the gRPC server serves, so they share state). Rejects when the
 * address cannot be bound, or when a served method is not in the schema.
 */
export async function startHttpServer(init: HttpServerInit, services: readonly ApiService[]): Promise<HttpServer> {
  const { host, port: requestedPort } = parseListen(init.listen, 'HTTP API');
  const schema = init.schema ?? apiSchema();
  const methods = apiMethods(schema, services);
  const unaries = new Map(services.flatMap((s) => Object.entries(s.handlers).map(([key, handler]) => [s.definition[key]?.path, handler] as const)));
  const streams = new Map(services.flatMap((s) => Object.entries(s.streams ?? {}).map(([key, handler]) => [s.definition[key]?.path, handler] as const)));
  const routeOf = (method: ApiMethod): Route => ({
    method,
    unary: method.streaming === 'unary' ? unaries.get(method.grpcPath) : undefined,
    stream: method.streaming === 'server' ? streams.get(method.grpcPath) : undefined,
  });
  const posts = new Map(methods.map((m) => [m.httpPath, routeOf(m)]));
  const gets: GetRoute[] = [];
  const queryRoutes: QueryRoute[] = [];
  for (const target of queryRouteTargets) {
    const method = methods.find((m) => m.grpcPath === target.grpcPath && m.streaming === 'unary');
    if (!method) continue;
    const pattern = new RegExp(`^${target.path.replace(/\{\w+\}/g, '([^/]+)')}$`);
    gets.push({ ...routeOf(method), pattern, parameters: pathParameters(target.path) });
    queryRoutes.push({ path: target.path, method });
  }
  const openApi = openApiDocument({ schema, methods, queryRoutes, version: packageVersion() });
  const openApiText = JSON.stringify(openApi);
  let stopping = false;

  const headersFor = (contentType: string, extra: Readonly<Record<string, string>> = {}) => ({
    'content-type': contentType,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(stopping ? { connection: 'close' } : {}),
    ...extra,
  });
  const send = (response: ServerResponse, httpStatus: number, body: string, headers: Readonly<Record<string, string>> = {}) => {
    response.writeHead(httpStatus, { ...headersFor('application/json; charset=utf-8', headers), 'content-length': String(Buffer.byteLength(body)) });
    response.end(body);
  };
  const onlyMethod = (request: IncomingMessage, allowed: 'GET' | 'POST') => {
    if (request.method !== allowed) throw new HttpRefusal(405, status.UNIMPLEMENTED, `${request.method} is not served here; use ${allowed}`, { allow: allowed });
  };

  /** Runs a route: unary answers one JSON object; server-streaming answers NDJSON ({"result": ...} lines, a last {"error": ...} on failure). */
  async function run(route: Route, json: unknown, identity: CallIdentity, response: ServerResponse): Promise<void> {
    const { method } = route;
    const unaryHandler = route.unary;
    if (unaryHandler) {
      const { request, binary } = requestOf(method, json);
      const answer = await init.guard.run(method.grpcPath, request, () => binary, identity, (caller) => unaryHandler(request, caller));
      send(response, 200, JSON.stringify(responseJson(method, answer)));
      return;
    }
    if (!route.stream) {
      const why = method.streaming === 'client' || method.streaming === 'bidi' ? `${method.streaming}-streaming methods are served over gRPC only` : 'it has no handler at this node';
      throw new HttpRefusal(501, status.UNIMPLEMENTED, `${method.grpcPath}: ${why}`);
    }
    const { request, binary } = requestOf(method, json);
    const admission = init.guard.admit(method.grpcPath, request, () => binary, identity);
    let failure: unknown;
    try {
      const iterator = route.stream(request, admission.caller)[Symbol.asyncIterator]();
      // The first message (or error) comes before the status line, so a refused request gets its HTTP status.
      let next = await iterator.next();
      response.writeHead(200, headersFor('application/x-ndjson; charset=utf-8'));
      try {
        for (; !next.done; next = await iterator.next()) {
          if (response.destroyed) break;
          if (!response.write(JSON.stringify({ result: responseJson(method, next.value) }) + '\n')) await drained(response);
        }
      } catch (error) {
        failure = error;
        response.write(JSON.stringify({ error: refusalOf(error).body }) + '\n');
      } finally {
        if (!next.done) await iterator.return?.();
      }
      response.end();
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await admission.finish(failure);
    }
  }

  const names = new Set(init.names.map((n) => n.toLowerCase()));
  const connections = new ApiConnections();
  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(`http://node${request.url ?? '/'}`);
    // Probes (kubelet, load balancers) name the pod's address: /healthz answers any Host, and says nothing but "ok".
    if (url.pathname !== '/healthz' && !names.has(hostOf(request.headers.host))) {
      throw new HttpRefusal(421, status.PERMISSION_DENIED, `Host ${JSON.stringify(request.headers.host ?? '')} is not a name of this node (api.names: ${init.names.join(', ')})`);
    }
    const post = posts.get(url.pathname);
    if (post) {
      onlyMethod(request, 'POST');
      if (url.search !== '') throw new HttpRefusal(400, status.INVALID_ARGUMENT, `POST reads no query parameters (${url.search}); put the fields in the JSON body`);
      const identity = identityOf(request, connections);
      init.guard.authenticate(post.method.grpcPath, identity); // before the body is read: strangers get 401, not a parse error
      return run(post, await readJson(request), identity, response);
    }
    for (const route of gets) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      onlyMethod(request, 'GET');
      return run(route, queryJson(route, match, url.searchParams), identityOf(request, connections), response);
    }
    if (url.pathname === '/openapi.json') {
      onlyMethod(request, 'GET');
      return send(response, 200, openApiText);
    }
    if (url.pathname === '/healthz') {
      onlyMethod(request, 'GET');
      if (stopping) throw new HttpRefusal(503, status.UNAVAILABLE, 'stopping');
      return send(response, 200, JSON.stringify({ status: 'ok' }));
    }
    if (url.pathname === '/console' || url.pathname.startsWith('/console/')) {
      onlyMethod(request, 'GET');
      return serveConsole(url.pathname, request, response);
    }
    throw new HttpRefusal(404, status.NOT_FOUND, `no such endpoint: ${url.pathname}; methods are POST /v1/{Service}/{Method}, see GET /openapi.json`);
  }

  // The console's pages are public files (what a client may do is the guard's to say, per call); read on the first request.
  let consoleAssets: ReadonlyMap<string, ConsoleAsset> | undefined;
  function serveConsole(pathname: string, request: IncomingMessage, response: ServerResponse): void {
    if (pathname === '/console') {
      response.writeHead(308, { ...headersFor('text/plain; charset=utf-8'), location: '/console/' });
      response.end();
      return;
    }
    try {
      consoleAssets ??= readConsoleAssets(init.consoleDirectory ?? defaultConsoleDirectory());
    } catch (error) {
      throw new HttpRefusal(404, status.NOT_FOUND, (error as Error).message);
    }
    const name = pathname === '/console/' ? 'index.html' : pathname.slice('/console/'.length);
    const asset = consoleAssets.get(name);
    if (!asset) throw new HttpRefusal(404, status.NOT_FOUND, `no console file ${pathname}`);
    const encoding = chooseEncoding(asset, header(request, 'accept-encoding'));
    const body = encoding === 'br' ? asset.brotli! : encoding === 'gzip' ? asset.gzip! : asset.identity;
    response.writeHead(200, {
      ...headersFor(asset.contentType),
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-security-policy': consoleContentSecurityPolicy,
      'referrer-policy': 'no-referrer',
      vary: 'accept-encoding',
      ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
      'content-length': String(body.length),
    });
    response.end(body);
  }

  const server = createServer({ ...init.tls.httpsOptions(), requestTimeout: httpRequestTimeoutMs }, (request, response) => {
    serve(request, response).catch((error: unknown) => {
      const { httpStatus, body, headers } = refusalOf(error);
      if (httpStatus >= 500) init.log?.({ method: request.method, url: request.url, httpStatus, code: body.code }, `HTTP API: ${body.message}`);
      if (!response.headersSent) send(response, httpStatus, JSON.stringify(body), headers);
      else response.destroy();
    });
  });
  init.tls.follow(server);
  // Each connection's certificate is read once; one presented but not pinned ends the connection before any request is read.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (connections.add(socket) && !socket.authorized) socket.destroy();
  });
  server.on('tlsClientError', () => undefined); // a refused handshake is the client's problem, not the node's
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error) => reject(new TongxingError(`HTTP API cannot listen on ${init.listen}: ${error.message}`)));
    server.listen(requestedPort, host, () => resolve((server.address() as { port: number }).port));
  });

  let stopped: Promise<void> | undefined;
  return {
    port,
    openApi,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        stopping = true;
        const force = setTimeout(() => server.closeAllConnections(), apiShutdownGraceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return stopped;
    },
  };
}
