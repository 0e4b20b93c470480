import { readFileSync } from 'node:fs';
import { GenesisBody, Member, MemberAdmission, SignedSnapshot, type Genesis } from '../gen/tongxing/records/v1/records.js';
import { nodeIdOf } from '../federation/crypto/sm2.js';
import { EncodingError, ValidationError } from '../federation/errors.js';
import { allianceIdOf, verifyGenesis, type VerifiedGenesis } from '../federation/governance/genesis.js';
import { verifySnapshot, type VerifiedSnapshot } from '../federation/governance/snapshot.js';
import { validateMember, validateMemberAdmission } from '../federation/records/validate.js';

// The files alliance admins pass around, as JSON: a genesis (drafted, signed
// by each founder in turn, then final), a member description (what a founder
// contributes to the draft), a join request (what a new city sends the
// admins) and a membership snapshot (what a new city may start from). Each names its format, so a file of one kind cannot be mistaken
// for another. The genesis body travels as the exact bytes that were signed;
// `description` repeats it readably and is never trusted.

export const genesisFormat = 'tongxing-genesis/1';
export const memberFormat = 'tongxing-member/1';
export const joinFormat = 'tongxing-join/1';
export const snapshotFormat = 'tongxing-snapshot/1';

interface GenesisJson {
  format: string;
  allianceId: string;
  body: string;
  signatures: Array<{ nodeId: string; city?: string; signature: string }>;
  description?: unknown;
}

function readJson(path: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new EncodingError(`${what} ${path}: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EncodingError(`${what} ${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function requireFormat(doc: Record<string, unknown>, format: string, path: string): void {
  if (doc.format !== format) throw new ValidationError('format', `${path} is ${JSON.stringify(doc.format ?? 'no Tongxing file')}, expected "${format}"`);
}

export function genesisToJson(genesis: Genesis): string {
  const body = GenesisBody.decode(genesis.body);
  const cities = new Map(body.founders.map((f) => [nodeIdOf(f.publicKey), f.city]));
  const doc: GenesisJson = {
    format: genesisFormat,
    allianceId: allianceIdOf(genesis.body).toString('hex'),
    body: Buffer.from(genesis.body).toString('base64'),
    signatures: genesis.signatures.map((s) => ({
      nodeId: Buffer.from(s.nodeId).toString('hex'),
      city: cities.get(Buffer.from(s.nodeId).toString('hex')),
      signature: Buffer.from(s.signature).toString('base64'),
    })),
    description: GenesisBody.toJSON(body),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** A genesis file as written, signatures not checked (see loadGenesis). */
export function readGenesisFile(path: string): Genesis {
  const doc = readJson(path, 'genesis');
  requireFormat(doc, genesisFormat, path);
  if (typeof doc.body !== 'string') throw new ValidationError('body', `${path}: missing`);
  if (!Array.isArray(doc.signatures)) throw new ValidationError('signatures', `${path}: must be a list`);
  const body = Buffer.from(doc.body, 'base64');
  if (typeof doc.allianceId === 'string' && doc.allianceId !== allianceIdOf(body).toString('hex')) {
    throw new ValidationError('allianceId', `${path}: ${doc.allianceId.slice(0, 12)}… is not the SM3 of the body (the body was changed)`);
  }
  return {
    body,
    signatures: (doc.signatures as GenesisJson['signatures']).map((s, i) => {
      if (typeof s?.nodeId !== 'string' || typeof s.signature !== 'string') throw new ValidationError(`signatures[${i}]`, 'needs nodeId (hex) and signature (base64)');
      return { nodeId: Buffer.from(s.nodeId, 'hex'), signature: Buffer.from(s.signature, 'base64') };
    }),
  };
}

export function snapshotToJson(signed: SignedSnapshot): string {
  const snapshot = verifySnapshot(signed);
  const description = { epoch: snapshot.epoch, signer: snapshot.signer.city, takenAtMs: snapshot.takenAtMs, members: snapshot.members.map((m) => ({ city: m.city, nodeId: m.nodeId, status: m.status })) };
  return JSON.stringify({ format: snapshotFormat, allianceId: snapshot.genesis.allianceId.toString('hex'), snapshot: Buffer.from(SignedSnapshot.encode(signed).finish()).toString('base64'), description }, null, 2) + '\n';
}

/**
 * What a node starts from (its config's `alliance:`): a final genesis, or a
 * member's signed membership snapshot, which holds the genesis too.
 */
export function loadAlliance(path: string): VerifiedGenesis & { genesis: Genesis; snapshot?: VerifiedSnapshot } {
  const doc = readJson(path, 'alliance file');
  if (doc.format !== snapshotFormat) return loadGenesis(path);
  if (typeof doc.snapshot !== 'string') throw new ValidationError('snapshot', `${path}: missing`);
  try {
    const snapshot = verifySnapshot(SignedSnapshot.decode(Buffer.from(doc.snapshot, 'base64')));
    return { ...snapshot.genesis, snapshot };
  } catch (error) {
    if (error instanceof Error) error.message = `${path}: ${error.message}`;
    throw error;
  }
}

/** A final genesis: body valid and signed by every founder. */
export function loadGenesis(path: string): VerifiedGenesis & { genesis: Genesis } {
  const genesis = readGenesisFile(path);
  try {
    return { ...verifyGenesis(genesis), genesis };
  } catch (error) {
    if (error instanceof Error) error.message = `${path}: ${error.message}`;
    throw error;
  }
}

export function memberToJson(member: Member): string {
  return JSON.stringify({ format: memberFormat, member: Member.toJSON(member) }, null, 2) + '\n';
}

export function readMemberFile(path: string): Member {
  const doc = readJson(path, 'member file');
  requireFormat(doc, memberFormat, path);
  const member = Member.fromJSON(doc.member);
  validateMember(member, 'member');
  return member;
}

export function joinRequestToJson(allianceId: Uint8Array, admission: MemberAdmission): string {
  return JSON.stringify({ format: joinFormat, allianceId: Buffer.from(allianceId).toString('hex'), admission: MemberAdmission.toJSON(admission) }, null, 2) + '\n';
}

export function readJoinRequest(path: string): { allianceId: string; admission: MemberAdmission } {
  const doc = readJson(path, 'join request');
  requireFormat(doc, joinFormat, path);
  if (typeof doc.allianceId !== 'string' || !/^[0-9a-f]{64}$/.test(doc.allianceId)) throw new ValidationError('allianceId', `${path}: must be 64 hex digits`);
  let admission: MemberAdmission;
  try {
    admission = MemberAdmission.fromJSON(doc.admission);
  } catch (error) {
    throw new ValidationError('admission', `${path}: ${(error as Error).message}`);
  }
  validateMemberAdmission(admission, 'admission');
  return { allianceId: doc.allianceId, admission };
}
