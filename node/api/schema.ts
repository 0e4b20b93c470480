import { createFileRegistry, fromBinary, type DescEnum, type DescEnumValue, type DescField, type DescMessage, type DescMethod, type DescService, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { descriptorSetBase64 } from '../../gen/descriptor-set.js';

// proto/ at run time, as `buf generate` wrote it (gen/descriptor-set.ts):
// every message, enum and service with its proto comments, read through
// @bufbuild/protobuf's reflection, the runtime ts-proto's generated code
// already uses. The HTTP/JSON transcoder (json.ts), the OpenAPI description
// (openapi.ts) and gRPC server reflection (grpc-standard.ts) all read this
// one set, so none of them can disagree with gen/ and nothing reads proto/.

type Described = DescMessage | DescField | DescEnum | DescEnumValue | DescService | DescMethod;

/** A decoded descriptor set: its types, its proto comments, and the bytes (gRPC reflection serves them). */
export interface ProtoSchema {
  readonly registry: FileRegistry;
  /** The serialized google.protobuf.FileDescriptorSet. */
  readonly bytes: Buffer;
  /** The comment on a definition, as written in its .proto file (the leading one, else the trailing one); undefined when none. */
  comment(desc: Described): string | undefined;
}

const schemas = new Map<string, ProtoSchema>();

/** The schema in a descriptor set written by scripts/protoc-gen-descriptor-set.ts (base64). Decoded once per set. */
export function protoSchema(base64: string): ProtoSchema {
  const cached = schemas.get(base64);
  if (cached) return cached;
  const bytes = Buffer.from(base64, 'base64');
  const set = fromBinary(FileDescriptorSetSchema, bytes);
  const comments = new WeakMap<object, string>();
  for (const file of set.file) commentsOf(file, comments);
  const schema: ProtoSchema = { registry: createFileRegistry(set), bytes, comment: (desc) => comments.get(desc.proto) };
  schemas.set(base64, schema);
  return schema;
}

/** The client API's schema: proto/ as gen/descriptor-set.ts holds it. */
export const apiSchema = (): ProtoSchema => protoSchema(descriptorSetBase64);

/**
 * Records in `into` the comment of every definition of `file`, keyed by its
 * descriptor proto (DescMessage.proto and the like are those same objects).
 * Source locations are addressed by path (descriptor.proto, SourceCodeInfo):
 * message_type 4, nested_type 3, field 2, enum_type 5 (nested: 4), value 2,
 * service 6, method 2.
 */
function commentsOf(file: FileDescriptorProto, into: WeakMap<object, string>): void {
  const byPath = new Map<string, string>();
  for (const location of file.sourceCodeInfo?.location ?? []) {
    const text = commentText(location.leadingComments || location.trailingComments);
    if (text) byPath.set(location.path.join('.'), text);
  }
  const note = (target: object, path: readonly number[]) => {
    const text = byPath.get(path.join('.'));
    if (text !== undefined) into.set(target, text);
  };
  const enums = (list: FileDescriptorProto['enumType'], path: readonly number[]) =>
    list.forEach((e, i) => {
      note(e, [...path, i]);
      e.value.forEach((v, j) => note(v, [...path, i, 2, j]));
    });
  const messages = (list: FileDescriptorProto['messageType'], path: readonly number[]) =>
    list.forEach((m, i) => {
      const at = [...path, i];
      note(m, at);
      m.field.forEach((f, j) => note(f, [...at, 2, j]));
      messages(m.nestedType, [...at, 3]);
      enums(m.enumType, [...at, 4]);
    });
  messages(file.messageType, [4]);
  enums(file.enumType, [5]);
  file.service.forEach((s, i) => {
    note(s, [6, i]);
    s.method.forEach((m, j) => note(m, [6, i, 2, j]));
  });
}

/** A comment as the reader sees it: the one space after each `//` dropped, outer blank space trimmed. */
function commentText(raw: string): string {
  return raw
    .split('\n')
    .map((line) => line.replace(/^ /, ''))
    .join('\n')
    .trim();
}
