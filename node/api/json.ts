import { fromBinary, ScalarType, toBinary, toJson, type DescEnum, type DescField, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { reflect, type ReflectList, type ReflectMap, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { ValidationError } from '../../federation/errors.js';
import { jsonNestingDepthMax } from '../limits.js';

// proto3 JSON <-> the binary encoding, over the generated descriptors
// (schema.ts). Answers are written by @bufbuild/protobuf's toJson, which
// passes the protobuf conformance suite. Requests are read here, because no
// generated codec reads them as strictly as a hostile caller needs: ts-proto's
// fromJSON coerces types and ignores unknown fields, @bufbuild/protobuf's
// fromJson names neither the JSON path nor stops at a depth.
//
// Reading (proto3 JSON spec, "parsers reject unknown fields" mode): both the
// lowerCamel (or json_name) and the proto name are accepted; null is the
// default; 64-bit integers as decimal strings (or numbers within 2^53); bytes
// as base64 or base64url; enums by name (or number); a lone surrogate in a
// string as U+FFFD (it has no UTF-8 encoding). A ValidationError names
// the field as a dotted JSON path (`sanction.scope[2]`, `byName["x"].text`).
// Writing emits every field that has no presence (defaults included, so
// `found: false` is visible), and messages and oneof members only when set.
//
// The JSON is hostile: its keys are looked up in Maps or with Object.hasOwn,
// never as properties of a plain object (a key "constructor" or "__proto__"
// would find Object.prototype's). Reading recurses only through messages and
// stops at jsonNestingDepthMax; a deep value where a scalar belongs is refused
// without looking inside it.

/** `message`, proto3 JSON, as its binary encoding; throws ValidationError naming the field. `json` must be a JSON object. */
export function binaryFromJson(message: DescMessage, json: object): Uint8Array {
  return toBinary(message, readMessage(message, json, '', 1).message);
}

/** The binary encoding of `message` as proto3 JSON, every field without presence written. */
export function jsonFromBinary(message: DescMessage, bytes: Uint8Array): JsonValue {
  return toJson(message, fromBinary(message, bytes), { alwaysEmitImplicit: true });
}

/** A JSON value for an error message, in constant depth: scalars shown (strings cut to 60 characters), objects and arrays only named. */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `string ${JSON.stringify(value.slice(0, 60))}${value.length > 60 ? '...' : ''}`;
  return `${typeof value} ${String(value)}`;
}

/** A message's fields by JSON key: the JSON name and the proto name, which wins a clash. Built once per type. */
const fieldsByKey = new WeakMap<DescMessage, ReadonlyMap<string, DescField>>();
function fieldOf(message: DescMessage, key: string): DescField | undefined {
  let fields = fieldsByKey.get(message);
  if (fields === undefined) {
    fields = new Map([...message.fields.map((f) => [f.jsonName, f] as const), ...message.fields.map((f) => [f.name, f] as const)]);
    fieldsByKey.set(message, fields);
  }
  return fields.get(key);
}

/** An enum's numbers by value name, in a Map: a name like "constructor" is no value. */
const numbersByName = new WeakMap<DescEnum, ReadonlyMap<string, number>>();
function enumNumber(desc: DescEnum, name: string): number | undefined {
  let numbers = numbersByName.get(desc);
  if (numbers === undefined) {
    numbers = new Map(desc.values.map((v) => [v.name, v.number]));
    numbersByName.set(desc, numbers);
  }
  return numbers.get(name);
}

const int32Range = [-(2n ** 31n), 2n ** 31n - 1n] as const;
const uint32Range = [0n, 2n ** 32n - 1n] as const;
const int64Range = [-(2n ** 63n), 2n ** 63n - 1n] as const;
const uint64Range = [0n, 2n ** 64n - 1n] as const;
/** Each integer type: its proto name (for messages), range, and whether it is 64-bit (a bigint, a decimal string in JSON). */
const integers: ReadonlyMap<ScalarType, { readonly name: string; readonly range: readonly [bigint, bigint]; readonly wide: boolean }> = new Map([
  [ScalarType.INT32, { name: 'int32', range: int32Range, wide: false }],
  [ScalarType.SINT32, { name: 'sint32', range: int32Range, wide: false }],
  [ScalarType.SFIXED32, { name: 'sfixed32', range: int32Range, wide: false }],
  [ScalarType.UINT32, { name: 'uint32', range: uint32Range, wide: false }],
  [ScalarType.FIXED32, { name: 'fixed32', range: uint32Range, wide: false }],
  [ScalarType.INT64, { name: 'int64', range: int64Range, wide: true }],
  [ScalarType.SINT64, { name: 'sint64', range: int64Range, wide: true }],
  [ScalarType.SFIXED64, { name: 'sfixed64', range: int64Range, wide: true }],
  [ScalarType.UINT64, { name: 'uint64', range: uint64Range, wide: true }],
  [ScalarType.FIXED64, { name: 'fixed64', range: uint64Range, wide: true }],
]);

/**
 * `text` with each lone surrogate (JSON allows "\\ud800" alone) replaced by U+FFFD, so that it
 * has a UTF-8 encoding, as a proto string must: accepted as before, never encoded as invalid UTF-8.
 */
function wellFormed(text: string): string {
  return /\p{Cs}/u.test(text) ? text.replace(/\p{Cs}/gu, '\ufffd') : text;
}

function readInteger(type: ScalarType, value: unknown, field: string): number | bigint {
  const { name, range, wide } = integers.get(type)!;
  const [min, max] = range;
  let n: bigint;
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw new ValidationError(field, `${value} is beyond 2^53 as a JSON number: send it as a decimal string`);
    n = BigInt(value);
  } else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) {
    n = BigInt(value);
  } else {
    throw new ValidationError(field, `must be an integer${wide ? ' (a decimal string)' : ''}, not ${describeJson(value)}`);
  }
  if (n < min || n > max) throw new ValidationError(field, `${n} is out of range for ${name} (${min} .. ${max})`);
  return wide ? n : Number(n);
}

