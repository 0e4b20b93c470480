import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MethodDefinition } from '@grpc/grpc-js';
import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescMethod, type DescOneof, type DescService } from '@bufbuild/protobuf';
import { methodRules } from '../access/scopes.js';
import { TongxingError } from '../../federation/errors.js';
import type { ProtoSchema } from './schema.js';
import type { ApiService } from './service.js';

// What proto/ says about the client API, from the generated descriptor set
// (schema.ts): the message types behind each served method (the HTTP/JSON
// gateway converts proto3 JSON with them, http.ts) and the OpenAPI 3.1
// description built from the same descriptors and their comments.
//
// Built at startup rather than committed as a generated file: the document
// and the gateway then come from one schema and cannot disagree, a service
// added to apiServices() is described with no further step, and building
// takes milliseconds. A method served from gen/ but missing from the
// descriptor set stops startup.

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
  readonly request: DescMessage;
  readonly response: DescMessage;
  readonly protoService: DescService;
  readonly protoMethod: DescMethod;
}

/**
 * The methods of `services`, each matched by its gRPC path to the schema.
 * Throws when a served method is not in it (gen/ and the descriptor set
 * disagree) or two methods would share an HTTP path.
 */
export function apiMethods(schema: ProtoSchema, services: readonly Pick<ApiService, 'definition'>[]): ApiMethod[] {
  const methods: ApiMethod[] = [];
  const byHttpPath = new Map<string, string>();
  for (const service of services) {
    for (const [key, definition] of Object.entries(service.definition) as [string, MethodDefinition<unknown, unknown>][]) {
      const [, servicePath, methodName] = /^\/([\w.]+)\/(\w+)$/.exec(definition.path) ?? [];
      const protoService = servicePath === undefined ? undefined : schema.registry.getService(servicePath);
      const protoMethod = protoService?.methods.find((m) => m.name === methodName);
      if (!protoService || !protoMethod) {
        throw new TongxingError(`${definition.path} is served but not described in gen/descriptor-set.ts: gen/ is out of step with proto/ (run make generate)`);
      }
      const version = /^v\d+\w*$/.exec(protoService.file.proto.package.split('.').at(-1) ?? '')?.[0];
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
        request: protoMethod.input,
        response: protoMethod.output,
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
export function queryFields(type: DescMessage): DescField[] {
  return type.fields.filter((f) => f.fieldKind === 'scalar' || f.fieldKind === 'enum');
}

/** Template parameter names of a route path ('/v1/entities/{uscc}' -> ['uscc']). */
export function pathParameters(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
}

type Schema = { [key: string]: unknown };

const schemaRef = (name: string) => `#/components/schemas/${name}`;
const typeName = (t: DescMessage | DescEnum) => t.typeName;

const int64Schema = { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' };
const uint64Schema = { type: 'string', format: 'uint64', pattern: '^[0-9]+$' };
const uint32Schema = { type: 'integer', format: 'uint32', minimum: 0, maximum: 4294967295 };
const int32Schema = { type: 'integer', format: 'int32' };
const scalarSchemas: Readonly<Record<ScalarType, Schema>> = {
  [ScalarType.STRING]: { type: 'string' },
  [ScalarType.BOOL]: { type: 'boolean' },
  [ScalarType.INT32]: int32Schema,
  [ScalarType.SINT32]: int32Schema,
  [ScalarType.SFIXED32]: int32Schema,
  [ScalarType.UINT32]: uint32Schema,
  [ScalarType.FIXED32]: uint32Schema,
  [ScalarType.INT64]: int64Schema,
  [ScalarType.SINT64]: int64Schema,
  [ScalarType.SFIXED64]: int64Schema,
  [ScalarType.UINT64]: uint64Schema,
  [ScalarType.FIXED64]: uint64Schema,
  [ScalarType.DOUBLE]: { type: 'number', format: 'double' },
  [ScalarType.FLOAT]: { type: 'number', format: 'float' },
  [ScalarType.BYTES]: { type: 'string', format: 'byte', contentEncoding: 'base64' },
};

/** The schema of one value of a field (an element, for lists and maps). */
function valueSchema(field: DescField): Schema {
  const type = field.message ?? field.enum;
  if (type) return { $ref: schemaRef(typeName(type)) };
  return { ...scalarSchemas[field.scalar!] };
}

function fieldSchema(schema: ProtoSchema, field: DescField): Schema {
  let value: Schema;
  if (field.fieldKind === 'map') value = { type: 'object', additionalProperties: valueSchema(field) };
  else if (field.fieldKind === 'list') value = { type: 'array', items: valueSchema(field) };
  else value = valueSchema(field);
  const notes = [schema.comment(field), field.oneof ? `One of ${oneofNames(field.oneof)}.` : undefined];
  const description = notes.filter(Boolean).join(' ');
  return description ? { ...value, description } : value;
}

const oneofNames = (oneof: DescOneof) => oneof.fields.map((f) => f.jsonName).join(', ');

function messageSchema(schema: ProtoSchema, type: DescMessage): Schema {
  const properties: Schema = {};
  for (const field of type.fields) properties[field.jsonName] = fieldSchema(schema, field);
  const oneofs = type.oneofs.map((o) => `at most one of ${oneofNames(o)}`);
  const description = [schema.comment(type), oneofs.length ? `Set ${oneofs.join('; ')}.` : undefined].filter(Boolean).join(' ');
  return { type: 'object', ...(description ? { description } : {}), properties, additionalProperties: false };
}

function enumSchema(schema: ProtoSchema, type: DescEnum): Schema {
  const notes = type.values.flatMap((v) => {
    const comment = schema.comment(v);
    return comment ? [`${v.name}: ${comment}`] : [];
  });
  const description = [schema.comment(type), ...notes].filter(Boolean).join('\n');
  return { type: 'string', ...(description ? { description } : {}), enum: type.values.map((v) => v.name) };
}

/** Every message and enum the methods reach, by full proto name. */
function schemasOf(schema: ProtoSchema, methods: readonly ApiMethod[]): Schema {
  const schemas: Schema = {};
  const visit = (t: DescMessage | DescEnum) => {
    const name = typeName(t);
    if (name in schemas) return;
    if (t.kind === 'enum') {
      schemas[name] = enumSchema(schema, t);
      return;
    }
    schemas[name] = messageSchema(schema, t);
    for (const field of t.fields) {
      const type = field.message ?? field.enum;
      if (type) visit(type);
    }
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

function operation(schema: ProtoSchema, m: ApiMethod, suffix: string, extra: Schema, errorStatuses: readonly string[]): Schema {
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
  const description = schema.comment(m.protoMethod);
  const scope = rule ? [rule.scope, ...(rule.approval ? ['and an approver signature (x-tongxing-approval)'] : [])].join(' ') : 'none: served to no client';
  return {
    operationId: `${m.service}_${m.method}${suffix}`,
    tags: [m.service],
    summary: `${m.method}${over} (gRPC ${m.grpcPath}; scope ${scope})`,
    ...(description ? { description } : {}),
    ...(rule ? { 'x-tongxing-scope': rule.scope, security: [{ mutualTls: [rule.scope] }, { bearer: [rule.scope] }] } : {}),
    ...extra,
    // Every served operation is guarded; one served nowhere over HTTP answers 501 before that.
    responses: '501' in responses && Object.keys(responses).length === 1 ? responses : { ...responses, ...errorRefs(['401', '403']) },
  };
}

export interface OpenApiInit {
  /** Where the methods' types come from, for their comments. */
  readonly schema: ProtoSchema;
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
        init.schema,
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
      const { description, ...schema } = fieldSchema(init.schema, field);
      const name = field.jsonName;
      return {
        name,
        in: inPath.has(name) ? 'path' : 'query',
        required: inPath.has(name),
        ...(description ? { description } : {}),
        schema,
      };
    });
    paths[route.path] = { get: operation(init.schema, m, '_Get', { parameters }, queryErrorStatuses) };
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

  const serviceTags = new Map<string, string | undefined>();
  for (const m of init.methods) serviceTags.set(m.service, init.schema.comment(m.protoService));
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
        ...schemasOf(init.schema, init.methods),
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

/** The version in the package.json above this module (from node/api/ and dist/node/api/ alike), for info.version. */
export function packageVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const version: unknown = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  }
  return '0.0.0';
}
