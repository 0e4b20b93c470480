import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MethodDefinition } from '@grpc/grpc-js';
import { methodRules } from '../access/scopes.js';
import protobuf from 'protobufjs';
import { assert, TongxingError } from '../../federation/errors.js';
import type { ApiService } from './service.js';

// What proto/ says about the client API, read with protobufjs: the message
// types behind each served method (the HTTP/JSON gateway converts proto3 JSON
// with them, http.ts) and the OpenAPI 3.1 description built from the same
// reflection.
//
// Built at startup rather than committed as a generated file: the document and
// the gateway then come from one Root and cannot disagree, a service added to
// apiServices() is described with no regeneration step, and building takes
// milliseconds. The price is that proto/ ships beside dist/ (deploy/Dockerfile
// copies it); a method served from gen/ but missing in proto/ stops startup.

/** The repository's proto/: found above this file, from node/api/ (tsx, vitest) and from dist/node/api/ alike. */
export function protoDirectory(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'proto', 'tongxing'))) return join(dir, 'proto');
    if (dirname(dir) === dir) {
      throw new TongxingError(`proto/ not found in ${from} or above: the HTTP/JSON API reads message definitions from it (ship proto/ beside dist/)`);
    }
  }
}

function protoFiles(dir: string, under = dir): string[] {
  return readdirSync(under, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(under, entry.name);
      if (entry.isDirectory()) return protoFiles(dir, path);
      return entry.name.endsWith('.proto') ? [relative(dir, path)] : [];
    })
    .sort();
}

const roots = new Map<string, protobuf.Root>();

/**
 * Every .proto file under `dir`, parsed with proto field names kept (JSON
 * names are derived as protoc does, see jsonName) and comments as descriptions.
 * Cached per directory: proto/ does not change while the node runs.
 */
export function loadProtos(dir = protoDirectory()): protobuf.Root {
  const cached = roots.get(dir);
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(dir, target));
  root.loadSync(protoFiles(dir), { keepCase: true, alternateCommentMode: true });
  root.resolveAll();
  roots.set(dir, root);
  return root;
}

/** proto3 JSON name of a field: `json_name` when set, else protoc's lowerCamel (underscores dropped, next letter upper-cased). */
export function jsonName(field: protobuf.FieldBase): string {
  const explicit: unknown = field.options?.json_name;
  if (typeof explicit === 'string') return explicit;
  return field.name.replace(/_+(.?)/g, (_all, next: string) => next.toUpperCase());
}

/** How a method streams: HTTP/JSON serves unary and server-streaming methods (the latter as NDJSON, docs/HTTP.md). */
export type Streaming = 'unary' | 'server' | 'client' | 'bidi';

/** One method of a served service, with its proto types. */
export interface ApiMethod {
  /** 'SanctionService' */
  readonly service: string;
  /** 'CheckSanctions' */
  readonly method: string;
  /** '/tongxing.api.v1.SanctionService/CheckSanctions', as gRPC names it. */
  readonly grpcPath: string;
  /** '/v1/SanctionService/CheckSanctions': the version comes from the proto package (buf lint requires one). */
  readonly httpPath: string;
  /** The method's key in the definition and in ApiService.handlers ('checkSanctions'). */
  readonly key: string;
  readonly streaming: Streaming;
  readonly definition: MethodDefinition<unknown, unknown>;
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
  readonly protoService: protobuf.Service;
  readonly protoMethod: protobuf.Method;
}

/**
 * The methods of `services`, each matched by its gRPC path to proto/. Throws
 * when a served method is not in proto/ (gen/ and proto/ disagree) or two
 * methods would share an HTTP path.
 */