function readScalar(type: ScalarType, value: unknown, path: string): unknown {
  switch (type) {
    case ScalarType.STRING:
      if (typeof value !== 'string') throw new ValidationError(path, `must be a string, not ${describeJson(value)}`);
      return wellFormed(value);
    case ScalarType.BOOL:
      if (typeof value !== 'boolean') throw new ValidationError(path, `must be true or false, not ${describeJson(value)}`);
      return value;
    case ScalarType.BYTES:
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
        throw new ValidationError(path, `must be base64 (or base64url), not ${describeJson(value)}`);
      }
      return Buffer.from(value, 'base64');
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      const n = typeof value === 'string' && /^(NaN|-?Infinity|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number') throw new ValidationError(path, `must be a number, not ${describeJson(value)}`);
      if (type === ScalarType.FLOAT && Number.isFinite(n) && Math.abs(n) > 3.4028234663852886e38) throw new ValidationError(path, `${n} is out of range for float`);
      return n;
    }
    default:
      return readInteger(type, value, path);
  }
}

/** One value of `field` (an element, for lists and maps). `depth`: JSON objects and arrays around `value`, counting its own. */
function readValue(field: DescField, value: unknown, path: string, depth: number): unknown {
  if (field.message) return readMessage(field.message, value, path, depth);
  if (field.enum) {
    const number = typeof value === 'string' ? enumNumber(field.enum, value) : undefined;
    if (number !== undefined) return number;
    if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 31) return value;
    throw new ValidationError(path, `must be one of ${field.enum.values.map((v) => v.name).join(', ')}, not ${describeJson(value)}`);
  }
  return readScalar(field.scalar!, value, path);
}

/** Reads `value` into `field` of `message`. `depth` as for readValue. */
function readField(message: ReflectMessage, field: DescField, value: unknown, path: string, depth: number): void {
  if (field.fieldKind === 'map') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(path, `must be a JSON object (a map), not ${describeJson(value)}`);
    const map = message.get(field) as ReflectMap;
    for (const [key, item] of Object.entries(value)) {
      const at = `${path}[${JSON.stringify(key)}]`;
      // Maps are records on the message, and the handler's decoder builds them on plain objects too, where this key would be lost.
      if (key === '__proto__') throw new ValidationError(at, 'map key "__proto__" is refused (it names the prototype of a JavaScript object, not a key)');
      let mapKey: unknown = wellFormed(key);
      if (field.mapKey === ScalarType.BOOL) {
        if (key !== 'true' && key !== 'false') throw new ValidationError(at, 'map key must be true or false');
        mapKey = key === 'true';
      } else if (field.mapKey !== ScalarType.STRING) {
        mapKey = readInteger(field.mapKey, key, at);
      }
      if (item === null) throw new ValidationError(at, 'must not be null');
      map.set(mapKey, readValue(field, item, at, depth + 1));
    }
    return;
  }
  if (field.fieldKind === 'list') {
    if (!Array.isArray(value)) throw new ValidationError(path, `must be a JSON array, not ${describeJson(value)}`);
    const list = message.get(field) as ReflectList;
    value.forEach((item, i) => {
      if (item === null) throw new ValidationError(`${path}[${i}]`, 'must not be null');
      list.add(readValue(field, item, `${path}[${i}]`, depth + 1));
    });
    return;
  }
  message.set(field, readValue(field, value, path, depth));
}

/**
 * proto3 JSON to a `desc` message; throws ValidationError naming the field (dotted JSON path).
 * `depth`: JSON objects and arrays around `value`, counting its own (1 for the request body); past jsonNestingDepthMax
 * it is refused before anything inside is read, so the recursion is bounded whatever the request.
 */
function readMessage(desc: DescMessage, value: unknown, path: string, depth: number): ReflectMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(path, `must be a JSON object, not ${describeJson(value)}`);
  if (depth > jsonNestingDepthMax) throw new ValidationError(path, `nested deeper than ${jsonNestingDepthMax} JSON objects and arrays (jsonNestingDepthMax)`);
  const at = (name: string) => (path === '' ? name : `${path}.${name}`);
  const message = reflect(desc);
  const seen = new Set<DescField>();
  const oneofSet = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = fieldOf(desc, key);
    if (!field) throw new ValidationError(at(key), `unknown field of ${desc.name}`);
    const name = field.jsonName;
    if (seen.has(field)) throw new ValidationError(at(name), `given twice (as ${field.name} and ${name})`);
    seen.add(field);
    if (item === null) continue;
    if (field.oneof) {
      const other = oneofSet.get(field.oneof.name);
      if (other !== undefined) throw new ValidationError(at(name), `set only one of ${other} and ${name} (oneof ${field.oneof.name})`);
      oneofSet.set(field.oneof.name, name);
    }
    readField(message, field, item, at(name), depth + 1);
  }
  return message;
}