export function apiMethods(root: protobuf.Root, services: readonly Pick<ApiService, 'definition'>[]): ApiMethod[] {
  const methods: ApiMethod[] = [];
  const byHttpPath = new Map<string, string>();
  for (const service of services) {
    for (const [key, definition] of Object.entries(service.definition) as [string, MethodDefinition<unknown, unknown>][]) {
      const [, servicePath, methodName] = /^\/([\w.]+)\/(\w+)$/.exec(definition.path) ?? [];
      const protoService = servicePath === undefined ? null : root.lookup(servicePath);
      const protoMethod = protoService instanceof protobuf.Service ? protoService.methods[methodName!] : undefined;
      if (!(protoService instanceof protobuf.Service) || !protoMethod?.resolvedRequestType || !protoMethod.resolvedResponseType) {
        throw new TongxingError(`${definition.path} is served but not described in proto/: gen/ is out of step with proto/ (run make generate)`);
      }
      const version = /^v\d+\w*$/.exec(protoService.parent?.name ?? '')?.[0];
      if (version === undefined) throw new TongxingError(`${definition.path}: its proto package must end in a version (tongxing.<area>.v1)`);
      const httpPath = `/${version}/${protoService.name}/${protoMethod.name}`;
      const clash = byHttpPath.get(httpPath);
      if (clash !== undefined) throw new TongxingError(`${definition.path} and ${clash} would both be served at ${httpPath}`);
      byHttpPath.set(httpPath, definition.path);
      methods.push({
        service: protoService.name,
        method: protoMethod.name,
        grpcPath: definition.path,
        httpPath,
        key,
        streaming: definition.requestStream ? (definition.responseStream ? 'bidi' : 'client') : definition.responseStream ? 'server' : 'unary',
        definition,
        request: protoMethod.resolvedRequestType,
        response: protoMethod.resolvedResponseType,
        protoService,
        protoMethod,
      });
    }
  }
  return methods;
}

/** A read-only method also answered by GET, its request fields taken from the path template and the query string. */
export interface QueryRoute {
  /** '/v1/entities/{uscc}': each {name} is a top-level request field. */
  readonly path: string;
  readonly method: ApiMethod;
}

/** Top-level request fields a GET may set: scalars and enums, not messages or lists. */
export function queryFields(type: protobuf.Type): protobuf.Field[] {
  return type.fieldsArray.filter((f) => !f.repeated && !f.map && !(f.resolvedType instanceof protobuf.Type));
}

/** Template parameter names of a route path ('/v1/entities/{uscc}' -> ['uscc']). */
export function pathParameters(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
}

type Schema = { [key: string]: unknown };

const schemaRef = (name: string) => `#/components/schemas/${name}`;
const typeName = (t: protobuf.ReflectionObject) => t.fullName.replace(/^\./, '');

const scalarSchemas: Record<string, Schema> = {
  string: { type: 'string' },
  bool: { type: 'boolean' },
  int32: { type: 'integer', format: 'int32' },
  sint32: { type: 'integer', format: 'int32' },
  sfixed32: { type: 'integer', format: 'int32' },
  uint32: { type: 'integer', format: 'uint32', minimum: 0, maximum: 4294967295 },
  fixed32: { type: 'integer', format: 'uint32', minimum: 0, maximum: 4294967295 },
  int64: { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' },
  sint64: { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' },
  sfixed64: { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' },
  uint64: { type: 'string', format: 'uint64', pattern: '^[0-9]+$' },
  fixed64: { type: 'string', format: 'uint64', pattern: '^[0-9]+$' },
  double: { type: 'number', format: 'double' },
  float: { type: 'number', format: 'float' },
  bytes: { type: 'string', format: 'byte', contentEncoding: 'base64' },
};

/** The schema of one value of a field (an element, for lists and maps). */
function valueSchema(field: protobuf.FieldBase): Schema {
  const resolved = field.resolvedType;
  if (resolved) return { $ref: schemaRef(typeName(resolved)) };
  const scalar = scalarSchemas[field.type];
  assert(scalar !== undefined, `no JSON schema for proto type ${field.type} of ${field.fullName}`);
  return { ...scalar };
}

function fieldSchema(field: protobuf.FieldBase): Schema {
  let schema: Schema;
  if (field instanceof protobuf.MapField) schema = { type: 'object', additionalProperties: valueSchema(field) };
  else if (field.repeated) schema = { type: 'array', items: valueSchema(field) };
  else schema = valueSchema(field);
  const notes = [field.comment, field.partOf && !field.partOf.name.startsWith('_') ? `One of ${oneofNames(field.partOf)}.` : undefined];
  const description = notes.filter(Boolean).join(' ');
  return description ? { ...schema, description } : schema;
}

const oneofNames = (oneof: protobuf.OneOf) => oneof.fieldsArray.map(jsonName).join(', ');

function messageSchema(type: protobuf.Type): Schema {
  const properties: Schema = {};
  for (const field of type.fieldsArray) properties[jsonName(field)] = fieldSchema(field);
  const oneofs = type.oneofsArray.filter((o) => !o.name.startsWith('_')).map((o) => `at most one of ${oneofNames(o)}`);
  const description = [type.comment, oneofs.length ? `Set ${oneofs.join('; ')}.` : undefined].filter(Boolean).join(' ');
  return { type: 'object', ...(description ? { description } : {}), properties, additionalProperties: false };
}

function enumSchema(type: protobuf.Enum): Schema {
  const values = Object.keys(type.values);
  const notes = values.filter((v) => type.comments[v]).map((v) => `${v}: ${type.comments[v]}`);
  const description = [type.comment, ...notes].filter(Boolean).join('\n');
  return { type: 'string', ...(description ? { description } : {}), enum: values };
}

/** Every message and enum the methods reach, by full proto name. */
function schemasOf(methods: readonly ApiMethod[]): Schema {
  const schemas: Schema = {};
  const visit = (t: protobuf.Type | protobuf.Enum) => {
    const name = typeName(t);
    if (name in schemas) return;
    if (t instanceof protobuf.Enum) {
      schemas[name] = enumSchema(t);
      return;
    }
    schemas[name] = messageSchema(t);
    for (const field of t.fieldsArray) if (field.resolvedType) visit(field.resolvedType);
  };
  for (const m of methods) {
    visit(m.request);
    visit(m.response);
  }
  return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** HTTP status of each error the API answers with; the body is always an Error. */
export const errorResponses: Readonly<Record<string, string>> = {
  400: 'Bad request: not JSON, an unknown field, a value of the wrong type, or a request the API refuses (INVALID_ARGUMENT); `field` names the field',
  401: 'No credential, or one this node does not know, has revoked or has let expire (UNAUTHENTICATED)',
  403: 'The client lacks the scope the operation needs, or a governance call lacks a valid approver signature (PERMISSION_DENIED)',
  421: 'The Host header is not one of the node’s names (api.names): refused against DNS rebinding (PERMISSION_DENIED)',
  404: 'No such method or route, or the record asked about is not held here (NOT_FOUND)',
  409: 'The record already exists, or the request conflicts with its state (ALREADY_EXISTS, FAILED_PRECONDITION)',
  413: 'Request body larger than httpRequestBytesMax, or its binary form larger than apiRequestBytesMax (RESOURCE_EXHAUSTED)',
  415: 'Content-Type is not application/json (INVALID_ARGUMENT)',
  429: 'A limit was exceeded (RESOURCE_EXHAUSTED)',
  500: 'A bug or a broken environment at the node (INTERNAL)',
  501: 'Not served over HTTP/JSON (client- or bidirectional-streaming methods: use gRPC), or not implemented at this node (UNIMPLEMENTED)',
  503: 'The node cannot answer now, e.g. it is stopping (UNAVAILABLE)',
};

const bodyErrorStatuses = Object.keys(errorResponses).filter((s) => s !== '501' && s !== '401' && s !== '403');
const queryErrorStatuses = bodyErrorStatuses.filter((s) => s !== '413' && s !== '415');

const jsonContent = (schema: Schema) => ({ 'application/json': { schema } });

function errorRefs(statuses: readonly string[]): Schema {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/Error${s}` }]));
}

function operation(m: ApiMethod, suffix: string, extra: Schema, errorStatuses: readonly string[]): Schema {
  const answer = { $ref: schemaRef(typeName(m.response)) };
  const over = m.streaming === 'unary' ? '' : ` (${m.streaming}-streaming)`;
  let responses: Schema;
  if (m.streaming === 'unary') {
    responses = { 200: { description: typeName(m.response), content: jsonContent(answer) }, ...errorRefs(errorStatuses) };
  } else if (m.streaming === 'server') {
    const line = { type: 'object', properties: { result: answer, error: { $ref: schemaRef('Error') } }, additionalProperties: false };
    responses = {
      200: {
        description: `A stream of ${typeName(m.response)}: one JSON object per line, {"result": ...} for each message and, if the stream fails after it started, a last {"error": ...}`,
        content: { 'application/x-ndjson': { schema: line } },
      },
      ...errorRefs(errorStatuses),
    };
  } else {
    responses = errorRefs(['501']);
  }
  const rule = methodRules[m.grpcPath];
  const scope = rule ? [rule.scope, ...(rule.approval ? ['and an approver signature (x-tongxing-approval)'] : [])].join(' ') : 'none: served to no client';
  return {
    operationId: `${m.service}_${m.method}${suffix}`,
    tags: [m.service],
    summary: `${m.method}${over} (gRPC ${m.grpcPath}; scope ${scope})`,
    ...(m.protoMethod.comment ? { description: m.protoMethod.comment } : {}),
    ...(rule ? { 'x-tongxing-scope': rule.scope, security: [{ mutualTls: [rule.scope] }, { bearer: [rule.scope] }] } : {}),
    ...extra,
    // Every served operation is guarded; one served nowhere over HTTP answers 501 before that.
    responses: '501' in responses && Object.keys(responses).length === 1 ? responses : { ...responses, ...errorRefs(['401', '403']) },
  };
}

export interface OpenApiInit {
  readonly methods: readonly ApiMethod[];
  readonly queryRoutes: readonly QueryRoute[];
  /** info.version: the node's package version. */
  readonly version: string;
}

/**
 * The OpenAPI 3.1 description of the HTTP/JSON API: one POST per method of
 * every served service, the GET routes, /healthz and /openapi.json, a schema
 * for every message and enum the methods use (proto3 JSON names), and the
 * error body.
 */
export function openApiDocument(init: OpenApiInit): Schema {
  const paths: Schema = {};
  for (const m of init.methods) {
    paths[m.httpPath] = {
      post: operation(
        m,
        '',
        { requestBody: { required: false, description: 'An empty body is an empty request.', content: jsonContent({ $ref: schemaRef(typeName(m.request)) }) } },
        bodyErrorStatuses,
      ),
    };
  }
  for (const route of init.queryRoutes) {
    const m = route.method;
    const inPath = new Set(pathParameters(route.path));
    const parameters = queryFields(m.request).map((field) => {
      const { description, ...schema } = fieldSchema(field);
      const name = jsonName(field);
      return {
        name,
        in: inPath.has(name) ? 'path' : 'query',
        required: inPath.has(name),
        ...(description ? { description } : {}),
        schema,
      };
    });
    paths[route.path] = { get: operation(m, '_Get', { parameters }, queryErrorStatuses) };
  }
  paths['/healthz'] = {
    get: {
      operationId: 'healthz',
      summary: 'Liveness: the node answers HTTP',
      responses: {
        200: { description: 'Serving', content: jsonContent({ type: 'object', properties: { status: { const: 'ok' } }, required: ['status'] }) },
        503: { $ref: '#/components/responses/Error503' },
      },
    },
  };
  paths['/openapi.json'] = {
    get: { operationId: 'openapi', summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: jsonContent({ type: 'object' }) } } },
  };

  const serviceTags = new Map<string, string | null>();
  for (const m of init.methods) serviceTags.set(m.service, m.protoService.comment);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tongxing client API (HTTP/JSON)',
      version: init.version,
      description:
        'The client API of one Tongxing node: the same services and handlers as its gRPC client API, ' +
        'with requests and answers in the proto3 JSON mapping (lowerCamel names, 64-bit integers as decimal strings, ' +
        'bytes as base64, enums by name). HTTPS; every call presents a client certificate the node pins (mutual TLS) ' +
        'or a bearer token, and needs the scope its operation names (x-tongxing-scope).',
    },
    tags: [...serviceTags].map(([name, description]) => ({ name, ...(description ? { description } : {}) })),
    paths,
    components: {
      securitySchemes: {
        mutualTls: { type: 'mutualTLS', description: 'A client certificate registered with `tongxing access grant` (pinned by its SHA-256).' },
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from `tongxing access grant --token`; the node keeps only its hash.' },
      },
      schemas: {
        ...schemasOf(init.methods),
        Error: {
          type: 'object',
          description: 'Every refusal: the gRPC status name, a message, and for invalid input the field (dotted JSON path).',
          properties: {
            code: { type: 'string', description: 'gRPC status name, e.g. INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS' },
            message: { type: 'string' },
            field: { type: 'string', description: 'The field at fault, e.g. profile.uscc' },
          },
          required: ['code', 'message'],
          additionalProperties: false,
        },
      },
      responses: Object.fromEntries(
        Object.entries(errorResponses).map(([status, description]) => [`Error${status}`, { description, content: jsonContent({ $ref: schemaRef('Error') }) }]),
      ),
    },
  };
}

/** The version in package.json beside proto/, for info.version. */
export function packageVersion(dir = protoDirectory()): string {
  try {
    const version: unknown = (JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
